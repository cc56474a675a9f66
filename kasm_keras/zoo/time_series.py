"""The zoo's time-series classifiers: `<dataset>/<variant>_<n>gram` for JapaneseVowels
(`japanese_vowels/rkm_lstm_3gram`), the public stand-in for the paper's Table 4 task (local
field potentials, not public).

An entry is a keras-hub preset of a `TimeSeriesClassifier` (`config.json`, `task.json`,
`model.weights.h5`, `task.weights.h5`, `metadata.json`; no preprocessor: the per-channel
standardisation fitted on the training split is inside the backbone, as two non-trainable
weights). The models are small (tens of thousands of weights), so they are stored in float32 as
trained: publishing measures the stored entry's test accuracy again and refuses it when it
differs from the run's at all (`MAX_ACCURACY_CHANGE`). Its registry record has
`"task": "time_series"`.

`GOALS` are the test accuracies the entries were trained to reach (published results for
recurrent models on JapaneseVowels are around 97-99%); the README's table states each entry
beside its goal and beside the paper's Table 4 numbers, which are on the LFP recordings: another
data set, given for context only.
"""

import os

from kasm_keras import zoo

DATASETS = ("japanese_vowels",)
VARIANTS = ("lstm", "rkm_lstm", "rkm_cifg", "gated_cnn")
NGRAMS = (1, 3)
# Test accuracy (fraction) each variant's entries are to reach on JapaneseVowels.
GOALS = {"lstm": 0.97, "rkm_lstm": 0.97, "rkm_cifg": 0.97, "gated_cnn": 0.94}
PRESET_FILES = ("config.json", "metadata.json", "model.weights.h5", "task.json",
                "task.weights.h5")
STORAGE = "float32 weights, as trained"
# Stored as trained: the stored entry must score exactly what the run's best model scored.
MAX_ACCURACY_CHANGE = 1e-9
MAX_ENTRY_BYTES = 2_000_000
# What a time-series run's metrics.json must hold to be published.
METRICS_KEYS = ("task", "dataset", "model", "ngram", "test_accuracy", "val_accuracy", "classes",
                "channels", "splits", "parameters", "steps", "train_seconds", "command",
                "versions")
# The settings of a run's config.json that make its recipe (`info`'s "recipe").
RECIPE_KEYS = ("units", "layer_norm", "learn_sigmas", "ngram_padding", "dropout", "batch_size",
               "learning_rate", "epochs", "max_steps", "eval_every", "validation_fraction",
               "split_seed", "policy")
# The metadata the registry keeps (what `info` returns without downloading the entry).
SUMMARY_KEYS = ("task", "dataset", "variant", "ngram", "classes", "channels", "test_accuracy",
                "val_accuracy", "goal", "paper_lfp_accuracy", "training_cases",
                "validation_cases", "test_cases", "parameters", "steps", "training_minutes",
                "recipe", "command", "seed", "versions", "storage")


def names():
    """Every time-series name the zoo knows, published or not: dataset, n-gram width, variant."""
    return [zoo.entry_name(d, v, n) for d in DATASETS for n in NGRAMS for v in VARIANTS]


def parse_name(name):
    """(dataset, variant, ngram) of a time-series name (`names`), else None."""
    return zoo.split_cell_name(name) if name in names() else None


def is_time_series_run(metrics):
    return metrics.get("task") == zoo.TIME_SERIES


def _percent(metadata, key, where):
    value = metadata.get(key)
    if value is None:
        return None
    try:
        return 100.0 * float(value)
    except (TypeError, ValueError):
        raise zoo.ZooError(f"{where}: unreadable metadata ({key} {value!r} is not a number); the "
                           "registry is damaged") from None


