"""From a dataset on disk to batches of token ids: the entry point for training and for tools/data.py."""

import collections
import dataclasses
import hashlib
import json
import os
import time

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from kasm_keras.data import classification_data, language_model_data
from kasm_keras.utils.download import DEFAULT_CACHE_DIR
from kasm_keras.utils.files import atomic_directory, preparing, remove_dead_temporaries
from kasm_keras.data.text_encoding import (RULES_FINGERPRINT, TextEncoder,
                                           pad_length_to_multiple, tokenize)
from kasm_keras.data.tfds_builders import ZhangTextClassification
from kasm_keras.data.vocabulary import Vocabulary

CLASSIFICATION = tuple(classification_data.DATASETS)
LANGUAGE_MODELLING = tuple(language_model_data.CORPORA)
TOKENIZE_BATCH = 1024


def _digest(*parts):
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def _source_fingerprint(name, data_dir, skip_bad_rows):
    """Names the prepared cache after the exact source files, so a changed source is re-read."""
    if data_dir is None:
        return _digest(name, "official archive", skip_bad_rows)
    try:
        files = classification_data.locate_source(name, data_dir)
    except FileNotFoundError:
        archive = classification_data.find_archive(name, data_dir)
        if archive is None:
            raise
        files = {"archive": archive}
    stats = {k: (os.path.abspath(p), os.path.getsize(p), os.stat(p).st_mtime_ns)
             for k, p in files.items() if p is not None}
    return _digest(name, stats, skip_bad_rows)


def _save_dataset(dataset, path):
    """tf.data's own format, renamed into place when complete; a finished copy is never replaced,
    since another process may be reading it (the content is the same whoever writes it). The
    temporary folder is named after its writer's pid, so a later run removes it if the writer was
    killed, and never while the writer lives (`kasm_keras.utils.files`)."""
    with atomic_directory(path, replace=False) as tmp:
        dataset.save(tmp)


