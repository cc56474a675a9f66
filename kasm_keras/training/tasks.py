"""What training does for each model family, by the family's name
(`kasm_keras.models.task_family`): its settings (a dataclass whose fields are tools/train.py's
flags), the function that trains them, its recipes (named sets of settings, `--recipe`) and how
its messages name it. The families know their models and data, not training; this table joins
the two, so tools/train.py asks it and never which task a dataset is."""

import dataclasses

from kasm_keras.models import task_family
from kasm_keras.training import classification, language_model, time_series


@dataclasses.dataclass(frozen=True)
class CrossValidation:
    """How a task's recipe is cross-validated (tools/evaluate.py --cv).

    Attributes:
        methods: `--cv`'s choices for the task, e.g. ("leave_one_group_out",
            "stratified_kfold").
        run: `run(config, method, cv_dir, groups_path=None, group_column="group", folds=None,
            command=None)`, which trains every fold of `method` from the settings `config`
            and returns the report.
        what: how a message names the task's runs and recipes, e.g. "a time-series".
        folds: k of a k-fold method when none is asked for.

    Examples:
        >>> from kasm_keras.training.tasks import TRAINING
        >>> TRAINING["time_series"].cross_validate.methods
        ('leave_one_group_out', 'stratified_kfold')
        >>> print(TRAINING["classification"].cross_validate)
        None
    """

    methods: tuple
    run: object
    what: str
    folds: int = None


@dataclasses.dataclass(frozen=True)
class Training:
    """How one task family is trained.

    Attributes:
        config: the settings, a dataclass whose fields are tools/train.py's flags.
        train: `train(config, command=None)`, which returns the run's metrics.
        what: how a message names the task, e.g. "a language model".
        recipes: `--recipe`'s choices: {name: {field: value}}; the first is the default.
        named: how a flag's help names the task in its defaults, e.g. "a language model".
        flag_help: tools/train.py's help for the settings no other task has: {field: text}
            (each such field of `config` is a flag of its name).
        recipe_help: `--recipe`'s help, when `recipes` has some.
        cross_validate: how the task's recipe is cross-validated (`CrossValidation`); None for
            a task without it.

    Examples:
        >>> from kasm_keras.training.tasks import TRAINING
        >>> training = TRAINING["language_model"]
        >>> training.config.__name__, training.what, sorted(training.recipes)
        ('LanguageModelConfig', 'a language model', ['awd_lstm', 'cpu'])
    """

    config: type
    train: object
    what: str
    recipes: dict = dataclasses.field(default_factory=dict)
    named: str = ""
    flag_help: dict = dataclasses.field(default_factory=dict)
    recipe_help: str = ""
    cross_validate: "CrossValidation" = None


TRAINING = {
    "classification": Training(classification.TrainConfig, classification.train_classifier,
                               "document classification", named="a classifier",
                               flag_help=classification.FLAG_HELP),
    "language_model": Training(language_model.LanguageModelConfig,
                               language_model.train_language_model, "a language model",
                               language_model.RECIPES, named="a language model",
                               flag_help=language_model.FLAG_HELP,
                               recipe_help=language_model.RECIPE_HELP),
    "time_series": Training(time_series.TimeSeriesConfig, time_series.train_time_series,
                            "a time-series classifier", named="a time series",
                            flag_help=time_series.FLAG_HELP,
                            cross_validate=CrossValidation(time_series.CV_METHODS,
                                                           time_series.cross_validate,
                                                           "a time-series",
                                                           time_series.DEFAULT_FOLDS)),
}


def of_dataset(dataset):
    """How to train a model on `dataset`: its task family's `Training`.

    Args:
        dataset: a data set's name, e.g. "ptb" or "ag_news".

    Returns:
        The `Training` of the family that trains on `dataset`; the document classifier's when
            none does.

    Examples:
        >>> from kasm_keras.training import tasks
        >>> tasks.of_dataset("ptb").what
        'a language model'
        >>> tasks.of_dataset("japanese_vowels").config.__name__
        'TimeSeriesConfig'
    """
    family = task_family.of_dataset(dataset) or task_family.get(task_family.DEFAULT)
    return TRAINING[family.name]


def cross_validation_methods():
    """`--cv`'s choices: every method of the tasks that cross-validate.

    Returns:
        A tuple of str.

    Examples:
        >>> from kasm_keras.training import tasks
        >>> tasks.cross_validation_methods()
        ('leave_one_group_out', 'stratified_kfold')
    """
    return tuple(dict.fromkeys(method for training in TRAINING.values()
                               if training.cross_validate
                               for method in training.cross_validate.methods))
