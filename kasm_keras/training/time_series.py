"""Multichannel time-series classification as a training task: the paper's Table 4 experiment
(local field potentials, not public) on public UEA data sets, leave-one-group-out
cross-validation for data like the paper's (one group per animal), and, for a small data set,
stratified k-fold cross-validation to choose a recipe and its length, then a final fit on every
training case (`refit`).

The model: per-channel standardisation (mean and standard deviation fitted on the training
split alone, stored in the model) -> KernelRNN over the real-valued steps (n-gram windows of
them) -> mean over the unmasked steps -> dropout, Dense(units, ReLU), dropout ->
Dense(classes); Adam with gradients clipped by value to 1, as the document classifier. A
validation split (stratified, `validation_fraction` of each class) is carved from the training
file; the validation cross-entropy picks the best model (`best.keras`), evaluated once on
test.

`TimeSeriesConfig`'s defaults are the recipe of the zoo's JapaneseVowels entries, chosen on
that validation split alone (the README's time-series section says how).
"""

import dataclasses
import json
import os
import re

import keras
import numpy as np
import tensorflow as tf

from kasm_keras.data import time_series_data
from kasm_keras.models.time_series_classifier import build_time_series_classifier
from kasm_keras.training.classification import EVAL_BATCH, ClassificationTask, _evaluate
from kasm_keras.training.classifier_config import ClassifierConfig
from kasm_keras.training.loop import Trainer
from kasm_keras.training.task import TrainingError
from kasm_keras.utils import files

TASK = "time_series"
DATASETS = time_series_data.NAMES
FIXED_SETTINGS = ("model", "dataset", "ngram", "ngram_padding", "units", "layer_norm",
                  "learn_sigmas", "batch_size", "dropout", "seed", "split_seed",
                  "validation_fraction", "policy", "fold")
# A finished fold is read back only if it was trained by this recipe: every setting but where
# things are and how often the loop reports.
NOT_RECIPE = ("model_dir", "data_dir", "cache_dir", "log_every", "fold", "max_series_length")
# ... and on this fold: the same group of the same files (by content; they may have moved).
# Which fold, by method: a fold of one method is never read back as another's.
FOLD_IDENTITY = {"leave_one_group_out": ("group", "group_column", "train_sha256",
                                         "groups_sha256"),
                 "stratified_kfold": ("method", "fold", "fold_count", "fold_seed",
                                      "train_sha256")}
CV_METHODS = tuple(FOLD_IDENTITY)
DEFAULT_FOLDS = 5  # stratified k-fold's k unless asked otherwise
CV_REPORT = "cv.json"
# The settings a final fit (`--refit_from_cv`) may set otherwise than the cross-validated recipe:
# its length and validation (fixed by the refit), seeds, and whether and how often it reports.
REFIT_FREE = NOT_RECIPE + ("epochs", "max_steps", "validation_fraction", "eval_every", "seed",
                           "split_seed", "test", "refit_from_cv", "keep_checkpoints",
                           "deterministic", "strategy", "cpu_devices")
# tools/train.py's help for the settings only a time-series classifier has (`training.tasks`).
FLAG_HELP = {
    "max_series_length": "Steps a series may have (longer ones are refused at their line: "
                         "training keeps every step of a batch in memory).",
    "refit_from_cv": "A small data set's final fit: the folder of a cross-validation of this "
                     "recipe (tools/evaluate.py --cv, its cv.json); trains on every training "
                     "case, with no validation split, for the folds' median best epoch, keeps "
                     "the last model and reads the test file once, at the end. Sets --epochs "
                     "and --validation_fraction=0; not with --max_steps.",
}