@dataclasses.dataclass
class ClassificationData:
    """One classification dataset, prepared: splits of (token ids [max_length], label).

    `validation` is carved from train by a keyed hash of each row's source line and `seed`, so
    the same rows are held out on every run and machine; the vocabulary sees only the rest.
    Made by `load_classification`.

    Args:
        name: the dataset's name, a key of `classification_data.DATASETS`.
        dataset: its `ClassificationDataset`.
        builder: the prepared `ZhangTextClassification` builder.
        vocabulary: the `Vocabulary` of the training split (without validation).
        max_length: int, tokens kept per document.
        validation_fraction: float in (0, 1), the share of train held out for validation.
        seed: int, keys the validation hash and seeds shuffling.
        cache_dir: str, the folder of the tokenised splits.

    Examples:
        >>> import os, tempfile
        >>> from kasm_keras.data.datasets import load_classification
        >>> folder = tempfile.mkdtemp()
        >>> rows = [f'"{i % 4 + 1}","Title {i}","the cat sat on the mat {i}"' for i in range(40)]
        >>> for split in ("train", "test"):
        ...     with open(os.path.join(folder, split + ".csv"), "w") as f:
        ...         _ = f.write("\\n".join(rows) + "\\n")
        >>> data = load_classification("ag_news", folder, cache_dir=tempfile.mkdtemp(),
        ...                            max_length=16)
        >>> data.num_classes, data.split_sizes()
        (4, {'train': 39, 'validation': 1, 'test': 40})
        >>> ids, labels = next(iter(data.batches("train", batch_size=4)))
        >>> ids.shape, labels.shape
        (TensorShape([4, 16]), TensorShape([4]))
    """

    name: str
    dataset: classification_data.ClassificationDataset
    builder: ZhangTextClassification
    vocabulary: Vocabulary
    max_length: int
    validation_fraction: float
    seed: int
    cache_dir: str

    @property
    def classes(self):
        """The class names, in label order."""
        return self.dataset.classes

    @property
    def num_classes(self):
        """The number of classes."""
        return len(self.dataset.classes)

    def skipped_rows(self):
        """The rows left out when the data was prepared with skip_bad_rows.

        Returns:
            A list of `classification_data.BadRow` (empty if none).
        """
        return self.builder.skipped_rows()

    def encoder(self):
        """A `TextEncoder` of raw documents for this vocabulary and max_length, as training saw.

        Returns:
            A `TextEncoder`.
        """
        return TextEncoder(self.vocabulary, self.max_length)

    def texts(self, split):
        """The documents of a split as raw text, before tokenisation.

        Args:
            split: "train", "validation" or "test".

        Returns:
            A `tf.data.Dataset` of (text string, label int64).

        Raises:
            ValueError: if `split` is not one of the three.
        """
        if split not in ("train", "validation", "test"):
            raise ValueError(f"split must be train, validation or test, got {split!r}")
        source = self.builder.as_dataset(split="test" if split == "test" else "train",
                                         shuffle_files=False)
        if split != "test":
            want_validation = split == "validation"
            source = source.filter(lambda ex: self._is_validation(ex["line"]) == want_validation)
        return source.map(lambda ex: (ex["text"], ex["label"]))

    def _is_validation(self, line):
        bucket = tf.strings.to_hash_bucket_strong(
            tf.strings.as_string(line), 1_000_000, key=[self.seed, 0x6B61736D])
        return bucket < int(round(self.validation_fraction * 1_000_000))

    def examples(self, split):
        """The tokenised documents of a split, unbatched; tokenised once, then read from the cache.

        Args:
            split: "train", "validation" or "test".

        Returns:
            A `tf.data.Dataset` of (ids int32 [max_length], label int32, length int32), the
            length being the document's token count before cutting.
        """
        path = os.path.join(self.cache_dir, "tokenized", split)
        remove_dead_temporaries(path)  # even when the cache is there: a second writer may have died
        if not os.path.exists(path):
            encoder = self.encoder()

            def encode(texts, labels):
                ids, _, lengths = encoder.encode_with_lengths(texts)
                return ids, tf.cast(labels, tf.int32), lengths

            tokenized = self.texts(split).batch(TOKENIZE_BATCH).map(encode).unbatch()
            _save_dataset(tokenized, path)
        return tf.data.Dataset.load(path)

    def batches(self, split, batch_size, shuffle=False, repeat=False, seed=None, by_length=False,
                drop_remainder=False, shuffle_buffer=16_384, length_multiple=1):
        """(ids [batch, length], label [batch]) batches; id 0 is padding (mask = ids != 0).

        `length` is max_length; with `by_length`, documents of similar length are batched
        together (buckets of `length_buckets`) and each batch is cut to its longest document, so
        little work goes to padding. Every batch still holds `batch_size` documents but the last
        of each bucket (none is dropped unless `drop_remainder`), and with `shuffle` the order is
        random within and across buckets. `length_multiple` rounds each batch's length up to a
        multiple (at most max_length): XLA compiles once per shape, so 8 keeps that to 16 shapes
        at max_length 128.

        Args:
            split: "train", "validation" or "test".
            batch_size: int, documents per batch.
            shuffle: bool, shuffle the documents (through a buffer of `shuffle_buffer`).
            repeat: bool, repeat the split without end.
            seed: optional int seed of the shuffle; None uses the data's `seed`.
            by_length: bool, batch documents of similar length and cut each batch to its
                longest document.
            drop_remainder: bool, drop batches of fewer than `batch_size` documents.
            shuffle_buffer: int, documents in the shuffle buffer.
            length_multiple: int, with `by_length`, round each batch's length up to a
                multiple of this.

        Returns:
            A `tf.data.Dataset` of (ids int32 [batch, length], label int32 [batch]).
        """
        seed = self.seed if seed is None else seed
        data = self.examples(split)
        if shuffle:
            data = data.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        if repeat:
            data = data.repeat()
        if not by_length:
            data = data.map(lambda ids, label, length: (ids, label))
            return data.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
        boundaries = length_buckets(self.max_length)

        def cut(ids, label, length):
            kept = tf.maximum(tf.minimum(length, self.max_length), 1)  # an empty document: 1 step
            return ids[:kept], label, kept

        data = data.map(cut).bucket_by_sequence_length(
            lambda ids, label, kept: kept, boundaries, [batch_size] * (len(boundaries) + 1),
            drop_remainder=drop_remainder)
        if drop_remainder:  # every batch full: say so in the shapes, as `batch` does
            data = data.map(lambda ids, label, kept: (tf.ensure_shape(ids, [batch_size, None]),
                                                      tf.ensure_shape(label, [batch_size])))
        else:
            data = data.map(lambda ids, label, kept: (ids, label))
        if length_multiple > 1:
            data = data.map(lambda ids, label: (
                pad_length_to_multiple(ids, length_multiple, self.max_length), label))
        if shuffle:  # buckets fill at different rates: mix their batches too
            data = data.shuffle(len(boundaries) + 1, seed=seed + 1, reshuffle_each_iteration=True)
        return data.prefetch(tf.data.AUTOTUNE)

    def split_sizes(self):
        """The number of documents of each split.

        Returns:
            A dict {"train": int, "validation": int, "test": int}.
        """
        return {split: self.labels(split).size for split in ("train", "validation", "test")}

    def labels(self, split):
        """Every document's label, in the split's order.

        Args:
            split: "train", "validation" or "test".

        Returns:
            An int64 NumPy array [documents].
        """
        return self._column(split, 1)

    def lengths(self, split):
        """Tokens per document before cutting to max_length, in the split's order.

        Args:
            split: "train", "validation" or "test".

        Returns:
            An int64 NumPy array [documents].
        """
        return self._column(split, 2)

    def _column(self, split, index):
        parts = self.examples(split).map(lambda *row: row[index]).batch(1 << 16)
        return np.concatenate([np.zeros([0], np.int64)] + [p.astype(np.int64) for p in
                                                           parts.as_numpy_iterator()])

