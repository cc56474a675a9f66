"""What both classifier families report on a labelled split: accuracy, per-class precision,
recall and F1, and the confusion matrix (one computation, so text and time series agree)."""

import numpy as np


def classification_report(predictions, labels, num_classes, class_names=None, unit="documents"):
    """Scores predicted class ids against true labels: accuracy, per-class precision, recall
    and F1, and the confusion matrix.

    Both classifier families report through this one function, so text and time series are
    scored alike.

    Args:
        predictions: the predicted class ids.
        labels: the true class ids, each in `0..num_classes - 1`.
        num_classes: the number of classes.
        class_names: the classes' names in id order; None for the ids as strings.
        unit: the key the number of examples is reported under ("documents", "series").

    Returns:
        A dict: "accuracy" (None without labels), `unit` (the count), "per_class" ({name:
            {"precision", "recall", "f1", "support"}}), "confusion_matrix" (rows: true class,
            columns: predicted) and "classes" (the names).

    Raises:
        ValueError: a label outside the classes.

    Examples:
        >>> from kasm_keras.models.classification_report import classification_report
        >>> report = classification_report([0, 1, 1], [0, 1, 0], 2, ["neg", "pos"])
        >>> report["documents"], report["confusion_matrix"]
        (3, [[1, 1], [0, 1]])
        >>> report["per_class"]["pos"]["recall"]
        1.0
    """
    predictions = np.asarray(predictions, np.int64)
    labels = np.asarray(labels, np.int64)
    k = num_classes
    if labels.size and not (0 <= labels.min() and labels.max() < k):
        raise ValueError(f"labels must be in 0..{k - 1}, found {labels.min()}..{labels.max()}")
    names = list(class_names or [str(i) for i in range(k)])
    confusion = np.zeros((k, k), np.int64)
    np.add.at(confusion, (labels, predictions), 1)
    per_class = {}
    for i, name in enumerate(names):
        tp = confusion[i, i]
        precision = tp / max(1, confusion[:, i].sum())
        recall = tp / max(1, confusion[i].sum())
        f1 = 2 * precision * recall / max(1e-12, precision + recall)
        per_class[name] = {"precision": float(precision), "recall": float(recall),
                           "f1": float(f1), "support": int(confusion[i].sum())}
    return {"accuracy": float(np.mean(predictions == labels)) if labels.size else None,
            unit: int(labels.size), "per_class": per_class,
            "confusion_matrix": confusion.tolist(), "classes": names}
