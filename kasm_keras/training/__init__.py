"""The one training loop (tf.distribute, checkpoints, exact resume) and the tasks it trains.

`Trainer` (loop.py) runs any `Task` (task.py). `tools/train.py` trains three:
`ClassificationTask` (classification.py), `LanguageModelTask` (language_model.py) and
`TimeSeriesTask` (time_series.py); `tasks.of_dataset` says which one a data set needs.
"""

from kasm_keras.training.classification import ClassificationTask, TrainConfig, train_classifier
from kasm_keras.training.loop import STRATEGIES, LoopConfig, Trainer
from kasm_keras.training.precision import PRECISIONS
from kasm_keras.training.task import Task, TrainingError

__all__ = ["PRECISIONS", "STRATEGIES", "ClassificationTask", "LoopConfig", "Task", "TrainConfig", "Trainer",
           "TrainingError", "train_classifier"]