def length_buckets(max_length, width=8):
    """Upper bounds (exclusive) of the length buckets: every `width` tokens up to max_length.

    Args:
        max_length: int, the longest a document can be.
        width: int, the tokens each bucket spans.

    Returns:
        A list of ints, for `tf.data.Dataset.bucket_by_sequence_length`.

    Examples:
        >>> from kasm_keras.data.datasets import length_buckets
        >>> length_buckets(32)  # lengths 1-8, 9-16, 17-24 and 25-32
        [9, 17, 25]
    """
    return list(range(width + 1, max_length + 1, width))


def load_classification(name, data_dir=None, cache_dir=None, max_vocabulary=50_000, min_count=2,
                        max_length=None, validation_fraction=0.05, seed=0, skip_bad_rows=False):
    """Prepares (or reuses) a classification dataset: TFDS files, vocabulary, tokenised splits.

    `data_dir` is a local copy (the archive, its folder, or a folder of the canonical CSVs);
    None downloads the official archive. Everything derived goes under `cache_dir`, named after
    the source files and the settings, so a later call with the same ones reuses it.

    Args:
        name: a key of `classification_data.DATASETS` ("ag_news", "dbpedia", "yahoo", "yelp").
        data_dir: optional local copy; None downloads the official archive.
        cache_dir: optional cache folder; None uses the package's default cache.
        max_vocabulary: int, the most tokens in the vocabulary, padding and OOV included.
        min_count: int, the fewest training occurrences a token needs to be in the vocabulary.
        max_length: optional int, tokens kept per document; None uses the dataset's own.
        validation_fraction: float in (0, 1), the share of train held out for validation.
        seed: int, picks the validation rows and seeds shuffling.
        skip_bad_rows: bool, leave malformed CSV rows out instead of failing.

    Returns:
        A `ClassificationData`.

    Raises:
        ValueError: on an unknown dataset or a validation_fraction outside (0, 1).
        DataError: naming the file and line, on a malformed row (without skip_bad_rows).

    Examples:
        >>> import os, tempfile
        >>> from kasm_keras.data.datasets import load_classification
        >>> folder = tempfile.mkdtemp()
        >>> rows = [f'"{i % 4 + 1}","Title {i}","the cat sat on the mat {i}"' for i in range(40)]
        >>> for split in ("train", "test"):
        ...     with open(os.path.join(folder, split + ".csv"), "w") as f:
        ...         _ = f.write("\\n".join(rows) + "\\n")
        >>> data = load_classification("ag_news", folder, cache_dir=tempfile.mkdtemp(),
        ...                            max_length=16)
        >>> len(data.vocabulary), data.max_length
        (47, 16)
    """
    dataset = classification_data.get_dataset(name)
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in (0, 1), got {validation_fraction}")
    cache_root = os.path.join(cache_dir or DEFAULT_CACHE_DIR, name,
                              _source_fingerprint(name, data_dir, skip_bad_rows))
    with preparing(cache_root):  # one preparer at a time; the others reuse it
        return _load_prepared(name, dataset, data_dir, cache_root, max_vocabulary, min_count,
                              max_length, validation_fraction, seed, skip_bad_rows)


