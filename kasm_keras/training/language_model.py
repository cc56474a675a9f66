"""Word-level language modelling as a training task: the paper's Table 3 experiment, AWD-LSTM
(Merity et al. 2017) with its LSTMs replaced by kernel cells.

The recipe is AWD-LSTM's: truncated BPTT over the corpus cut into `batch_size` rows, with the
states carried from batch to batch (reset at each epoch) and a window length drawn per batch
(70 with probability 0.95, else 35, plus N(0, 5) noise, at least 5); the learning rate scaled
by length / bptt; locked dropout on the inputs, between layers and on the outputs; embedding
dropout; weight-drop on the recurrent kernels; AR and TAR on the last layer's outputs; gradients
clipped to a global norm; SGD that switches to averaged SGD when the validation loss stops
improving (`AveragedSGD`'s non-monotonic trigger, checked once per validation); validation
perplexity picks the best (averaged) model, which is evaluated once on the test split with
batch size 1.

`RECIPES` holds the paper's settings ("awd_lstm", 24M parameters, 500 GPU epochs) and the
smaller ones trained on a 2-core CPU for the zoo.
"""

import dataclasses
import math
import os

import keras
import numpy as np
import tensorflow as tf

from kasm_keras.data import language_model_data
from kasm_keras.layers.variants import VARIANTS, get_variant
from kasm_keras.models.kernel_lm import (
    KernelCausalLM, KernelCausalLMPreprocessor, KernelLMBackbone, KernelLMTokenizer)
from kasm_keras.regularizers import activation_regularization, temporal_activation_regularization
from kasm_keras.training import precision
from kasm_keras.training.averaged_sgd import AveragedSGD
from kasm_keras.training.loop import LoopConfig, Trainer
from kasm_keras.training.task import (
    Task, TrainingError, check_vocabulary_file, write_vocabulary_file)
from kasm_keras.utils import files

DATASETS = tuple(language_model_data.CORPORA)
FIXED_SETTINGS = ("model", "dataset", "num_layers", "hidden_dim", "embedding_dim", "layer_norm",
                  "batch_size", "bptt", "seed", "policy", "dropout", "hidden_dropout",
                  "input_dropout", "embedding_dropout", "weight_dropout", "alpha", "beta",
                  "weight_decay", "nonmono")
# AWD-LSTM draws a window length of `bptt` (probability 1 - SHORT_WINDOW_CHANCE) or `bptt / 2`,
# plus Gaussian noise of this standard deviation, and never shorter than MIN_WINDOW.
SHORT_WINDOW_CHANCE = 0.05
WINDOW_NOISE = 5.0
MIN_WINDOW = 5

RECIPES = {
    # The paper's (AWD-LSTM's PTB command): 24M parameters, 500 epochs on a GPU.
    "awd_lstm": dict(num_layers=3, hidden_dim=1150, embedding_dim=400, dropout=0.4,
                     hidden_dropout=0.25, input_dropout=0.4, embedding_dropout=0.1,
                     weight_dropout=0.5, batch_size=20, bptt=70, learning_rate=30.0,
                     epochs=500.0),
    # Sized for a 2-core CPU (`tools/benchmark.py --language_models` times it): a third of the
    # parameters, lighter regularisation for 30 epochs instead of 500, and a learning rate of
    # 20, since RKM-LSTM at 650 units diverged within 100 steps at 30 (measured). Averaging
    # starts after epoch 10 at the latest: LSTM's validation perplexity crept down 224, 199, 195
    # over epochs 4-6 at a constant rate, where the trigger (5 epochs) may not fire in time.
    "cpu": dict(num_layers=2, hidden_dim=650, embedding_dim=400, dropout=0.3,
                hidden_dropout=0.2, input_dropout=0.3, embedding_dropout=0.05,
                weight_dropout=0.3, batch_size=32, bptt=70, learning_rate=20.0, epochs=30.0,
                average_after=10),
}
# tools/train.py's help for --recipe and the settings only a language model has
# (`training.tasks`): AWD-LSTM's, which --recipe sets together.
RECIPE_HELP = ("awd_lstm: the paper's settings (3 x 1150, 500 epochs); cpu: a smaller model a "
               "2-core CPU trains in under two hours. Flags given win.")
