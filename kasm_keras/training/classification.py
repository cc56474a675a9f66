"""Document classification as a training task: the paper's classifier on the Zhang et al. CSVs.

The model: embedding (GloVe vectors when available) -> KernelRNN -> mean over the unmasked
steps -> dropout, Dense(300, ReLU), dropout -> Dense(classes); Adam, gradients clipped by value
to 1. Validation accuracy picks the best model (`best.keras`), which is evaluated once on test.
"""

import dataclasses
import math

import keras
import numpy as np
import tensorflow as tf

from kasm_keras.data import datasets, word_vectors
from kasm_keras.data.datasets import pipeline_speed
from kasm_keras.layers.variants import get_variant
from kasm_keras.models import kernel_classifier as classifier
from kasm_keras.training.classifier_config import ClassifierConfig
from kasm_keras.training.loop import Trainer
from kasm_keras.training.task import (
    Task, TrainingError, check_vocabulary_file, write_vocabulary_file)

# Settings that change what is trained: a model_dir holding a run with other values is refused.
# (learning_rate, steps and the engine may change between runs: fine-tuning, longer training.)
# "policy" is the dtype policy --precision resolved to: `auto` may resolve otherwise elsewhere.
FIXED_SETTINGS = ("model", "dataset", "ngram", "units", "batch_size", "max_length",
                  "embeddings", "train_embeddings", "seed", "split_seed", "policy", "dropout",
                  "max_vocabulary", "min_count", "validation_fraction", "layer_norm",
                  "learn_sigmas", "ngram_padding", "embedding_dim")
SHUFFLE_BUFFER = 16_384
EVAL_BATCH = 256
# tools/train.py's help for the settings only a document classifier has (`training.tasks`).
FLAG_HELP = {
    "max_length": "Tokens kept per document (default 128, 96 for yahoo).",
    "embeddings": "Word vectors: auto (glove-6b-50d when installed), a builtin name, a GloVe "
                  ".txt(.gz) or word2vec .bin path, or none.",
    "train_embeddings": "Fine-tune the embeddings.",
    "max_vocabulary": "Vocabulary cap, specials included.",
    "min_count": "Occurrences a token needs to be in the vocabulary.",
}


@dataclasses.dataclass
class TrainConfig(ClassifierConfig):
    """Everything `tools/train.py` sets to train a document classifier: `ClassifierConfig`'s
    settings (shared with the time-series classifier) and the text's own below.

    Attributes:
        max_length: tokens kept of each document (None: the dataset's default).
        embeddings: the word vectors: "auto", "none", a built-in name or a GloVe or word2vec
            file (`kasm_keras.data.word_vectors.resolve_source`).
        embedding_dim: the embedding's size without word vectors (theirs otherwise).
        train_embeddings: fine-tune the embedding.
        max_vocabulary: the vocabulary's size at most, padding and unknown token included.
        min_count: how often a word must occur in the training data to be in it.

    Examples:
        >>> import tempfile
        >>> from kasm_keras.training import TrainConfig
        >>> config = TrainConfig(model="rkm_cifg", dataset="ag_news",
        ...                      model_dir=tempfile.mkdtemp(), ngram=2, max_steps=1000)
        >>> config.loop_config().max_steps
        1000
        >>> TrainConfig(model="rkm_cifg", dataset="ag_news", model_dir="runs/x", dropout=1.0)
        Traceback (most recent call last):
        ...
        kasm_keras.training.task.TrainingError: --dropout must be in [0, 1), got 1.0
    """

    DATASETS = datasets.CLASSIFICATION

    max_length: int | None = None
    embeddings: str = "auto"
    embedding_dim: int = 300
    train_embeddings: bool = True
    max_vocabulary: int = 50_000
    min_count: int = 2

    def check_task(self):
        self.check_at_least_one("embedding_dim", "min_count")
        if self.max_length is not None and self.max_length < 1:
            raise TrainingError(f"--max_length must be at least 1 (or unset, for the "
                                f"dataset's default), got {self.max_length}")
        if self.max_vocabulary < 2:
            raise TrainingError(f"--max_vocabulary must be at least 2 (padding and the unknown "
                                f"token are in it), got {self.max_vocabulary}")
        self.resolved_embeddings()

    def resolved_embeddings(self):
        """The word vectors `embeddings` stands for on this machine.

        Returns:
            "none", a built-in source's name or a file's path.

        Raises:
            TrainingError: the source is unknown or its package is not installed.
        """
        try:
            return word_vectors.resolve_source(self.embeddings)
        except word_vectors.WordVectorsError as error:
            raise TrainingError(f"--embeddings: {error}") from error