@dataclasses.dataclass
class TimeSeriesConfig(ClassifierConfig):
    """Everything `tools/train.py` sets for a time-series classifier: `ClassifierConfig`'s
    settings (shared with the document classifier, some with other defaults here) and the
    series' own. The defaults are the zoo's recipe. The head's hidden layer is `units` wide, as
    in the authors' classifier (300 and 300).

    Attributes:
        max_series_length: longer series are refused.
        precision: "float32" by default: the models are small (tens of thousands of weights)
            and their stored entries are the trained float32 weights themselves, where "auto"
            would pick mixed_bfloat16 on a CPU with fast bfloat16.
        validation_fraction: as `ClassifierConfig`'s, or 0: no validation split, every training
            case trains and the last model is kept (a final fit whose length is fixed
            beforehand, e.g. by `refit_from_cv`).
        refit_from_cv: optional folder of a `cross_validate` of this recipe; `train_time_series`
            then fits every training case for its folds' median best epoch (`refit`).

    Examples:
        >>> from kasm_keras.training.time_series import TimeSeriesConfig
        >>> config = TimeSeriesConfig(model="rkm_cifg", dataset="japanese_vowels",
        ...                           model_dir="runs/japanese_vowels")
        >>> config.units, config.epochs, config.precision
        (64, 100.0, 'float32')
    """

    DATASETS = DATASETS
    FOR_TASK = " for a time-series classifier"
    WITHOUT_VALIDATION = True

    units: int = 64
    epochs: float = 100.0
    batch_size: int = 16
    dropout: float = 0.1
    validation_fraction: float = time_series_data.VALIDATION_FRACTION
    max_series_length: int = time_series_data.MAX_LENGTH
    eval_every: int | None = None
    precision: str = "float32"
    refit_from_cv: str | None = None

    def check_task(self):
        self.check_at_least_one("max_series_length")
        if self.refit_from_cv is not None and self.max_steps is not None:
            raise TrainingError("--refit_from_cv fixes the run's length from the "
                                "cross-validation; --max_steps cannot be given with it")
        if self.dataset == time_series_data.OWN_FILES and self.data_dir is None:
            raise TrainingError(f"--dataset={self.dataset} reads your own .ts files: pass "
                                "--data_dir, the folder holding <Problem>_TRAIN.ts and "
                                "<Problem>_TEST.ts")


@dataclasses.dataclass
class Fold:
    """One fold of a cross-validation, for `TimeSeriesTask`.

    Attributes:
        train: indices of the training file's cases that train and validate.
        test: indices of those that are the fold's test split.
        settings: which fold it is (a JSON-serialisable dict), recorded in config.json so
            that a resumed fold must be the same fold.

    Examples:
        >>> import numpy as np
        >>> from kasm_keras.training.time_series import Fold
        >>> fold = Fold(train=np.array([0, 1, 3]), test=np.array([2]),
        ...             settings={"group": "rat_2"})
        >>> fold.test
        array([2])
    """

    train: np.ndarray
    test: np.ndarray
    settings: dict


