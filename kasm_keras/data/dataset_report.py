"""What a dataset holds, measured: split sizes, classes, vocabulary, lengths, vectors, pipeline
speed; for a time series its files, channels, lengths and standardisation. `tools/data.py`
prints these reports (`describe_classification`, `describe_corpus`, `describe_time_series`;
`format_classification`, `format_corpus`, `format_time_series`), each family choosing its own
(`TaskFamily.describe_data`).
"""

import os

import numpy as np

from kasm_keras.data import datasets, language_model_data, word_vectors
from kasm_keras.data.datasets import pipeline_speed
from kasm_keras.utils.files import file_digest


def _length_stats(lengths, max_length):
    if lengths.size == 0:
        return {"mean": 0.0, "median": 0.0, "p95": 0.0, "max": 0, "cut_share": 0.0}
    return {
        "mean": float(np.mean(lengths)),
        "median": float(np.median(lengths)),
        "p95": float(np.percentile(lengths, 95)),
        "max": int(np.max(lengths)),
        "cut_share": float(np.mean(lengths > max_length)),
    }


def _vectors(vocabulary, source):
    """Coverage of `source` (already resolved), or None for no vectors."""
    if source == word_vectors.NONE:
        return None
    _, coverage = word_vectors.embedding_matrix(vocabulary, source)
    return {"source": str(coverage.source), "dim": coverage.dim, "found": coverage.found,
            "vocabulary_share": coverage.vocabulary_share, "token_share": coverage.token_share}


def _embeddings(requested):
    """{"requested": ..., "source": ...}: what --embeddings asked for and what it resolved to,
    checked (`word_vectors.WordVectorsError`) before any data is read."""
    requested = word_vectors.NONE if requested in (None, "") else str(requested)
    return {"requested": requested, "source": word_vectors.resolve_source(requested)}


def describe_classification(name, data_dir=None, cache_dir=None, embeddings=word_vectors.AUTO,
                            batch_size=64, **options):
    """What a classification data set holds, as a JSON-ready dict: split sizes, classes and
    their balance, the vocabulary, document lengths, the word vectors' coverage and the input
    pipeline's speed.

    `embeddings` is resolved as tools/train.py resolves it (`word_vectors.resolve_source`):
    "auto" reports the built-in vectors when their package is installed, and none otherwise,
    with the report's "embeddings" entry saying which.

    Args:
        name: a classification data set (`datasets.CLASSIFICATION`).
        data_dir: optional local copy; None downloads the official files.
        cache_dir: optional cache folder of the prepared data.
        embeddings: the word vectors to report on: "auto", "none", a built-in name or a file.
        batch_size: int, the batch size of the pipeline timed.
        **options: `datasets.load_classification`'s settings (max_vocabulary, min_count,
            max_length, validation_fraction, seed, skip_bad_rows).

    Returns:
        A dict; `format_classification` prints it.

    Raises:
        word_vectors.WordVectorsError: if `embeddings` names nothing usable (checked before
            any data is read).

    Examples:
        >>> from kasm_keras.data.dataset_report import describe_classification
        >>> report = describe_classification("ag_news", "../shared/data", embeddings="none",
        ...                                  batch_size=4)  # doctest: +SKIP
        >>> report["kind"], report["num_classes"]  # doctest: +SKIP
        ('classification', 4)
    """
    chosen = _embeddings(embeddings)
    data = datasets.load_classification(name, data_dir, cache_dir=cache_dir, **options)
    splits = ("train", "validation", "test")
    labels = {split: data.labels(split) for split in splits}
    oov = data.vocabulary.counts[data.vocabulary.oov_id]
    return {
        "dataset": name,
        "kind": "classification",
        "splits": {split: int(labels[split].size) for split in splits},
        "num_classes": data.num_classes,
        "classes": list(data.classes),
        "class_balance": {
            split: dict(zip(data.classes, np.bincount(labels[split], minlength=data.num_classes)
                            .tolist())) for split in splits},
        "vocabulary_size": len(data.vocabulary),
        "train_oov_share": oov / max(1, sum(data.vocabulary.counts)),
        "max_length": data.max_length,
        "length": {split: _length_stats(data.lengths(split), data.max_length) for split in splits},
        "skipped_rows": [str(row) for row in data.skipped_rows()],
        "embeddings": chosen,
        "vectors": _vectors(data.vocabulary, chosen["source"]),
        "pipeline": {"batch_size": batch_size, "batches_per_second": pipeline_speed(
            data.batches("train", batch_size, shuffle=True, repeat=True))
            if labels["train"].size else 0.0},
    }


