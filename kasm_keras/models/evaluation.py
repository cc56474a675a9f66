"""What kasm-evaluate and kasm-data ask of a family (`EvaluationRequest`), and the steps the
families share in answering: reading data with a download hint, a report's table, describing
a text dataset, the data folder a run read, a verified accuracy's line."""

import contextlib
import dataclasses

def accuracy_line(name, measured, recorded, max_change):
    """`tools/zoo.py verify`'s line for a re-measured test accuracy.

    Args:
        name: The entry's zoo name.
        measured: The accuracy measured again, in percent.
        recorded: The accuracy the registry records, in percent.
        max_change: The most they may differ, in points.

    Returns:
        (line, failed): the line (str) and whether they differ by more than `max_change`.

    Examples:
        >>> from kasm_keras.models import evaluation
        >>> evaluation.accuracy_line("ag_news/rkm_cifg_1gram", 90.25, 90.20, 0.1)
        ('ok      ag_news/rkm_cifg_1gram  test accuracy 90.25% (recorded 90.20%, +0.05)', False)
    """
    change = measured - recorded
    failed = abs(change) > max_change
    return (f"{'FAILED' if failed else 'ok':<8}{name}  test accuracy {measured:.2f}% (recorded "
            f"{recorded:.2f}%, {change:+.2f})"), failed


@dataclasses.dataclass(frozen=True)
class EvaluationRequest:
    """What kasm-evaluate asks of a model: `TaskFamily.evaluate`'s question.

    Attributes:
        model_name: How messages name the model, e.g. "--zoo=ptb/rkm_lstm".
        settings_name: Where the model's training settings are, for messages, e.g.
            "runs/ptb/config.json" or "the zoo entry ptb/rkm_lstm's metadata".
        dataset: The dataset to evaluate on; None: the one the model was trained on.
        split: "train", "validation" (or "valid") or "test".
        texts: Texts to classify or score instead of a split; None: a split.
        data_dir: Where the data is; None: downloaded into `cache_dir`.
        cache_dir: Where downloads and prepared data go.
        batch_size: A language model's rows the split's stream is cut into; None: the run's.
        bptt: A language model's window; None: the run's.
        run_data: Whether the folder the model's training run read stands in for a missing
            `data_dir` (the model is a run's on this machine, not a zoo entry).
        downloading: `downloading(what)` gives a context manager around reading data that may
            be downloaded (`what`, e.g. "the ptb corpus", names it in a message); None: none.

    Examples:
        >>> from kasm_keras.models.evaluation import EvaluationRequest
        >>> request = EvaluationRequest("--zoo=ptb/rkm_lstm", "the zoo entry's metadata",
        ...                             split="valid")
        >>> request.dataset, request.split, request.texts
        (None, 'valid', None)
    """

    model_name: str
    settings_name: str
    dataset: str = None
    split: str = "test"
    texts: tuple = None
    data_dir: str = None
    cache_dir: str = None
    batch_size: int = None
    bptt: int = None
    run_data: bool = False
    downloading: object = None

    def reading(self, what):
        """A context manager around reading data that may be downloaded.

        Args:
            what: What is read, for a message, e.g. "the ag_news dataset".

        Returns:
            `downloading(what)`, or a context manager that does nothing.

        Examples:
            >>> from kasm_keras.models.evaluation import EvaluationRequest
            >>> with EvaluationRequest("--zoo=x", "x").reading("the ptb corpus"):
            ...     pass
        """
        return reading(self.downloading, what)


def reading(downloading, what):
    """A context manager around reading data that may be downloaded.

    Args:
        downloading: `downloading(what)` gives the context manager; None: none.
        what: What is read, for a message, e.g. "the ag_news dataset".

    Returns:
        `downloading(what)`, or a context manager that does nothing.

    Examples:
        >>> from kasm_keras.models import evaluation
        >>> with evaluation.reading(None, "the ptb corpus"):
        ...     pass
    """
    return contextlib.nullcontext() if downloading is None else downloading(what)


