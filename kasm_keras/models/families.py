"""The model families' tasks, registered (`kasm_keras.models.task_family`): the one place that
lists them. A new task is a folder under `kasm_keras/models/` with its `family.py` and a line
here (and, if tools/train.py trains it, its entry in `kasm_keras.training.tasks.TRAINING`)."""

from kasm_keras.models.kernel_classifier import family as kernel_classifier
from kasm_keras.models.kernel_lm import family as kernel_lm
from kasm_keras.models.time_series_classifier import family as time_series

FAMILIES = (kernel_classifier.FAMILY, kernel_lm.FAMILY, time_series.FAMILY)
