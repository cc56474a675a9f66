"""The time-series classifier's task as the zoo and the tools see it: names
`<dataset>/<variant>_<n>gram` for JapaneseVowels (`japanese_vowels/rkm_lstm_3gram`), the public
stand-in for the paper's Table 4 task (local field potentials, not public).

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

from kasm_keras.models import entry_storage
from kasm_keras.models.task_family import TaskFamily, ToolFlag, ZooError, register
from kasm_keras.models.cell_names import CellNames
from kasm_keras.models.evaluation import accuracy_line, classification_text, reading, run_data_dir

DATASETS = ("japanese_vowels",)
VARIANTS = ("lstm", "rkm_lstm", "rkm_cifg", "gated_cnn")
NGRAMS = (1, 3)
# Test accuracy (fraction) each variant's entries are to reach on JapaneseVowels.
GOALS = {"lstm": 0.97, "rkm_lstm": 0.97, "rkm_cifg": 0.97, "gated_cnn": 0.96}
PRESET_FILES = ("config.json", "metadata.json", "model.weights.h5", "task.json",
                "task.weights.h5")
# verify: the most an entry's re-measured test accuracy may differ from the recorded one, in
# points.
MAX_REEVALUATION_CHANGE = 0.1
STORAGE = "float32 weights, as trained"
# Stored as trained: the stored entry must score exactly what the run's best model scored.
MAX_ACCURACY_CHANGE = 1e-9
MAX_ENTRY_BYTES = 2_000_000
# What a time-series run's metrics.json must hold to be published.
# (And how the run was chosen without the test split: "val_accuracy", or a final fit's
# "cross_validation"; `chosen_by`.)
METRICS_KEYS = ("task", "dataset", "model", "ngram", "test_accuracy", "classes", "channels",
                "splits", "parameters", "steps", "train_seconds", "command", "versions")
# What an entry keeps of the cross-validation that fixed a final fit's length
# (`tools/train.py --refit_from_cv`, its metrics.json's "cross_validation").
CROSS_VALIDATION_KEYS = ("cv", "fold_count", "fold_seed", "mean_accuracy", "sd_accuracy",
                         "pooled_accuracy", "median_best_epoch")
# The settings of a run's config.json that make its recipe (`info`'s "recipe").
RECIPE_KEYS = ("units", "layer_norm", "learn_sigmas", "ngram_padding", "dropout", "batch_size",
               "learning_rate", "epochs", "max_steps", "eval_every", "validation_fraction",
               "split_seed", "policy")


class TimeSeriesFamily(CellNames, TaskFamily):
    """The time-series classifier (`TimeSeriesClassifier`) as the zoo and the tools see it:
    cells `<dataset>/<variant>_<n>gram` of JapaneseVowels, stored in float32 as trained.

    Examples:
        >>> from kasm_keras.models.time_series_classifier.family import FAMILY
        >>> FAMILY.name, FAMILY.names()[:2]
        ('time_series', ['japanese_vowels/lstm_1gram', 'japanese_vowels/rkm_lstm_1gram'])
        >>> FAMILY.owns_run({"task": "time_series", "dataset": "japanese_vowels"})
        True
    """
    name = "time_series"
    description = "time-series classifier"
    explains = "series"
    data_kind = "a time-series data set"
    preset_files = PRESET_FILES
    metrics_keys = METRICS_KEYS
    report_table = "time_series"
    max_entry_bytes = MAX_ENTRY_BYTES
    summary_keys = ("task", "dataset", "variant", "ngram", "classes", "channels",
                    "test_accuracy", "val_accuracy", "cv_accuracy", "cross_validation", "goal",
                    "paper_lfp_accuracy",
                    "training_cases", "validation_cases", "test_cases", "parameters", "steps",
                    "training_minutes", "recipe", "command", "seed", "versions", "storage")
    datasets = DATASETS
    variants = VARIANTS
    ngrams = NGRAMS
    export_options = {}

    def task_class(self):
        from kasm_keras.models.time_series_classifier.time_series_classifier import (
            TimeSeriesClassifier)

        return TimeSeriesClassifier

    def owns_dataset(self, dataset):
        from kasm_keras.data import time_series_data

        return dataset in time_series_data.NAMES

    def owns_run(self, metrics):
        return metrics.get("task") == self.name

    def info(self, metadata, where):
        """A time-series entry's `info`:

        - `task` ("time_series"), `dataset`, `variant`, `ngram`, `classes`, `channels`;
        - `test_accuracy` (percent): measured from the entry's stored files when it was
          published, over the whole test split; how the entry was chosen without the test
          split: `val_accuracy` (percent), the best model's on the validation split carved
          from the training file (the validation loss chose it), or, for a final fit on every
          training case (`tools/train.py --refit_from_cv`), `cv_accuracy` (percent), the mean
          test accuracy of the folds of the cross-validation that fixed its length, and
          `cross_validation` (`CROSS_VALIDATION_KEYS`, accuracies as fractions) (the other is
          None);
          `goal` (percent): what the entry was trained to reach (`GOALS`);
        - `paper_lfp_accuracy`: the paper's Table 4 number for the variant, mean leave-one-out
          accuracy on the LFP recordings, another data set (None for variants Table 4 lacks);
        - `training_cases`, `validation_cases`, `test_cases`; `parameters` ({"table2",
          "kernel_rnn", "total"}); `steps`, `training_minutes`; `recipe`; `command`, `seed`,
          `versions`, `storage`.

        Args:
            metadata: The entry's metadata, as the registry keeps it.
            where: What names the record in a ZooError.

        Returns:
            A new dict of the fields.

        Raises:
            ZooError: An accuracy or the goal is not a number.
        """
        from kasm_keras import paper

        fields = dict(metadata)
        for key in ("test_accuracy", "val_accuracy", "cv_accuracy", "goal"):
            fields[key] = entry_storage.number(fields, key, where, 100.0)
        fields.setdefault("paper_lfp_accuracy", paper.table4_accuracy(fields.get("variant")))
        return fields

    def summary_line(self, name, info):
        return (f"  {name:<32} test accuracy {float(info['test_accuracy']):.2f}%  "
                f"({int(info['training_cases']):,} training cases, goal "
                f"{float(info['goal']):.0f}%)")

    def verify(self, name, info, model, data_dirs, cache_dir, splits):
        from kasm_keras.data import time_series_data

        dataset = info["dataset"]
        if dataset not in splits:
            folder = data_dirs["data_dir"] if dataset == time_series_data.OWN_FILES else (
                data_dirs.get("time_series_data_dir") or data_dirs["data_dir"])
            splits[dataset] = split_cases(dataset, "test", folder, cache_dir)[1:]
        return accuracy_line(name, 100 * accuracy(model, *splits[dataset]),
                             info["test_accuracy"], MAX_REEVALUATION_CHANGE)

    def load_preset(self, directory):
        classifier = entry_storage.task_from_preset(
            self.task_class(), directory, "the configs (task.json, config.json)",
            "kasm_keras time-series classifier")
        entry_storage.check_metadata(directory, (
            ("classes", classifier.class_names), ("channels", classifier.channels),
            ("variant", classifier.backbone.variant)))
        return entry_storage.load_task_weights(classifier, directory)

    def save_entry(self, classifier, directory, metadata):
        """Writes a classifier as a float32 preset with softmax outputs.

        Args:
            classifier: A `TimeSeriesClassifier`.
            directory: Where the preset's files are written.
            metadata: Merged into keras-hub's metadata.json under "kasm_keras".
        """
        stored = classifier.rebuilt(activation="softmax", dtype="float32")
        stored.save_to_preset(directory)
        entry_storage.write_metadata(directory, metadata, stored)

    def stage(self, model, name, folder, metadata, evaluate=None, reference=None):
        metadata = {**metadata, "task": self.name, "storage": STORAGE}
        return entry_storage.stage_classifier(self, model, name, folder, metadata, evaluate,
                                              reference, MAX_ACCURACY_CHANGE,
                                              "storing it changed the model")

    def entry_metadata(self, metrics, training):
        """An entry's metadata from the run's record, before its test accuracy is measured
        from the stored files.

        Args:
            metrics: The run's metrics.json, as a dict.
            training: The run's settings (its config.json).

        Returns:
            A dict: the cell, its goal and paper result, the run's record.
        """
        from kasm_keras import paper

        variant = metrics["model"]
        splits = metrics["splits"]
        return {
            "task": self.name, "dataset": metrics["dataset"], "variant": variant,
            "ngram": metrics["ngram"], "classes": list(metrics["classes"]),
            "channels": metrics["channels"], **chosen_by(metrics),
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

    def publication(self, model_dir, model, metrics, data_dir=None, cache_dir=None):
        """What publishing needs; `evaluate` measures the stored entry's accuracy over the
        whole test split, which must equal the run's.

        Args:
            model_dir: The run's folder.
            model: Its best model.
            metrics: Its metrics.json, as a dict.
            data_dir: Where the test split is; None: downloaded.
            cache_dir: Where downloads go.

        Returns:
            (metadata, evaluate, reference), as `stage` takes them.

        Raises:
            ZooError: The run is a cross-validation fold, or the model's classes are not the
                data's.
        """
        if metrics.get("fold"):
            raise ZooError(f"{model_dir} is a cross-validation fold (tested on cases of the "
                           "training file); "
                           "publish a tools/train.py run")
        if metrics.get("val_accuracy") is None and not metrics.get("cross_validation"):
            raise ZooError(f"{model_dir} has neither a validation accuracy nor a "
                           "cross-validation (a run with --validation_fraction=0 not fitted by "
                           "--refit_from_cv): nothing chose it without the test split")
        training = model.info
        classes, series, labels = split_cases(metrics["dataset"], "test", data_dir, cache_dir,
                                              training, model)
        if list(classes) != list(model.class_names):
            raise ZooError(f"{model_dir} predicts {model.class_names}, the data has {classes}")
        return (self.entry_metadata(metrics, training),
                lambda stored: accuracy(stored, series, labels), float(metrics["test_accuracy"]))

    def run_summary(self, metrics, config):
        """As `TaskFamily.run_summary`; a final fit, which held out no validation cases, has
        its cross-validated accuracy ("cv_accuracy", a fraction) in place of "val_accuracy",
        and its recipe leaves out "epochs" and "validation_fraction": its cross-validation set
        them (its folds' median best epoch; none held out), so each seed's differ.

        Args:
            metrics: The run's metrics.json, as a dict.
            config: Its config.json, as a dict.

        Returns:
            A dict, as `TaskFamily.run_summary`'s.

        Examples:
            >>> from kasm_keras.models.time_series_classifier.family import FAMILY
            >>> summary = FAMILY.run_summary(
            ...     {"dataset": "japanese_vowels", "model": "lstm", "ngram": 3, "steps": 200,
            ...      "test_accuracy": 0.97, "cross_validation": {"mean_accuracy": 0.96}},
            ...     {"seed": 1, "batch_size": 8, "epochs": 33.0, "validation_fraction": 0.0})
            >>> summary["cv_accuracy"], "val_accuracy" in summary, summary["recipe"]
            (0.96, False, {'batch_size': 8, 'split_seed': 1})
        """
        chosen = chosen_by(metrics)
        key = "cv_accuracy" if chosen["cv_accuracy"] is not None else "val_accuracy"
        summary = super().run_summary({**metrics, "val_accuracy": chosen[key]}, config)
        summary[key] = summary.pop("val_accuracy")
        if key == "cv_accuracy":
            for setting in ("epochs", "validation_fraction"):
                summary["recipe"].pop(setting, None)
        return summary

    def selection_key(self, summary):
        """The best cross-validated accuracy (of final fits) or validation accuracy first, on a
        tie the lowest seed; the test split plays no part.

        Args:
            summary: A `run_summary`.

        Returns:
            A key that sorts the run to choose first.

        Examples:
            >>> from kasm_keras.models.time_series_classifier.family import FAMILY
            >>> FAMILY.selection_key({"seed": 2, "cv_accuracy": 0.96})
            (-0.96, 2)
        """
        return (-summary.get("cv_accuracy", summary.get("val_accuracy")), summary["seed"])

    def export_saved_model(self, model, folder):
        from kasm_keras.models.time_series_classifier import serving

        serving.export_saved_model(model, folder)

    # --- tools: train, generate, export, explain, zoo ---
    name_form = "<dataset>/<variant>_<n>gram"
    explain_flags = (
        ToolFlag("series", "string", "A time-series classifier: a UEA/UCR .ts file whose "
                 "cases are explained."),
        ToolFlag("cases", "list", "With --series: the cases (0-based, in the file's order) "
                 "to explain (default: all).", check="indices"))
    explain_needs = ("series",)
    data_dir_flags = (
        ToolFlag("time_series_data_dir", "string", "verify: where the time-series entries' .ts "
                 "files (or the sktime wheel holding them) are (default "
                 "$KASM_KERAS_TIME_SERIES_DATA; unset: --data_dir, else the pinned wheel is "
                 "downloaded).", lambda: os.environ.get("KASM_KERAS_TIME_SERIES_DATA"),
                 check="folder"),)
    recipe_keys = RECIPE_KEYS

    def explain_inputs(self, given):
        from kasm_keras.data import time_series_data
        from kasm_keras.data.classification_data import DataError

        path = given["series"]
        cases = time_series_data.read_ts(path)
        chosen = [int(c) for c in given["cases"]] if given["cases"] else range(len(cases.series))
        beyond = [c for c in chosen if c >= len(cases.series)]
        if beyond:
            raise DataError(f"--cases={beyond[0]}: {path} has {len(cases.series)} cases "
                            f"(0 to {len(cases.series) - 1})")
        sources = [f"{os.path.basename(path)} case {c} (line {cases.lines[c]}, class "
                   f"{cases.classes[cases.labels[c]]})" for c in chosen]
        return sources, [cases.series[c] for c in chosen], {}

    # --- documentation: model cards and result pages ---
    card_usage = (
        "model = kasm_keras.zoo.load(\"{name}\")  # a TimeSeriesClassifier\n"
        "model.classify([np.random.randn(20, {channels})])\n"
        "model.explain([np.random.randn(20, {channels})])  # each step's and channel's share\n"
        "model.fit(series, labels, epochs=1)  # fine-tunes")
    card_explain_input = "--series=CASES.ts --cases=0"
    headline_paper_metric = "paper_lfp_accuracy"
    headline_label = "test accuracy {:.2f}%"
    headline_paper_note = " (Table 4: LFP, other data)"

    def card_measured(self, info, seed_noise):
        from kasm_keras import paper

        rows = [("test accuracy (%)", self.card_number(info["test_accuracy"]),
                 f"{self.card_number(info.get('paper_lfp_accuracy'))} (Table 4, "
                 f"{paper.TABLE4_DATA})", "")]
        cv = info.get("cross_validation")
        if cv:
            rows.append((f"cross-validated accuracy (%), mean ± sd over {cv['fold_count']} "
                         f"stratified folds of the training file (seed {cv['fold_seed']}), "
                         f"whose median best epoch ({cv['median_best_epoch']:g}) set this final "
                         "fit's length",
                         f"{self.card_number(info['cv_accuracy'])} ± "
                         f"{self.card_number(100 * cv['sd_accuracy'])}", "", ""))
        else:
            rows.append(("validation accuracy (%)", self.card_number(info.get("val_accuracy")),
                         "", ""))
        rows.append(("seed noise", seed_noise, "", ""))
        data = (f"{info['dataset']}: {info['training_cases']} training, "
                f"{info['validation_cases']} validation and {info['test_cases']} test cases")
        return rows, data
    # --- evaluation and data description (kasm-evaluate, kasm-data) ---
    evaluate_refusal = "applies to text models, not to a time-series classifier"
    data_options = ("validation_fraction", "seed", "max_series_length")
    data_refusal = "applies to text data sets"
    data_noun = "data set"

    def dataset_names(self):
        from kasm_keras.data import time_series_data

        return time_series_data.NAMES

    def evaluate(self, model, request):
        """Accuracy, per-class scores and the confusion matrix over a split of the data set
        (the validation cases as the model's run held them out). Without `data_dir`, a run's
        model reads the folder its run read when it is still there.

        Args:
            model: A `TimeSeriesClassifier`.
            request: An `EvaluationRequest` (no texts).

        Returns:
            {"dataset", "split", and `classification_report`'s fields}.

        Raises:
            ZooError: The model is a cross-validation fold's, the dataset is not a time-series
                data set, or its classes or channels are not the model's.
        """
        from kasm_keras.data import time_series_data

        info = model.info if isinstance(model.info, dict) else {}
        run = info.get("training", info)
        if run.get("fold"):
            fold = run["fold"]
            which = f"group {fold['group']!r}" if "group" in fold else fold.get("fold")
            raise ZooError(f"{request.model_name} is one fold of a cross-validation ({which}): "
                           "its test cases are held out of the training file, its validation "
                           "cases part of the others'; its accuracy is in its metrics.json and "
                           "the cross-validation's cv.json")
        dataset = request.dataset or run.get("dataset")
        if not self.owns_dataset(dataset):
            raise ZooError(f"--dataset={dataset} is not {self.data_kind}, but "
                           f"{request.model_name} is a {self.description} (data sets: "
                           f"{', '.join(time_series_data.NAMES)})")
        split = "validation" if request.split == "valid" else request.split
        data_dir = run_data_dir(run, request.data_dir, request.run_data)
        with request.reading(f"the {dataset} {self.data_noun}"):
            classes, series, labels = split_cases(dataset, split, data_dir, request.cache_dir,
                                                  run, model)
        if not series:  # a final fit's validation split: it trained on every training case
            raise ZooError(f"{request.model_name} has no {split} cases: it was trained on every "
                           "training case (--validation_fraction=0)")
        if list(classes) != list(model.class_names or classes):
            raise ZooError(f"the model predicts {model.class_names}, but {dataset} has "
                           f"classes {list(classes)}")
        if series and series[0].shape[1] != model.channels:
            raise ZooError(f"{dataset} has {series[0].shape[1]} channels, the model takes "
                           f"{model.channels}")
        return {"dataset": dataset, "split": split,
                **model.classification_report(series, labels)}

    def format_evaluation(self, report):
        return classification_text(report)

    def describe_data(self, dataset, data_dir=None, cache_dir=None, options=None,
                      downloading=None):
        """`dataset_report.describe_time_series` of the data set read with kasm-data's options
        (validation_fraction None: `time_series_data.VALIDATION_FRACTION` of each class).

        Args:
            dataset: A time-series data set's name.
            data_dir: Where its .ts files are; None: the pinned sktime wheel, downloaded.
            cache_dir: Where downloads go.
            options: {name: value} of `data_options`.
            downloading: As for `TaskFamily.describe_data`.

        Returns:
            The report (dict).
        """
        from kasm_keras.data import dataset_report, time_series_data

        options = options or {}
        fraction = options.get("validation_fraction") or time_series_data.VALIDATION_FRACTION
        with reading(downloading, f"the {dataset} {self.data_noun}"):
            data = time_series_data.load_time_series(
                dataset, data_dir, cache_dir, fraction, options.get("seed", 0),
                options.get("max_series_length", time_series_data.MAX_LENGTH))
        return dataset_report.describe_time_series(data)

    def format_data_report(self, report):
        from kasm_keras.data import dataset_report

        return dataset_report.format_time_series(report)


def chosen_by(metrics):
    """How a run was chosen without its test split, as an entry records it: its validation
    accuracy, or a final fit's cross-validation (its mean fold accuracy as "cv_accuracy").

    Args:
        metrics: The run's metrics.json, as a dict.

    Returns:
        {"val_accuracy", "cv_accuracy", "cross_validation"}: fractions, the absent ones None.

    Raises:
        KeyError: The run has neither.

    Examples:
        >>> from kasm_keras.models.time_series_classifier.family import chosen_by
        >>> chosen_by({"val_accuracy": 0.95})
        {'val_accuracy': 0.95, 'cv_accuracy': None, 'cross_validation': None}
        >>> chosen_by({"cross_validation": {"cv": "stratified_kfold", "mean_accuracy": 0.96,
        ...                                 "cv_dir": "runs/cv"}})["cv_accuracy"]
        0.96
    """
    cv = metrics.get("cross_validation")
    if cv:
        return {"val_accuracy": None, "cv_accuracy": float(cv["mean_accuracy"]),
                "cross_validation": {k: cv[k] for k in CROSS_VALIDATION_KEYS if k in cv}}
    return {"val_accuracy": float(metrics["val_accuracy"]), "cv_accuracy": None,
            "cross_validation": None}


def split_cases(dataset, split="test", data_dir=None, cache_dir=None, training=None,
                model=None):
    """A split of a time-series data set as a run split it: "validation" is carved from the
    training file with the run's `validation_fraction` and `split_seed`; "test" is the test file
    whole (series up to the run's `max_series_length` steps).

    Args:
        dataset: The data set's name, e.g. "japanese_vowels".
        split: "train", "validation" or "test".
        data_dir: Where the data set's files are; None: downloaded into `cache_dir`.
        cache_dir: Where downloads go.
        training: The run's settings (its config.json); None: the defaults.
        model: A `TimeSeriesClassifier` whose statistics the values are checked with.

    Returns:
        (classes, series, labels): the class names, the cases (`[length, channels]` float
        arrays) and their labels.

    Raises:
        DataError: With `model`, a value is not finite once standardised with the model's
            statistics; the message names its file and line.

    Examples:
        >>> import os
        >>> from kasm_keras.models.time_series_classifier.family import split_cases
        >>> classes, series, labels = split_cases(
        ...     "japanese_vowels", "test", os.environ.get("KASM_KERAS_TIME_SERIES_DATA"))
        >>> len(classes), series[0].shape[1], len(series) == len(labels)
        (9, 12, True)
    """
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
    """A classifier's accuracy on cases.

    Args:
        classifier: A `TimeSeriesClassifier`.
        series: The cases, `[length, channels]` arrays.
        labels: Their labels.

    Returns:
        The accuracy, a fraction (float).

    Examples:
        >>> import os
        >>> import kasm_keras
        >>> from kasm_keras.models.time_series_classifier.family import accuracy, split_cases
        >>> _, series, labels = split_cases(
        ...     "japanese_vowels", "test", os.environ.get("KASM_KERAS_TIME_SERIES_DATA"))
        >>> model = kasm_keras.zoo.load("japanese_vowels/rkm_cifg_1gram")
        >>> 0.9 < accuracy(model, series[:50], labels[:50]) <= 1.0
        True
    """
    return classifier.classification_report(series, labels)["accuracy"]


FAMILY = register(TimeSeriesFamily())