def info_fields(metadata, where="the registry"):
    """A time-series entry's `info`:

    - `task` ("time_series"), `dataset`, `variant`, `ngram`, `classes`, `channels`;
    - `test_accuracy` (percent): measured from the entry's stored files when it was published,
      over the whole test split; `val_accuracy` (percent): the best model's on the validation
      split carved from the training file (the validation loss chose it); `goal` (percent):
      what the entry was trained to reach (`GOALS`);
    - `paper_lfp_accuracy`: the paper's Table 4 number for the variant, mean leave-one-out
      accuracy on the LFP recordings, another data set (None for variants Table 4 lacks);
    - `training_cases`, `validation_cases`, `test_cases`; `parameters` ({"table2",
      "kernel_rnn", "total"}); `steps`, `training_minutes`; `recipe`; `command`, `seed`,
      `versions`, `storage`.
    """
    fields = dict(metadata)
    for key in ("test_accuracy", "val_accuracy", "goal"):
        fields[key] = _percent(fields, key, where)
    from kasm_keras import paper

    fields.setdefault("paper_lfp_accuracy", paper.table4_accuracy(fields.get("variant")))
    return fields


def entry_metadata(metrics, training):
    """An entry's metadata from the run's metrics.json and settings (config.json), before its
    test accuracy is measured from the stored files."""
    from kasm_keras import paper

    variant = metrics["model"]
    splits = metrics["splits"]
    return {
        "task": zoo.TIME_SERIES, "dataset": metrics["dataset"], "variant": variant,
        "ngram": metrics["ngram"], "classes": list(metrics["classes"]),
        "channels": metrics["channels"], "val_accuracy": float(metrics["val_accuracy"]),
        "trained_test_accuracy": float(metrics["test_accuracy"]),
        "goal": GOALS.get(variant), "paper_lfp_accuracy": paper.table4_accuracy(variant),
        "training_cases": splits["train"], "validation_cases": splits["validation"],
        "test_cases": splits["test"], "parameters": metrics["parameters"],
        "steps": int(metrics["steps"]),
        "training_minutes": float(metrics["train_seconds"]) / 60,
        "recipe": {k: training[k] for k in RECIPE_KEYS if k in training},
        "command": metrics["command"], "seed": training.get("seed"),
        "versions": metrics["versions"], "storage": STORAGE,
        "metrics": metrics, "training": training,
    }


def summary(metadata):
    return {k: metadata[k] for k in SUMMARY_KEYS if k in metadata}


# ------------------------------------------------------------------ loading

def _check_consistent(classifier, directory):
    """Files that match their digests can still disagree with each other."""
    path = os.path.join(directory, "metadata.json")
    if not os.path.exists(path):
        return
    metadata = zoo._read_json(path).get("kasm_keras", {})
    for key, ours in (("classes", classifier.class_names), ("channels", classifier.channels),
                      ("variant", classifier.backbone.variant)):
        theirs = metadata.get(key)
        if theirs is not None and theirs != ours:
            raise zoo.ZooError(f"{path} gives the {key} as {theirs}, task.json and config.json "
                               f"as {ours}")


def load_preset(directory):
    """A `TimeSeriesClassifier` from a verified preset directory, in safe mode; every file that
    does not fit the others is named."""
    from kasm_keras.models.time_series_classifier import TimeSeriesClassifier

    classifier = zoo.task_from_preset(TimeSeriesClassifier, directory,
                                      "the configs (task.json, config.json)",
                                      "kasm_keras time-series classifier")
    _check_consistent(classifier, directory)
    return zoo.load_task_weights(classifier, directory)


# ------------------------------------------------------------------ measuring

def split_cases(dataset, split="test", data_dir=None, cache_dir=None, training=None,
                model=None):
    """(classes, series, labels) of a split of `dataset` as a run with settings `training`
    (its config.json) split it: "validation" is carved from the training file with the run's
    `validation_fraction` and `split_seed`; "test" is the test file whole (series up to the
    run's `max_series_length` steps). With `model` (a TimeSeriesClassifier), a value that is
    not finite once standardised with the model's statistics is a DataError at its file and
    line."""
    from kasm_keras.data import time_series_data

    training = training or {}
    data = time_series_data.load_time_series(
        dataset, data_dir, cache_dir, training.get("validation_fraction", 0.2),
        training.get("split_seed", 0),
        training.get("max_series_length", time_series_data.MAX_LENGTH))
    series, labels = data.cases[split]
    if model is not None and data.channels == model.channels:  # the caller names a mismatch
        time_series_data.check_standardised(
            series, data.sources[split], *model.backbone.standardization.get_weights(),
            "the model's statistics")
    return data.classes, series, labels