def _load_prepared(name, dataset, data_dir, cache_root, max_vocabulary, min_count, max_length,
                   validation_fraction, seed, skip_bad_rows):
    builder = ZhangTextClassification(config=name, data_dir=os.path.join(cache_root, "tfds"),
                                      skip_bad_rows=skip_bad_rows)
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(
            manual_dir=data_dir, download_mode=tfds.download.GenerateMode.REUSE_DATASET_IF_EXISTS))
    max_length = max_length or dataset.max_length
    settings = _digest(validation_fraction, seed, max_vocabulary, min_count, RULES_FINGERPRINT,
                       Vocabulary.FORMAT)
    vocabulary_path = os.path.join(cache_root, settings, "vocabulary.txt")
    data = ClassificationData(name, dataset, builder, None, max_length, validation_fraction, seed,
                              os.path.join(cache_root, settings, f"len{max_length}"))
    counts_path = os.path.join(cache_root, settings, "vocabulary_counts.txt")
    if os.path.exists(counts_path):  # written last: the pair is complete
        data.vocabulary = Vocabulary.load(vocabulary_path, counts_path)
    else:
        counts = collections.Counter()
        for texts, _ in data.texts("train").batch(TOKENIZE_BATCH).as_numpy_iterator():
            counts.update(tokenize(texts).flat_values.numpy())
        counts = collections.Counter({t.decode("utf-8"): n for t, n in counts.items()})
        data.vocabulary = Vocabulary.build(counts, max_size=max_vocabulary, min_count=min_count)
        data.vocabulary.save(vocabulary_path)
        data.vocabulary.save_counts(counts_path)
    return data


def pipeline_speed(batches, seconds=3.0, warmup=5):
    """Batches per second that a tf.data pipeline delivers, iterating it alone for `seconds`.

    Args:
        batches: an iterable of batches that lasts at least `warmup` batches plus `seconds`
            (e.g. a repeated `tf.data.Dataset`).
        seconds: float, how long to iterate.
        warmup: int, batches drawn before timing starts (filling buffers, tracing).

    Returns:
        float, batches per second.

    Examples:
        >>> import tensorflow as tf
        >>> from kasm_keras.data.datasets import pipeline_speed
        >>> pipeline_speed(tf.data.Dataset.range(100).batch(10).repeat(), seconds=0.1) > 0
        True
    """
    iterator = iter(batches)
    for _ in range(warmup):
        next(iterator)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        next(iterator)
        count += 1
    return count / (time.perf_counter() - start)