def table_cell(text):
    """`text` as one tab-separated cell: its tabs and line breaks written as \\t, \\n, \\r.

    Args:
        text: str.

    Returns:
        str, on one line without tabs.

    Examples:
        >>> from kasm_keras.models import evaluation
        >>> print(evaluation.table_cell("a\\tb\\nc"))
        a\\tb\\nc
    """
    return text.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def classification_text(report):
    """A classifier's report on a split as a table: its accuracy, each class's precision,
    recall, F1 and support, and the confusion matrix.

    Args:
        report: {"dataset", "split", "accuracy", "classes", "per_class", "confusion_matrix"}
            and the number of "documents" or "cases".

    Returns:
        The table (str).

    Examples:
        >>> from kasm_keras.models import evaluation
        >>> report = {"dataset": "toy", "split": "test", "accuracy": 0.5, "cases": 2,
        ...           "classes": ["a", "b"], "confusion_matrix": [[1, 0], [1, 0]],
        ...           "per_class": {"a": {"precision": 0.5, "recall": 1.0, "f1": 0.667,
        ...                                "support": 1},
        ...                         "b": {"precision": 0.0, "recall": 0.0, "f1": 0.0,
        ...                               "support": 1}}}
        >>> print(evaluation.classification_text(report).splitlines()[0])
        toy test: accuracy 0.5000 on 2 cases
    """
    classes = report["classes"]
    unit = "cases" if "cases" in report else "documents"
    lines = [f"{report['dataset']} {report['split']}: accuracy {report['accuracy']:.4f} "
             f"on {report[unit]:,} {unit}", "",
             f"  {'class':<24}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
    for name, s in report["per_class"].items():
        lines.append(f"  {name:<24}{s['precision']:>10.4f}{s['recall']:>10.4f}{s['f1']:>10.4f}"
                     f"{s['support']:>10,}")
    width = max(8, max(len(c) for c in classes) + 2)
    lines += ["", "  confusion matrix (rows: true class, columns: predicted)",
              "  " + " " * 24 + "".join(f"{c[:width - 2]:>{width}}" for c in classes)]
    for name, row in zip(classes, report["confusion_matrix"]):
        lines.append(f"  {name:<24}" + "".join(f"{n:>{width},}" for n in row))
    return "\n".join(lines)


# kasm-data's options that describing a text dataset takes (a corpus ignores the vocabulary's,
# lengths' and validation split's).
TEXT_DATA_OPTIONS = ("embeddings", "max_length", "max_vocabulary", "min_count",
                     "validation_fraction", "seed", "skip_bad_rows", "batch_size")


def describe_text(describe, dataset, data_dir=None, cache_dir=None, options=None,
                  downloading=None):
    """A text dataset's report for kasm-data: the word vectors (`--embeddings`) resolved before
    any data is read, TFDS's progress bar off, then `describe`'s report.

    Args:
        describe: `describe(dataset, data_dir, cache_dir, embeddings=, batch_size=,
            **options)`, e.g. `dataset_report.describe_classification`.
        dataset: The dataset's name.
        data_dir: Where its files are; None: downloaded.
        cache_dir: Where prepared data and downloads go.
        options: {name: value}: "embeddings" and "batch_size", the rest passed on to
            `describe`.
        downloading: As for `TaskFamily.describe_data`.

    Returns:
        `describe`'s report.

    Raises:
        WordVectorsError: "embeddings" names nothing usable; the message names --embeddings.

    Examples:
        >>> import os, tempfile
        >>> folder = tempfile.mkdtemp()
        >>> for split in ("train", "valid", "test"):
        ...     with open(os.path.join(folder, f"ptb.{split}.txt"), "w") as f:
        ...         _ = f.write(" the cat sat \\n" * 100)
        >>> from kasm_keras.data import dataset_report
        >>> from kasm_keras.models import evaluation
        >>> evaluation.describe_text(dataset_report.describe_corpus, "ptb", folder,
        ...                           options={"embeddings": "none", "batch_size": 4})["kind"]
        'language_model'
    """
    from kasm_keras.data import word_vectors

    options = dict(options or {})
    embeddings = options.pop("embeddings", word_vectors.AUTO)
    batch_size = options.pop("batch_size", 64)
    try:  # before any data is read
        word_vectors.resolve_source(embeddings)
    except word_vectors.WordVectorsError as error:
        raise word_vectors.WordVectorsError(f"--embeddings: {error}") from error
    from kasm_keras.data.tfds_builders import without_progress_bars

    with without_progress_bars(), reading(downloading, f"the {dataset} dataset"):
        return describe(dataset, data_dir, cache_dir, embeddings=embeddings,
                        batch_size=batch_size, **options)


def run_data_dir(run, data_dir=None, run_data=False):
    """Where a model's data is read: `data_dir`, else (for a run's model on this machine) the
    folder its run read when it is still there, else None (downloaded).

    Args:
        run: The run's settings (its config.json), with an optional "data_dir".
        data_dir: The folder given; None: none.
        run_data: Whether the run's own folder may stand in (the model is a run's, not a zoo
            entry's).

    Returns:
        A folder (str) or None.

    Examples:
        >>> import tempfile
        >>> from kasm_keras.models import evaluation
        >>> folder = tempfile.mkdtemp()
        >>> evaluation.run_data_dir({"data_dir": folder}, None, True) == folder
        True
        >>> print(evaluation.run_data_dir({"data_dir": folder}, None, False))
        None
    """
    import os

    if data_dir is not None or not run_data:
        return data_dir
    folder = run.get("data_dir")
    return folder if folder and os.path.isdir(folder) else None