def _evaluate(logits_of, batches):
    """Accuracy, mean cross-entropy, predictions and labels over batches of (ids, labels)."""
    predictions, labels, losses = [np.zeros([0], np.int64)], [np.zeros([0], np.int64)], [0.0]
    for ids, y in batches:
        logits = tf.cast(logits_of(ids), tf.float32)
        losses.append(float(tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(
            tf.cast(y, tf.int32), logits))))
        predictions.append(tf.argmax(logits, axis=-1).numpy())
        labels.append(y.numpy())
    predictions, labels = np.concatenate(predictions), np.concatenate(labels)
    if not labels.size:
        return float("nan"), float("nan"), predictions, labels
    return (float(np.mean(predictions == labels)), math.fsum(losses) / labels.size,
            predictions, labels)


class ClassificationTask(Task):
    """The document classifier as a `Task`: the module's model on a Zhang et al. dataset.

    Args:
        config: a `TrainConfig`.

    Examples:
        >>> import tempfile
        >>> from kasm_keras.training import ClassificationTask, TrainConfig
        >>> config = TrainConfig(model="rkm_cifg", dataset="ag_news",
        ...                      model_dir=tempfile.mkdtemp())
        >>> task = ClassificationTask(config)
        >>> task.monitor, task.best_model_file
        ('accuracy', 'best.keras')
    """

    monitor = "accuracy"
    higher_is_better = True
    best_model_file = "best.keras"
    fixed_settings = FIXED_SETTINGS

    def __init__(self, config):
        self.config = config
        self._logits = (None, None)  # (model, its traced inference function)

    def _logits_function(self, model):
        """Logits of token ids in inference mode; traced once per model and batch shape."""
        if self._logits[0] is not model:
            self._logits = (model, tf.function(
                lambda ids: model(ids, training=False),
                input_signature=[tf.TensorSpec([None, None], tf.int32)]))  # any batch length
        return self._logits[1]

    def settings(self):
        return {**dataclasses.asdict(self.config), "policy": self.config.policy()}

    def prepare(self, log):
        c = self.config
        self.data = datasets.load_classification(
            c.dataset, c.data_dir, cache_dir=c.cache_dir, max_vocabulary=c.max_vocabulary,
            min_count=c.min_count, max_length=c.max_length,
            validation_fraction=c.validation_fraction, seed=c.split_seed)
        self.sizes = self.data.split_sizes()
        if self.sizes["train"] < c.batch_size or self.sizes["validation"] == 0:
            raise TrainingError(f"{c.dataset}: {self.sizes['train']} training and "
                                f"{self.sizes['validation']} validation documents are too few "
                                f"for batch size {c.batch_size}")
        embeddings = c.resolved_embeddings()
        self.embedding_matrix, self.coverage = None, None
        if embeddings != "none":
            try:
                self.embedding_matrix, self.coverage = word_vectors.embedding_matrix(
                    self.data.vocabulary, embeddings, seed=c.seed)
            except ValueError as error:  # a damaged vectors file, named with its line
                raise TrainingError(f"--embeddings: {error}") from error
            log(f"word vectors: {self.coverage}")
        self.embedding_dim = (c.embedding_dim if self.embedding_matrix is None
                              else self.embedding_matrix.shape[1])

    def check_model_dir(self, model_dir, resuming=False):
        check_vocabulary_file(model_dir, self.data.vocabulary, resuming)

    def write_files(self, model_dir):
        write_vocabulary_file(model_dir, self.data.vocabulary)

    def steps_per_epoch(self):
        return max(1, self.sizes["train"] // self.config.batch_size)

    def build(self):
        c = self.config
        model = classifier.build_classifier(
            len(self.data.vocabulary), self.data.num_classes, c.model, units=c.units,
            ngram=c.ngram, max_length=self.data.max_length, embedding_dim=c.embedding_dim,
            embedding_matrix=self.embedding_matrix, train_embeddings=c.train_embeddings,
            dropout=c.dropout, seed=c.seed, layer_norm=c.layer_norm, learn_sigmas=c.learn_sigmas,
            ngram_padding=c.ngram_padding, vocabulary=self.data.vocabulary.tokens,
            class_names=self.data.classes)
        return model, keras.optimizers.Adam(c.learning_rate, clipvalue=1.0)

    def _batches(self, split, batch_size, **options):
        """Length-aware batches: documents of similar length together, each batch cut to its
        longest (rounded up to a multiple of 8 under XLA, which compiles once per shape)."""
        return self.data.batches(split, batch_size, by_length=True,
                                 length_multiple=8 if self.config.use_jit() else 1, **options)

    def train_dataset(self, seed):
        # The buffer is part of every checkpoint: no larger than the data (it shuffles the same).
        buffer = min(SHUFFLE_BUFFER, self.sizes["train"])
        return self._batches("train", self.config.batch_size, shuffle=True, repeat=True,
                             seed=seed, drop_remainder=True, shuffle_buffer=buffer)

    def batch_loss(self, model, batch):
        ids, labels = batch
        logits = tf.cast(model(ids, training=True), tf.float32)
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
        correct = tf.cast(tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), labels),
                          tf.float32)
        return losses, {"accuracy": correct}

    def validate(self, model):
        accuracy, loss, _, _ = _evaluate(self._logits_function(model),
                                         self._batches("validation", EVAL_BATCH))
        return {"accuracy": accuracy, "loss": loss}

    def save_best(self, model, path):
        if model.backbone.dtype_policy.name != "float32":  # stored alike whatever the precision
            model = model.rebuilt(dtype="float32")
        super().save_best(model, path)

    def report(self, model, test=True):
        c = self.config
        tested = {}
        if test:
            tested["test_accuracy"], _, _, _ = _evaluate(self._logits_function(model),
                                                         self._batches("test", EVAL_BATCH))
        layer = classifier.kernel_layer(model)
        return {
            "model": c.model, "dataset": c.dataset, "ngram": c.ngram,
            **tested,
            "parameters": {
                "table2": layer.weight_entries,
                "table2_at_paper_sizes": get_variant(c.model).weight_entries(300, 300, c.ngram),
                "kernel_rnn": layer.count_params(),
                "total": model.count_params(),
                "embedding_dim": self.embedding_dim,
            },
            "splits": self.sizes,
            "word_vectors": str(self.coverage) if self.coverage else None,
            "pipeline_batches_per_second": pipeline_speed(
                self._batches("train", c.batch_size, shuffle=True, repeat=True), seconds=1.0),
        }


def train_classifier(config, command=None, log=print):
    """Trains a document classifier, or resumes the run in its model_dir.

    Args:
        config: a `TrainConfig`.
        command: as for `Trainer`.
        log: as for `Trainer`.

    Returns:
        What `Trainer.run` returns: the metrics, or None on a worker that is not the chief.

    Raises:
        TrainingError: the run cannot start or go on, in one line.

    Examples:
        >>> from kasm_keras.training import TrainConfig, train_classifier
        >>> config = TrainConfig(model="rkm_cifg", dataset="ag_news",
        ...                      model_dir="runs/ag_news_rkm_cifg", max_steps=2000)
        >>> metrics = train_classifier(config)  # doctest: +SKIP
    """
    return Trainer(ClassificationTask(config), config.loop_config(), command=command, log=log).run()