FLAG_HELP = {
    "num_layers": "Recurrent layers.",
    "hidden_dim": "Width of every recurrent layer but the last (which is --embedding_dim wide, "
                  "for the tied softmax).",
    "hidden_dropout": "Locked dropout between recurrent layers.",
    "input_dropout": "Locked dropout on the embedded words.",
    "embedding_dropout": "Share of words dropped per batch.",
    "weight_dropout": "DropConnect on the recurrent kernels.",
    "alpha": "Activation regularisation.",
    "beta": "Temporal activation regularisation.",
    "weight_decay": "Weight decay.",
    "clip_norm": "Gradients clipped to this global norm.",
    "nonmono": "Validations without improvement before SGD turns into averaged SGD.",
    "average_after": "Averaging starts after this many validations (epochs) at the latest, "
                     "whatever the trigger (default: none; 10 in the cpu recipe).",
    "bptt": "Mean window of truncated backpropagation.",
    "eval_batch_size": "Rows of the validation stream.",
    "test_batch_size": "Rows of the test stream.",
}


@dataclasses.dataclass
class LanguageModelConfig:
    """Everything `tools/train.py` sets for a language model, checked when made (each field is
    the flag of its name); the defaults are the paper's (`RECIPES["awd_lstm"]`).

    Attributes:
        model: the kernel cell, one of `kasm_keras.layers.variants.VARIANTS`.
        dataset: the corpus, one of `DATASETS`.
        model_dir: the run's folder (local or `gs://...`).
        data_dir: where the corpus is (None: the default).
        cache_dir: where the prepared corpus is cached (None: the default).
        num_layers: recurrent layers.
        hidden_dim: units of every layer but the last, which has `embedding_dim` (tied
            embeddings).
        embedding_dim: the word embedding's size.
        layer_norm: layer-normalise the cells' pre-activations.
        dropout: locked dropout on the last layer's outputs.
        hidden_dropout: locked dropout between recurrent layers.
        input_dropout: locked dropout on the embedded words.
        embedding_dropout: dropout of whole words, per batch.
        weight_dropout: DropConnect on the recurrent kernels.
        alpha: activation regularisation (AR) of the last layer's outputs.
        beta: temporal activation regularisation (TAR).
        weight_decay: L2 weight decay.
        learning_rate: SGD's learning rate.
        clip_norm: the global gradient norm gradients are clipped to.
        nonmono: validations without improvement before averaging starts (`AveragedSGD`).
        average_after: validations after which averaging starts at the latest (None: only by
            the trigger).
        batch_size: rows the training corpus is cut into.
        bptt: the mean window length of truncated backpropagation through time.
        epochs: passes over the training corpus (when `max_steps` is None).
        max_steps: training steps (None: from `epochs`).
        eval_batch_size: rows of the validation corpus.
        test_batch_size: rows of the test corpus.
        seed: initialisation, dropout and the windows' lengths.
        eval_every: validate and checkpoint every this many steps (None: once per epoch).
        log_every: log every this many steps.
        jit_compile: "auto", "true" or "false"; see `use_jit`.
        precision: "auto", "float32", "mixed_bfloat16" or "mixed_float16"; see `policy`.
        strategy: "default" only: the carried states need one replica.
        deterministic: deterministic kernels, for bit-for-bit equal resumes.
        test: evaluate the test split at the end (off for a recipe search).

    Raises:
        TrainingError: a setting is out of range, naming its flag.

    Examples:
        >>> from kasm_keras.training.language_model import RECIPES, LanguageModelConfig
        >>> config = LanguageModelConfig(model="rkm_lstm", dataset="ptb",
        ...                              model_dir="runs/ptb_rkm_lstm", **RECIPES["cpu"])
        >>> config.num_layers, config.hidden_dim, config.epochs
        (2, 650, 30.0)
    """

    model: str
    dataset: str
    model_dir: str
    data_dir: str | None = None
    cache_dir: str | None = None
    num_layers: int = 3
    hidden_dim: int = 1150
    embedding_dim: int = 400
    layer_norm: bool = True
    dropout: float = 0.4
    hidden_dropout: float = 0.25
    input_dropout: float = 0.4
    embedding_dropout: float = 0.1
    weight_dropout: float = 0.5
    alpha: float = 2.0
    beta: float = 1.0
    weight_decay: float = 1.2e-6
    learning_rate: float = 30.0
    clip_norm: float = 0.25
    nonmono: int = 5
    average_after: int | None = None
    batch_size: int = 20
    bptt: int = 70
    epochs: float = 500.0
    max_steps: int | None = None
    eval_batch_size: int = 10
    test_batch_size: int = 1
    seed: int = 0
    eval_every: int | None = None
    log_every: int = 20
    jit_compile: str = "auto"
    precision: str = "auto"
    strategy: str = "default"
    deterministic: bool = False
    test: bool = True

    def __post_init__(self):
        if self.model not in VARIANTS:
            raise TrainingError(f"--model must be one of {VARIANTS}, got {self.model!r}")
        if self.dataset not in DATASETS:
            raise TrainingError(f"--dataset must be one of {DATASETS} for a language model, "
                                f"got {self.dataset!r}")
        for name in ("num_layers", "hidden_dim", "embedding_dim", "batch_size", "bptt",
                     "eval_batch_size", "test_batch_size", "nonmono"):
            if getattr(self, name) < 1:
                raise TrainingError(f"--{name} must be at least 1, got {getattr(self, name)}")
        if self.bptt < MIN_WINDOW:
            raise TrainingError(f"--bptt must be at least {MIN_WINDOW}, got {self.bptt}")
        for name in ("dropout", "hidden_dropout", "input_dropout", "embedding_dropout",
                     "weight_dropout"):
            if not 0 <= getattr(self, name) < 1:
                raise TrainingError(f"--{name} must be in [0, 1), got {getattr(self, name)}")
        for name in ("alpha", "beta", "weight_decay"):
            if not (getattr(self, name) >= 0 and math.isfinite(getattr(self, name))):
                raise TrainingError(f"--{name} must be a finite number >= 0, got "
                                    f"{getattr(self, name)}")
        for name in ("learning_rate", "clip_norm"):
            if not (getattr(self, name) > 0 and math.isfinite(getattr(self, name))):
                raise TrainingError(f"--{name} must be positive and finite, got "
                                    f"{getattr(self, name)}")
        if self.jit_compile not in ("auto", "true", "false"):
            raise TrainingError(f"--jit_compile must be auto, true or false, got "
                                f"{self.jit_compile!r}")
        if self.strategy != "default":
            raise TrainingError("--strategy: a language model carries each row's state from "
                                "batch to batch, which only --strategy=default keeps; got "
                                f"--strategy={self.strategy}")
        if self.average_after is not None and self.average_after < 1:
            raise TrainingError(f"--average_after must be at least 1, got {self.average_after}")
        if self.eval_every is not None and self.eval_every < 1:
            raise TrainingError(f"--eval_every must be at least 1, got {self.eval_every}")
        if self.data_dir is not None and files.is_local(self.data_dir) and \
                not os.path.isdir(self.data_dir):
            raise TrainingError(f"--data_dir={self.data_dir}: no such folder")
        self.loop_config()  # the loop checks its own settings

    def use_jit(self):
        """Whether to compile the training step with XLA, as for the classifier
        (`ClassifierConfig.use_jit`): on GPUs and for the loop-free variants.

        Returns:
            True or False.
        """
        if self.jit_compile in ("true", "false"):
            return self.jit_compile == "true"
        return (not get_variant(self.model).sequential) or bool(
            tf.config.list_physical_devices("GPU"))

    def loop_config(self):
        """The training loop's share of these settings.

        Returns:
            A `kasm_keras.training.LoopConfig`.
        """
        return LoopConfig(
            model_dir=self.model_dir, max_steps=self.max_steps, epochs=self.epochs,
            eval_every=self.eval_every, log_every=self.log_every,
            seed=self.seed, strategy=self.strategy, jit_compile=self.use_jit(),
            precision=self.precision, deterministic=self.deterministic, test=self.test)

    def policy(self):
        """The Keras dtype policy that `--precision` resolves to on this machine.

        Returns:
            A policy name: "float32", "mixed_bfloat16" or "mixed_float16".
        """
        return precision.resolve(self.precision)