class TimeSeriesTask(ClassificationTask):
    """The document classifier's task (`ClassificationTask`: its loss, validation, storage of
    the best model) on multichannel series: no vocabulary, the series' own batches and model,
    and its own report.

    Args:
        config: a `TimeSeriesConfig`.
        fold: a `Fold` to train one fold of a cross-validation on; None for the data set's
            own train and test files.

    Examples:
        >>> from kasm_keras.training.time_series import TimeSeriesConfig, TimeSeriesTask
        >>> config = TimeSeriesConfig(model="rkm_cifg", dataset="japanese_vowels",
        ...                           model_dir="runs/japanese_vowels")
        >>> TimeSeriesTask(config).monitor
        'loss'
    """

    # The validation cross-entropy picks the best model: a small validation split (54 cases for
    # JapaneseVowels) reaches 100% accuracy long before training is done, and the first
    # checkpoint to reach it would be kept; the loss keeps ranking checkpoints after that.
    monitor = "loss"
    higher_is_better = False
    fixed_settings = FIXED_SETTINGS

    def __init__(self, config, fold=None):
        super().__init__(config)
        self.fold = fold

    @property
    def best_is_last(self):
        """Without a validation split (validation_fraction 0) the last model is kept."""
        return self.config.validation_fraction == 0

    def settings(self):
        return {**super().settings(), "task": TASK,
                "fold": None if self.fold is None else self.fold.settings}

    def _load(self):
        c = self.config
        if self.fold is None and not self.best_is_last:
            return time_series_data.load_time_series(
                c.dataset, c.data_dir, c.cache_dir, c.validation_fraction, c.split_seed,
                c.max_series_length)
        # A fold tests on cases of the training file; a final fit reads the test file only in
        # `report`, once trained.
        paths = time_series_data.locate(c.dataset, c.data_dir, c.cache_dir, splits=("train",))
        train = time_series_data.read_files(c.dataset, paths, c.max_series_length)["train"]
        series, labels = train.series, train.labels
        every = np.arange(len(train))
        fold = self.fold or Fold(every, every[:0], None)

        def part(indices):
            return [series[i] for i in indices], labels[indices]

        return time_series_data.make_data(c.dataset, part(fold.train), part(fold.test),
                                          train.classes, paths, c.validation_fraction,
                                          c.split_seed,
                                          (time_series_data.sources(train, fold.train),
                                           time_series_data.sources(train, fold.test)))

    def _read_test(self):
        """A final fit's test file, read once its training is done (`report`): it must agree
        with the training file, and its values be finite once standardised."""
        c = self.config
        paths = {**self.data.paths, **time_series_data.locate(c.dataset, c.data_dir,
                                                               c.cache_dir, splits=("test",))}
        test = time_series_data.read_files(c.dataset, paths, c.max_series_length)["test"]
        time_series_data.check_standardised(test.series, time_series_data.sources(test),
                                            self.data.mean, self.data.std,
                                            "the training cases' statistics")
        self.data = dataclasses.replace(
            self.data, paths=paths, cases={**self.data.cases, "test": (test.series, test.labels)})
        self.sizes = self.data.split_sizes()

    def prepare(self, log):
        c = self.config
        try:
            self.data = self._load()
        except ValueError as error:  # an unknown name or fraction; DataError is a ValueError
            raise TrainingError(str(error)) from error
        self.sizes = self.data.split_sizes()
        if self.sizes["train"] < c.batch_size or (self.sizes["validation"] == 0
                                                  and not self.best_is_last):
            raise TrainingError(f"{c.dataset}: {self.sizes['train']} training and "
                                f"{self.sizes['validation']} validation cases are too few for "
                                f"batch size {c.batch_size}")
        log(f"{c.dataset}: {self.sizes} cases, {self.data.channels} channels, "
            f"{self.data.num_classes} classes")

    def check_model_dir(self, model_dir, resuming=False):
        pass  # nothing beside the checkpoints to check: no vocabulary

    def write_files(self, model_dir):
        pass  # nothing beside the model: its standardisation statistics are in it

    def build(self):
        c = self.config
        model = build_time_series_classifier(
            self.data.channels, self.data.num_classes, c.model, self.data.mean, self.data.std,
            units=c.units, ngram=c.ngram, hidden_dim=c.units, dropout=c.dropout, seed=c.seed,
            class_names=self.data.classes, layer_norm=c.layer_norm, learn_sigmas=c.learn_sigmas,
            ngram_padding=c.ngram_padding)
        return model, keras.optimizers.Adam(c.learning_rate, clipvalue=1.0)

    def _batches(self, split, batch_size, **options):
        return self.data.batches(split, batch_size, **options)

    def _logits_function(self, model):
        """Logits in inference mode; traced once per model for every batch and length."""
        if self._logits[0] is not model:
            spec = {"series": tf.TensorSpec([None, None, self.data.channels], tf.float32),
                    "padding_mask": tf.TensorSpec([None, None], tf.bool)}
            self._logits = (model, tf.function(lambda inputs: model(inputs, training=False),
                                               input_signature=[spec]))
        return self._logits[1]

    def report(self, model, test=True):
        c = self.config
        tested = {}
        if test and self.fold is None and self.best_is_last:
            self._read_test()
        if test:
            tested["test_accuracy"], tested["test_loss"], _, _ = _evaluate(
                self._logits_function(model), self.data.batches("test", EVAL_BATCH))
        layer = model.backbone.kernel_rnn
        lengths = np.concatenate([self.data.lengths(s) for s in ("train", "validation")])
        return {
            "task": TASK, "model": c.model, "dataset": c.dataset, "ngram": c.ngram, **tested,
            "classes": list(self.data.classes), "channels": self.data.channels,
            "splits": self.sizes,
            "lengths": {"min": int(lengths.min()), "mean": float(lengths.mean()),
                        "max": int(lengths.max())},
            "parameters": {"table2": layer.weight_entries, "kernel_rnn": layer.count_params(),
                           "total": model.count_params()},
            "files": {split: {"path": os.path.abspath(path),
                              "sha256": files.file_digest(path)}
                      for split, path in self.data.paths.items()},
            "fold": None if self.fold is None else self.fold.settings,
            "cross_validation": self._cross_validation(),
        }

    def _cross_validation(self):
        """A final fit's record of the cross-validation that fixed its length, or None."""
        cv_dir = self.config.refit_from_cv
        if cv_dir is None:
            return None
        report = read_cv_report(cv_dir)
        return {"cv_dir": os.path.abspath(cv_dir) if "://" not in cv_dir else cv_dir,
                **{k: report.get(k) for k in ("cv", "fold_count", "fold_seed", "mean_accuracy",
                                              "sd_accuracy", "pooled_accuracy", "best_epochs",
                                              "median_best_epoch")}}