def describe_corpus(name, data_dir=None, cache_dir=None, embeddings=word_vectors.AUTO,
                    batch_size=64, sequence_length=70):
    """What a language-model corpus holds, as a JSON-ready dict: tokens per split, the
    vocabulary, the tokens mapped to <unk>, the word vectors' coverage (`embeddings` as for
    `describe_classification`) and the input pipeline's speed.

    Args:
        name: a corpus (`datasets.LANGUAGE_MODELLING`).
        data_dir: optional local copy; None downloads the official files.
        cache_dir: not used: a corpus is read as it is.
        embeddings: the word vectors to report on: "auto", "none", a built-in name or a file.
        batch_size: int, the batch size of the pipeline timed.
        sequence_length: int, the windows of the pipeline timed.

    Returns:
        A dict; `format_corpus` prints it.

    Raises:
        word_vectors.WordVectorsError: if `embeddings` names nothing usable (checked before
            any data is read).

    Examples:
        >>> import os, tempfile
        >>> folder = tempfile.mkdtemp()
        >>> for split in ("train", "valid", "test"):
        ...     with open(os.path.join(folder, f"ptb.{split}.txt"), "w") as f:
        ...         _ = f.write(" the cat sat \\n the dog sat \\n" * 50)
        >>> from kasm_keras.data.dataset_report import describe_corpus
        >>> report = describe_corpus("ptb", folder, embeddings="none", batch_size=4,
        ...                          sequence_length=5)
        >>> report["kind"], report["splits"], report["vocabulary_size"]
        ('language_model', {'train': 400, 'validation': 400, 'test': 400}, 6)
    """
    chosen = _embeddings(embeddings)
    corpus = language_model_data.load_corpus(name, data_dir)
    names = {"train": "train", "valid": "validation", "test": "test"}
    return {
        "dataset": name,
        "kind": "language_model",
        "splits": {names[s]: int(n) for s, n in corpus.num_tokens.items()},
        "num_classes": None,
        "vocabulary_size": len(corpus.vocabulary),
        "mapped_to_unk": {names[s]: int(n) for s, n in corpus.mapped_to_unk.items()},
        "embeddings": chosen,
        "vectors": _vectors(corpus.vocabulary, chosen["source"]),
        "pipeline": {"batch_size": batch_size, "sequence_length": sequence_length,
                     "batches_per_second": pipeline_speed(corpus.batches(
                         "train", batch_size, sequence_length).repeat())},
    }


def _no_vectors_reason(chosen):
    if chosen and chosen["requested"] == word_vectors.AUTO:
        package = word_vectors.BUILTIN_SOURCES[word_vectors.AUTO_BUILTIN].package
        return (f"none (--embeddings=auto uses {word_vectors.AUTO_BUILTIN} when {package} is "
                f"installed, and it is not: pip install {package})")
    return "none (--embeddings=none)"