def window_schedule(row_length, bptt, seed):
    """AWD-LSTM's variable-length BPTT windows over rows of `row_length` tokens, epoch after
    epoch.

    The windows of an epoch tile the row from 0. Their lengths come from stateless random ops
    keyed by (seed, window number), so the order follows from the seed alone and the iterator
    (a `scan`) is checkpointable.

    Args:
        row_length: tokens in each row (at least 3).
        bptt: the mean window length.
        seed: the seed of the lengths.

    Returns:
        An endless `tf.data.Dataset` of `(start, length, first)` int64/bool scalars, `first`
            marking an epoch's first window.

    Raises:
        ValueError: `row_length` is below 3.

    Examples:
        >>> from kasm_keras.training.language_model import window_schedule
        >>> windows = window_schedule(200, bptt=70, seed=0).take(4)
        >>> [(int(start), int(length), bool(first)) for start, length, first in windows]
        [(0, 78, True), (78, 70, False), (148, 51, False), (0, 72, True)]
    """
    if row_length < 3:
        raise ValueError(f"rows of {row_length} tokens are too short for a window")
    seed = tf.constant(seed, tf.int64)

    def step(state, _):
        position, count = state
        keys = tf.stack([seed, count])
        short = tf.random.stateless_uniform([], keys, dtype=tf.float64) < SHORT_WINDOW_CHANCE
        base = tf.where(short, tf.constant(bptt / 2, tf.float64), tf.constant(bptt, tf.float64))
        noise = tf.random.stateless_normal([], keys + [0, 1 << 40], dtype=tf.float64)
        length = tf.maximum(tf.constant(MIN_WINDOW, tf.int64),
                            tf.cast(base + WINDOW_NOISE * noise, tf.int64))
        length = tf.minimum(length, row_length - 1 - position)
        following = position + length
        following = tf.where(following < row_length - 2, following, tf.constant(0, tf.int64))
        return (following, count + 1), (position, length, tf.equal(position, 0))

    return tf.data.Dataset.range(2 ** 62).scan(
        (tf.constant(0, tf.int64), tf.constant(0, tf.int64)), step)