def train_time_series(config, command=None, log=print, fold=None):
    """Trains a time-series classifier, or resumes the run in its model_dir.

    Args:
        config: a `TimeSeriesConfig`.
        command: as for `Trainer`.
        log: as for `Trainer`.
        fold: a `Fold` of a cross-validation (see `cross_validate`), or None.

    Returns:
        What `Trainer.run` returns: the metrics, or None on a worker that is not the chief.

    Examples:
        >>> from kasm_keras.training.time_series import TimeSeriesConfig, train_time_series
        >>> config = TimeSeriesConfig(model="rkm_cifg", dataset="japanese_vowels",
        ...                           model_dir="runs/japanese_vowels")
        >>> metrics = train_time_series(config)  # doctest: +SKIP
    """
    if config.refit_from_cv is not None:
        config = refit(config)
        log(f"a final fit on every training case for {config.epochs:g} epochs, the median best "
            f"epoch of the cross-validation in {config.refit_from_cv}")
    return Trainer(TimeSeriesTask(config, fold), config.loop_config(), command=command,
                   log=log).run()


# ------------------------------------------------------------------ cross-validation

def fold_folder(index, group):
    """A fold's model_dir name: its position and its group, in characters safe in a path.

    Args:
        index: the fold's position (from 0).
        group: the held-out group's name.

    Returns:
        A folder name, `fold_<index>_<group>`.

    Examples:
        >>> from kasm_keras.training.time_series import fold_folder
        >>> fold_folder(3, "rat 7/left")
        'fold_03_rat_7_left'
    """
    return f"fold_{index:02d}_" + (re.sub(r"[^A-Za-z0-9_.-]+", "_", group).strip("._") or "group")


def fold_sources(config, method, train, paths, groups_path=None, group_column="group",
                 folds=DEFAULT_FOLDS):
    """The folds `cross_validate` trains, and what identifies the cross-validation.

    Args:
        config: a `TimeSeriesConfig`; its `seed` deals the stratified folds.
        method: one of `CV_METHODS`.
        train: the training file's `TimeSeriesFile`.
        paths: {"train": path} of that file.
        groups_path: leave-one-group-out's CSV of each case's group.
        group_column: its column naming the group.
        folds: stratified k-fold's number of folds.

    Returns:
        (about, folds): `about` a dict of the files and settings that identify the
            cross-validation (in its report and every fold's identity), `folds` a list of
            (name, folder, `Fold`).

    Raises:
        DataError: the groups or the folds do not fit the training file.

    Examples:
        >>> from kasm_keras.training.time_series import fold_sources
        >>> about, folds = fold_sources(config, "stratified_kfold", train,  # doctest: +SKIP
        ...                             {"train": "Toy_TRAIN.ts"}, folds=5)
    """
    about = {"train_file": os.path.abspath(paths["train"]),
             "train_sha256": files.file_digest(paths["train"])}
    if method == "leave_one_group_out":
        groups = time_series_data.read_groups(groups_path, group_column, len(train))
        about.update(groups_file=os.path.abspath(groups_path),
                     groups_sha256=files.file_digest(groups_path), group_column=group_column)
        split = time_series_data.leave_one_group_out(groups)
        return about, [(group, fold_folder(index, group),
                        Fold(train_indices, test_indices, {**about, "group": group}))
                       for index, (group, train_indices, test_indices) in enumerate(split)]
    about.update(method=method, fold_count=folds, fold_seed=config.seed)
    split = time_series_data.stratified_folds(np.asarray(train.classes)[train.labels], folds,
                                              config.seed)
    return about, [(name, fold_folder(index, f"of {folds}"),
                    Fold(train_indices, test_indices, {**about, "fold": name}))
                   for index, (name, train_indices, test_indices) in enumerate(split)]