def describe_time_series(data):
    """What a time-series data set holds, as a JSON-ready dict.

    The report gives the files and their sha256, cases per split, channels, classes and their
    balance, lengths and the per-channel statistics of the standardisation fitted on its
    training cases.

    Args:
        data: a `time_series_data.TimeSeriesData`.

    Returns:
        A dict; `format_time_series` prints it.

    Examples:
        >>> import os, tempfile
        >>> from kasm_keras.data.time_series_data import load_time_series
        >>> folder = tempfile.mkdtemp()
        >>> toy = ("@problemName Toy\\n@classLabel true up down\\n@data\\n"
        ...        "1,2,3:4,5,6:up\\n7,8:9,10:down\\n1,1:2,2:up\\n3,3,3:4,4,4:down\\n")
        >>> for split in ("TRAIN", "TEST"):
        ...     with open(os.path.join(folder, f"Toy_{split}.ts"), "w") as f:
        ...         _ = f.write(toy)
        >>> data = load_time_series("ts_files", folder, validation_fraction=0.5)
        >>> from kasm_keras.data.dataset_report import describe_time_series
        >>> report = describe_time_series(data)
        >>> report["splits"], report["channels"], report["class_balance"]["test"]
        ({'train': 2, 'validation': 2, 'test': 4}, 2, {'up': 2, 'down': 2})
    """
    return {
        "dataset": data.name, "kind": "time_series",
        "files": {split: {"path": os.path.abspath(path), "sha256": file_digest(path)}
                  for split, path in data.paths.items()},
        "splits": data.split_sizes(), "channels": data.channels, "classes": list(data.classes),
        "class_balance": {split: {name: int(np.sum(np.asarray(labels) == i))
                                  for i, name in enumerate(data.classes)}
                          for split, (_, labels) in data.cases.items()},
        "length": {split: {"min": int(data.lengths(split).min()),
                           "mean": float(data.lengths(split).mean()),
                           "max": int(data.lengths(split).max())} for split in data.cases},
        "mean": data.mean.tolist(), "std": data.std.tolist(),
    }


def _class_balance_lines(report):
    lines = ["  class balance (train / validation / test):"]
    for name in report["classes"]:
        counts = " / ".join(f"{report['class_balance'][s][name]:,}" for s in report["splits"])
        lines.append(f"    {name:<24}{counts}")
    return lines


def _split_lines(report, unit):
    lines = [f"  {'split':<12}{unit:>12}"]
    lines += [f"  {split:<12}{n:>12,}" for split, n in report["splits"].items()]
    return lines + [f"  vocabulary: {report['vocabulary_size']:,} tokens"]


def _classification_lines(report):
    lines = _split_lines(report, "documents")
    lines.append(f"  training tokens out of vocabulary: {report['train_oov_share']:.2%}")
    lines += _class_balance_lines(report)
    lines.append(f"  length in tokens (documents cut at {report['max_length']}):")
    lines.append(f"    {'split':<12}{'mean':>8}{'median':>8}{'p95':>8}{'max':>8}{'cut':>8}")
    for split, s in report["length"].items():
        lines.append(f"    {split:<12}{s['mean']:>8.1f}{s['median']:>8.0f}{s['p95']:>8.0f}"
                     f"{s['max']:>8}{s['cut_share']:>8.1%}")
    if report["skipped_rows"]:
        lines.append(f"  skipped {len(report['skipped_rows'])} bad rows:")
        lines.extend(f"    {row}" for row in report["skipped_rows"])
    return lines + _text_tail_lines(report)


def _corpus_lines(report):
    lines = _split_lines(report, "tokens")
    mapped = ", ".join(f"{s} {n:,}" for s, n in report["mapped_to_unk"].items())
    lines.append(f"  tokens mapped to <unk>: {mapped}")
    return lines + _text_tail_lines(report)


def _text_tail_lines(report):
    """A text data set's word vectors and input pipeline."""
    vectors = report["vectors"]
    if vectors:
        lines = [f"  word vectors {vectors['source']} ({vectors['dim']}d): "
                 f"{vectors['found']:,} words, {vectors['vocabulary_share']:.1%} of the "
                 f"vocabulary, {vectors['token_share']:.1%} of training tokens"]
    else:
        lines = [f"  word vectors: {_no_vectors_reason(report.get('embeddings'))}"]
    pipeline = report["pipeline"]
    lines.append(f"  input pipeline: {pipeline['batches_per_second']:,.0f} batches/s "
                 f"of {pipeline['batch_size']}")
    return lines