def windows_per_epoch(row_length, bptt, seed):
    """How many windows `window_schedule` gives in its first epoch, to turn epochs into steps.

    Args:
        row_length: tokens in each row.
        bptt: the mean window length.
        seed: the seed of the lengths.

    Returns:
        An int (later epochs differ by a window or two).

    Examples:
        >>> from kasm_keras.training.language_model import windows_per_epoch
        >>> windows_per_epoch(1000, bptt=70, seed=0)
        14
    """
    count = 0
    for _, _, first in window_schedule(row_length, bptt, seed).skip(1):
        count += 1
        if first:
            return count


class LanguageModelTask(Task):
    """Word-level language modelling as a `Task`: the module's AWD-LSTM recipe with kernel cells.

    Validation perplexity picks the best model; each row's recurrent states are carried from
    batch to batch in `checkpoint_variables`.

    Args:
        config: a `LanguageModelConfig`.

    Examples:
        >>> from kasm_keras.training.language_model import LanguageModelConfig, LanguageModelTask
        >>> task = LanguageModelTask(LanguageModelConfig("rkm_lstm", "ptb", "runs/ptb"))
        >>> task.monitor, task.higher_is_better
        ('perplexity', False)
    """

    monitor = "perplexity"
    higher_is_better = False
    fixed_settings = FIXED_SETTINGS

    def __init__(self, config):
        self.config = config

    def settings(self):
        return {**dataclasses.asdict(self.config), "policy": self.config.policy()}

    def prepare(self, log):
        c = self.config
        self.corpus = language_model_data.load_corpus(c.dataset, c.data_dir,
                                                      cache_dir=c.cache_dir)
        sizes = self.corpus.num_tokens
        log(f"{c.dataset}: {sizes['train']:,} / {sizes['valid']:,} / {sizes['test']:,} tokens, "
            f"vocabulary {len(self.corpus.vocabulary):,}")
        train = self.corpus.splits["train"]
        self.row_length = len(train) // c.batch_size
        if self.row_length < 3 * c.bptt:
            raise TrainingError(f"{self.corpus.paths['train']}: {len(train)} tokens are too few "
                                f"for {c.batch_size} rows of at least {3 * c.bptt}")
        for split, batch in (("valid", c.eval_batch_size), ("test", c.test_batch_size)):
            if len(self.corpus.splits[split]) // batch < 2:
                raise TrainingError(f"{self.corpus.paths[split]}: too few tokens for "
                                    f"{batch} rows")
        self.rows = train[: self.row_length * c.batch_size].reshape(c.batch_size, -1)
        self._steps_per_epoch = windows_per_epoch(self.row_length, c.bptt, c.seed)
        self.unigram_perplexity = unigram_perplexity(train, self.corpus.splits["valid"],
                                                     len(self.corpus.vocabulary))
        self.log = log
        log(f"a unigram model's validation perplexity: {self.unigram_perplexity:.1f}")

    def check_model_dir(self, model_dir, resuming=False):
        check_vocabulary_file(model_dir, self.corpus.vocabulary, resuming)

    def write_files(self, model_dir):
        write_vocabulary_file(model_dir, self.corpus.vocabulary)

    def steps_per_epoch(self):
        return self._steps_per_epoch

    def build(self):
        c = self.config
        backbone = KernelLMBackbone(
            len(self.corpus.vocabulary), c.model, num_layers=c.num_layers,
            hidden_dim=c.hidden_dim, embedding_dim=c.embedding_dim, layer_norm=c.layer_norm,
            dropout=c.dropout, hidden_dropout=c.hidden_dropout, input_dropout=c.input_dropout,
            embedding_dropout=c.embedding_dropout, weight_dropout=c.weight_dropout, seed=c.seed)
        tokenizer = KernelLMTokenizer(vocabulary=self.corpus.vocabulary.tokens,
                                      lowercase=language_model_data.CORPORA[c.dataset]["lowercase"])
        model = KernelCausalLM(backbone, KernelCausalLMPreprocessor(tokenizer))
        self.optimizer = AveragedSGD(c.learning_rate, nonmono=c.nonmono,
                                     average_after=c.average_after,
                                     weight_decay=c.weight_decay or None,
                                     global_clipnorm=c.clip_norm)
        # Each row's states, carried from batch to batch (in the checkpoint: exact resume).
        self.states = [keras.Variable(np.zeros((c.batch_size, d), np.float32), trainable=False,
                                      name=f"carried_{kind}_{i}")
                       for i, d in enumerate(backbone.state_sizes) for kind in ("h", "c")]
        return model, self.optimizer

    def checkpoint_variables(self):
        return self.states

    def train_dataset(self, seed):
        c = self.config
        rows = tf.constant(self.rows)

        def window(start, length, first):
            inputs = rows[:, start:start + length]
            targets = rows[:, start + 1:start + 1 + length]
            return inputs, targets, tf.fill([c.batch_size], first)

        return window_schedule(self.row_length, c.bptt, seed).map(window)

    def batch_loss(self, model, batch):
        c = self.config
        inputs, targets, first = batch
        keep = tf.cast(tf.logical_not(first), tf.float32)[:, None]
        carried = [tf.convert_to_tensor(v) * keep for v in self.states]
        states = [carried[i:i + 2] for i in range(0, len(carried), 2)]
        outputs, raw, states = model.backbone.run(inputs, states, training=True)
        for variable, value in zip(self.states, [s for pair in states for s in pair]):
            variable.assign(tf.stop_gradient(tf.cast(value, tf.float32)))
        logits = model.backbone.token_embedding(outputs, reverse=True)
        cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(targets, logits)
        penalty = (activation_regularization(tf.cast(outputs, tf.float32), c.alpha)
                   + temporal_activation_regularization(tf.cast(raw, tf.float32), c.beta))
        # AWD-LSTM scales the learning rate by length / bptt; scaling the loss does the same
        # except where the gradient is clipped.
        scale = tf.cast(tf.shape(inputs)[1], tf.float32) / c.bptt
        return (cross_entropy + penalty) * scale, {"cross_entropy": cross_entropy}

    def validate(self, model):
        c = self.config
        with self.optimizer.averaged_weights(model.trainable_variables):
            scores = model.perplexity(self.corpus.splits["valid"], c.eval_batch_size, c.bptt)
        self.optimizer.record_validation(scores["cross_entropy"])
        if scores["perplexity"] > self.unigram_perplexity and \
                int(self.optimizer.iterations) >= self._steps_per_epoch:
            self.log(f"warning: validation perplexity {scores['perplexity']:.1f} after an epoch "
                     f"or more is above a unigram model's {self.unigram_perplexity:.1f}: the "
                     "model predicts no better than word frequencies (a diverged start; train "
                     "again with another --seed)")
        return {"perplexity": scores["perplexity"], "cross_entropy": scores["cross_entropy"],
                "averaging": float(self.optimizer.averaging)}

    def save_best(self, model, path):
        """Writes the averaged weights once averaging, in float32 whatever the precision.

        Args:
            model: the model being trained.
            path: the new file, as for `Task.save_best`.
        """
        with self.optimizer.averaged_weights(model.trainable_variables):
            stored = model.rebuilt(dtype="float32")
        super().save_best(stored, path)

    def report(self, model, test=True):
        c = self.config
        tested = {}
        if test:
            scores = model.perplexity(self.corpus.splits["test"], c.test_batch_size, c.bptt)
            tested = {"test_perplexity": scores["perplexity"],
                      "test_cross_entropy": scores["cross_entropy"], "test_tokens": scores["tokens"]}
        recurrent = sum(layer.count_params() for layer in model.backbone.rnn_layers)
        return {
            "model": c.model, "dataset": c.dataset, **tested,
            "parameters": {"recurrent": recurrent,
                           "embedding": model.backbone.token_embedding.count_params(),
                           "total": model.count_params()},
            "state_sizes": model.backbone.state_sizes,
            "steps_per_epoch": self._steps_per_epoch,
            "unigram_val_perplexity": self.unigram_perplexity,
            "corpus_tokens": self.corpus.num_tokens,
            "mapped_to_unk": self.corpus.mapped_to_unk,
        }