def accuracy(classifier, series, labels):
    return classifier.classification_report(series, labels)["accuracy"]


# ------------------------------------------------------------------ publishing

def save_entry(classifier, directory, metadata):
    """Writes `classifier` as a float32 preset with softmax outputs, and `metadata` merged into
    keras-hub's metadata.json under "kasm_keras"."""
    stored = classifier.rebuilt(activation="softmax", dtype="float32")
    stored.save_to_preset(directory)
    zoo._write_metadata(directory, metadata)


def publish(classifier, name, metadata, evaluate=None, zoo_dir=None, url=zoo.DEFAULT_URL,
            reference_accuracy=None):
    """Stores a trained `TimeSeriesClassifier` as entry `name` and records it in the registry
    (`zoo.publish`, storing it as this module does).

    `evaluate(stored) -> accuracy` measures the stored entry on the test split; its result is
    recorded as `test_accuracy`, and with `reference_accuracy` (the trained model's) the entry
    is refused when it differs (`MAX_ACCURACY_CHANGE`)."""
    return zoo.publish(classifier, name, {**metadata, "task": zoo.TIME_SERIES, "storage": STORAGE},
                       evaluate, zoo_dir, url, reference_accuracy, storage={
                           "save": save_entry, "load": load_preset, "files": PRESET_FILES,
                           "max_bytes": MAX_ENTRY_BYTES, "max_change": MAX_ACCURACY_CHANGE,
                           "summary": summary, "change": "storing it changed the model"})


def publish_run(model_dir, name, metrics, data_dir=None, cache_dir=None, zoo_dir=None,
                url=zoo.DEFAULT_URL):
    """Publishes a finished time-series run (`metrics`, its metrics.json) as entry `name`: its
    test accuracy measured again from the stored files over the whole test split (read from
    `data_dir`, or downloaded), which must equal the run's."""
    from kasm_keras.models.time_series_classifier import TimeSeriesClassifier

    path = os.path.join(model_dir, "metrics.json")
    missing = [k for k in METRICS_KEYS if k not in metrics]
    if missing:
        raise zoo.ZooError(f"{path} lacks {', '.join(missing)}; not the metrics of a finished "
                           "tools/train.py time-series run")
    if metrics.get("fold"):
        raise zoo.ZooError(f"{model_dir} is a cross-validation fold (tested on one group); "
                           "publish a tools/train.py run")
    trained = zoo.entry_name(metrics["dataset"], metrics["model"], metrics["ngram"])
    if zoo.name_task(name) is not None and name != trained:
        raise zoo.ZooError(f"{model_dir} trained {trained}, not {name}")
    classifier = zoo.load_run(model_dir)  # best.keras, checked against its sha256
    if not isinstance(classifier, TimeSeriesClassifier):
        raise zoo.ZooError(f"{model_dir}/best.keras is a {type(classifier).__name__}, but {path} "
                           "is a time-series run's")
    training = classifier.info
    classes, series, labels = split_cases(metrics["dataset"], "test", data_dir, cache_dir,
                                          training, classifier)
    if list(classes) != list(classifier.class_names):
        raise zoo.ZooError(f"{model_dir} predicts {classifier.class_names}, the data has "
                           f"{classes}")
    return publish(classifier, name, entry_metadata(metrics, training),
                   evaluate=lambda stored: accuracy(stored, series, labels), zoo_dir=zoo_dir,
                   url=url, reference_accuracy=float(metrics["test_accuracy"]))