def _time_series_lines(report):
    lines = [f"  {split} file: {f['path']} (sha256 {f['sha256'][:16]}...)"
             for split, f in report["files"].items()]
    lines.append(f"  {'split':<12}{'cases':>8}{'min len':>9}{'mean len':>10}{'max len':>9}")
    for split, n in report["splits"].items():
        length = report["length"][split]
        lines.append(f"  {split:<12}{n:>8,}{length['min']:>9}{length['mean']:>10.1f}"
                     f"{length['max']:>9}")
    lines += _class_balance_lines(report)
    lines.append("  standardisation fitted on train (mean / std per channel):")
    lines += [f"    {i:>3} {m:>12.5f} {s:>12.5f}"
              for i, (m, s) in enumerate(zip(report["mean"], report["std"]))]
    return lines


def _time_series_title(report):
    return (f"{report['dataset']} (time series: {report['channels']} channels, "
            f"{len(report['classes'])} classes)")


def _title(report):
    return f"{report['dataset']} ({report['kind'].replace('_', ' ')})"


def format_classification(report):
    """A report of `describe_classification` as a readable text table.

    Args:
        report: a dict of `describe_classification`.

    Returns:
        str, one line per row of the table, a title first.

    Examples:
        >>> from kasm_keras.data.dataset_report import (describe_classification,
        ...                                             format_classification)
        >>> report = describe_classification("ag_news", "../shared/data",
        ...                                  embeddings="none")  # doctest: +SKIP
        >>> print(format_classification(report).splitlines()[0])  # doctest: +SKIP
        ag_news (classification)
    """
    return "\n".join([_title(report)] + _classification_lines(report))


def format_corpus(report):
    """A report of `describe_corpus` as a readable text table.

    Args:
        report: a dict of `describe_corpus`.

    Returns:
        str, one line per row of the table, a title first.

    Examples:
        >>> import os, tempfile
        >>> folder = tempfile.mkdtemp()
        >>> for split in ("train", "valid", "test"):
        ...     with open(os.path.join(folder, f"ptb.{split}.txt"), "w") as f:
        ...         _ = f.write(" the cat sat \\n" * 50)
        >>> from kasm_keras.data.dataset_report import describe_corpus, format_corpus
        >>> report = describe_corpus("ptb", folder, embeddings="none", batch_size=4,
        ...                          sequence_length=5)
        >>> print(format_corpus(report).splitlines()[0])
        ptb (language model)
    """
    return "\n".join([_title(report)] + _corpus_lines(report))


def format_time_series(report):
    """A report of `describe_time_series` as a readable text table.

    Args:
        report: a dict of `describe_time_series`.

    Returns:
        str, one line per row of the table, a title first.

    Examples:
        >>> import os, tempfile
        >>> from kasm_keras.data.time_series_data import load_time_series
        >>> folder = tempfile.mkdtemp()
        >>> toy = ("@problemName Toy\\n@classLabel true up down\\n@data\\n"
        ...        "1,2,3:4,5,6:up\\n7,8:9,10:down\\n1,1:2,2:up\\n3,3,3:4,4,4:down\\n")
        >>> for split in ("TRAIN", "TEST"):
        ...     with open(os.path.join(folder, f"Toy_{split}.ts"), "w") as f:
        ...         _ = f.write(toy)
        >>> data = load_time_series("ts_files", folder, validation_fraction=0.5)
        >>> from kasm_keras.data.dataset_report import describe_time_series, format_time_series
        >>> print(format_time_series(describe_time_series(data)).splitlines()[0])
        ts_files (time series: 2 channels, 2 classes)
    """
    return "\n".join([_time_series_title(report)] + _time_series_lines(report))