def unigram_perplexity(train, valid, vocabulary_size):
    """The validation perplexity of word frequencies (add-one counts of the training split).

    What a language model must beat to have learned anything from context.

    Args:
        train: the training split's token ids.
        valid: the validation split's token ids.
        vocabulary_size: the number of token ids.

    Returns:
        The perplexity, a float.

    Examples:
        >>> from kasm_keras.training.language_model import unigram_perplexity
        >>> round(unigram_perplexity([0, 0, 1, 2], valid=[0, 1], vocabulary_size=3), 3)
        2.858
    """
    counts = np.bincount(np.asarray(train), minlength=vocabulary_size) + 1.0
    log_p = np.log(counts / counts.sum())
    return float(np.exp(-log_p[np.asarray(valid)].mean()))



def train_language_model(config, command=None, log=print):
    """Trains a language model, or resumes the run in its model_dir.

    Args:
        config: a `LanguageModelConfig`.
        command: as for `Trainer`.
        log: as for `Trainer`.

    Returns:
        The run's metrics, as `Trainer.run` returns them.

    Raises:
        TrainingError: the run cannot start or go on, in one line.

    Examples:
        >>> from kasm_keras.training.language_model import (
        ...     RECIPES, LanguageModelConfig, train_language_model)
        >>> config = LanguageModelConfig(model="rkm_lstm", dataset="ptb",
        ...                              model_dir="runs/ptb_rkm_lstm", **RECIPES["cpu"])
        >>> metrics = train_language_model(config)  # doctest: +SKIP
    """
    return Trainer(LanguageModelTask(config), config.loop_config(), command=command,
                   log=log).run()
