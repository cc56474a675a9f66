"""What training does for each model family, by the family's name
(`kasm_keras.models.task_family`): its settings (a dataclass whose fields are tools/train.py's
flags), the function that trains them, its recipes (named sets of settings, `--recipe`) and how
its messages name it. The families know their models and data, not training; this table joins
the two, so tools/train.py asks it and never which task a dataset is."""

import dataclasses

from kasm_keras.models import task_family
from kasm_keras.training import classification, language_model, time_series


@dataclasses.dataclass(frozen=True)
class Training:
    config: type  # the settings, a dataclass
    train: object  # train(config, command=None) -> the run's metrics
    what: str  # how a message names the task: "a language model"
    recipes: dict = dataclasses.field(default_factory=dict)  # --recipe's choices


TRAINING = {
    "classification": Training(classification.TrainConfig, classification.train_classifier,
                               "document classification"),
    "language_model": Training(language_model.LanguageModelConfig,
                               language_model.train_language_model, "a language model",
                               language_model.RECIPES),
    "time_series": Training(time_series.TimeSeriesConfig, time_series.train_time_series,
                            "a time-series classifier"),
}


def of_dataset(dataset):
    """The Training of the family that trains on `dataset` (a classifier's when none does)."""
    family = task_family.of_dataset(dataset) or task_family.get(task_family.DEFAULT)
    return TRAINING[family.name]
