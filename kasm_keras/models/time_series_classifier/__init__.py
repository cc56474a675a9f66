"""The multichannel time-series classifier (the paper's Table 4 task) as a keras-hub model
family: `backbone.py` (per-channel standardisation -> KernelRNN -> masked mean),
`preprocessor.py` (series to the backbone's padded, masked input),
`time_series_classifier.py` (the task), `serving.py` (SavedModel export), `family.py` (what
the zoo and the tools ask of the task)."""

from kasm_keras.models.time_series_classifier.backbone import (
    ChannelStandardization, TimeSeriesBackbone)
from kasm_keras.models.time_series_classifier.preprocessor import (
    TimeSeriesClassifierPreprocessor)
from kasm_keras.models.time_series_classifier.time_series_classifier import (
    TimeSeriesClassifier, build_time_series_classifier)

__all__ = ["ChannelStandardization", "TimeSeriesBackbone", "TimeSeriesClassifier",
           "TimeSeriesClassifierPreprocessor", "build_time_series_classifier"]