def best_epoch(metrics, batch_size):
    """The epoch of a run's best model: its best step over its steps per epoch.

    Args:
        metrics: the run's metrics.json (its `best_step` and training split's size).
        batch_size: the run's batch size.

    Returns:
        A float.

    Examples:
        >>> from kasm_keras.training.time_series import best_epoch
        >>> best_epoch({"best_step": 30, "splits": {"train": 160}}, batch_size=16)
        3.0
    """
    return metrics["best_step"] / max(1, metrics["splits"]["train"] // batch_size)


def cross_validate(config, method, cv_dir, groups_path=None, group_column="group",
                   folds=DEFAULT_FOLDS, command=None, log=print):
    """Cross-validation of `config`'s recipe on its data set's training file: leave-one-group-
    out for data like the paper's (one group per animal), or stratified k-fold to choose a
    recipe, and its length, on a small data set without its test file.

    Each fold (`fold_sources`) is trained from scratch by `train_time_series` into
    `<cv_dir>/fold_<i>_<group>/` (stratified: `<cv_dir>/fold_<i>_of_<k>/`), its validation
    cases carved from its training cases, and tested on its held-out cases. It is resumable: a
    finished fold is read back, an unfinished one resumes from its checkpoint.

    Args:
        config: a `TimeSeriesConfig` (its `model_dir` is replaced by each fold's); its `seed`
            deals the stratified folds.
        method: one of `CV_METHODS`.
        cv_dir: the folder of the folds and the report.
        groups_path: leave-one-group-out: a CSV file with one row per case of the training
            file.
        group_column: the column of `groups_path` naming each case's group.
        folds: stratified k-fold: the number of folds.
        command: as for `Trainer`.
        log: as for `Trainer`.

    Returns:
        The report, also written to `<cv_dir>/cv.json`: every fold's accuracy and best epoch,
            their mean (the paper's "mean leave-one-out accuracy across animals"), the
            accuracy over all held-out cases pooled, and the median best epoch (the length of
            a final fit, `refit`).

    Raises:
        TrainingError: a finished fold in `cv_dir` was trained by another recipe or on
            another fold.

    Examples:
        >>> from kasm_keras.training.time_series import TimeSeriesConfig, cross_validate
        >>> config = TimeSeriesConfig(model="rkm_cifg", dataset="ts_files", data_dir="lfp",
        ...                           model_dir="unused")  # doctest: +SKIP
        >>> report = cross_validate(  # doctest: +SKIP
        ...     config, "leave_one_group_out", "runs/lfp_cv", "lfp/animals.csv", "animal")
    """
    if method not in CV_METHODS:
        raise TrainingError(f"--cv must be one of {', '.join(CV_METHODS)}, got {method!r}")
    if not config.validation_fraction:
        raise TrainingError("the recipe holds out no validation cases (a final fit's), so its "
                            "folds would have no best epoch: cross-validate the recipe it was "
                            "refitted from")
    paths = time_series_data.locate(config.dataset, config.data_dir, config.cache_dir,
                                    splits=("train",))
    train = time_series_data.read_files(config.dataset, paths, config.max_series_length)["train"]
    try:
        about, sources = fold_sources(config, method, train, paths, groups_path, group_column,
                                      folds)
    except time_series_data.DataError as error:
        raise TrainingError(str(error)) from error
    identity = FOLD_IDENTITY[method]
    results = []
    for index, (name, folder, fold) in enumerate(sources):
        model_dir = files.join(cv_dir, folder)
        # A fold is tested on its held-out cases whatever the recipe's run did.
        fold_config = dataclasses.replace(config, model_dir=model_dir, test=True,
                                          refit_from_cv=None)
        metrics_path = files.join(model_dir, "metrics.json")
        if files.exists(metrics_path):  # finished: read back if it is this fold of this recipe
            saved = files.read_json(files.join(model_dir, "config.json"))
            current = TimeSeriesTask(fold_config, fold).settings()
            differ = [k for k in sorted(set(saved) | set(current))
                      if k not in NOT_RECIPE and saved.get(k) != current.get(k)]
            differ += [f"fold {k}" for k in identity
                       if (saved.get("fold") or {}).get(k) != fold.settings[k]]
            if differ:
                raise TrainingError(f"{model_dir} holds a fold trained otherwise "
                                    f"({', '.join(differ)} differ); use another --cv_dir")
            metrics = files.read_json(metrics_path)
            log(f"fold {index} ({name}): finished before, read back")
        else:
            log(f"fold {index} ({name}): {len(fold.test)} test cases")
            metrics = train_time_series(fold_config, command=command, log=log, fold=fold)
            if metrics is None:  # a non-chief worker of a multi-worker run: no report here
                raise TrainingError("--cv runs on one worker (or the chief): this worker has "
                                    "no fold results to report")
        results.append({("group" if method == "leave_one_group_out" else "fold"): name,
                        "model_dir": model_dir, "test_cases": len(fold.test),
                        "training_cases": len(fold.train),
                        "test_accuracy": metrics["test_accuracy"],
                        "val_accuracy": metrics.get("val_accuracy"),
                        "best_step": metrics["best_step"],
                        "best_epoch": best_epoch(metrics, config.batch_size)})
    accuracies = np.asarray([f["test_accuracy"] for f in results])
    cases = np.asarray([f["test_cases"] for f in results])
    report = {"cv": method, "dataset": config.dataset, "model": config.model,
              "ngram": config.ngram, **about, "folds": results,
              "mean_accuracy": float(accuracies.mean()),
              "sd_accuracy": float(accuracies.std(ddof=1)) if len(results) > 1 else None,
              "pooled_accuracy": float((accuracies * cases).sum() / cases.sum()),
              "best_epochs": [f["best_epoch"] for f in results],
              "median_best_epoch": float(np.median([f["best_epoch"] for f in results])),
              "recipe": {k: v for k, v in dataclasses.asdict(config).items()
                         if k not in ("model_dir", "data_dir", "cache_dir")}}
    files.write_text(files.join(cv_dir, CV_REPORT), json.dumps(report, indent=2))
    return report


def read_cv_report(cv_dir):
    """The report of a finished `cross_validate` in `cv_dir`, for a final fit.

    Args:
        cv_dir: the cross-validation's folder.

    Returns:
        Its cv.json, a dict with a positive `median_best_epoch`.

    Raises:
        TrainingError: no cv.json there, or one without a median best epoch.

    Examples:
        >>> from kasm_keras.training.time_series import read_cv_report
        >>> read_cv_report("runs/japanese_vowels/rkm_lstm_3gram_cv")  # doctest: +SKIP
    """
    path = files.join(cv_dir, CV_REPORT)
    try:
        report = files.read_json(path)
    except (OSError, ValueError) as error:
        raise TrainingError(f"--refit_from_cv: {error} (the --cv_dir of a finished "
                            "tools/evaluate.py --cv)") from error
    median = report.get("median_best_epoch") if isinstance(report, dict) else None
    if not isinstance(median, (int, float)) or not median > 0:
        raise TrainingError(f"{path}: no median best epoch; cross-validate the recipe again "
                            "with tools/evaluate.py --cv")
    return report


def refit(config):
    """A final fit's settings: `config` trained on every training case, with no validation
    split, for the median best epoch of the cross-validation in `config.refit_from_cv`.

    For a small data set, where a validation split would take cases from training and its
    choice of checkpoint would be noise: the recipe and its length are chosen on the folds, the
    final model is the last one, and the test file is read once, at the end.

    Args:
        config: a `TimeSeriesConfig` whose `refit_from_cv` is a `cross_validate` folder of
            the same recipe (seeds, length and validation may differ).

    Returns:
        The `TimeSeriesConfig` to train: `epochs` the folds' median best epoch and
            `validation_fraction` 0.

    Raises:
        TrainingError: no cv.json there, or it cross-validated another recipe or training
            file.

    Examples:
        >>> from kasm_keras.training.time_series import TimeSeriesConfig, refit
        >>> config = TimeSeriesConfig(model="rkm_cifg", dataset="japanese_vowels",
        ...                           model_dir="runs/jv", refit_from_cv="runs/jv_cv")
        >>> refit(config).epochs  # doctest: +SKIP
        41.0
    """
    report = read_cv_report(config.refit_from_cv)
    path, median = files.join(config.refit_from_cv, CV_REPORT), report["median_best_epoch"]
    recipe, current = report.get("recipe") or {}, dataclasses.asdict(config)
    differ = [k for k in sorted(set(recipe) & set(current))
              if k not in REFIT_FREE and recipe[k] != current[k]]
    if differ:
        raise TrainingError(f"{path} cross-validated another recipe ({', '.join(differ)} "
                            "differ); refit the recipe it cross-validated")
    train = time_series_data.locate(config.dataset, config.data_dir, config.cache_dir,
                                    splits=("train",))["train"]
    if files.file_digest(train) != report.get("train_sha256"):
        raise TrainingError(f"{path} cross-validated the training file {report.get('train_file')}"
                            f", not {os.path.abspath(train)} (their sha256 differ)")
    return dataclasses.replace(config, epochs=float(median), validation_fraction=0.0)
