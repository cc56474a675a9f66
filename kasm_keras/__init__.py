"""Recurrent kernel machines (Liang et al., NeurIPS 2019) as Keras 3 layers and keras-hub models.

Importing the package registers its layers and its keras-hub classes with Keras, so
`keras_hub.models.TextClassifier.from_preset(<zoo entry directory>)` (or `CausalLM`'s) finds
them.

TensorFlow's start-up banner (INFO lines that `TF_CPP_MIN_LOG_LEVEL` cannot silence) is left out
of stderr on the package's import unless `TF_CPP_MIN_LOG_LEVEL=0` asks for TensorFlow's INFO
lines: see `kasm_keras.utils.tensorflow_logs`.
"""

from kasm_keras.utils import tensorflow_logs as _tensorflow_logs

_tensorflow_logs.import_tensorflow()
_tensorflow_logs.quiet_grain()

from kasm_keras.layers import VARIANT_TABLE, VARIANTS, KernelCell, KernelRNN, Variant, get_variant
from kasm_keras.models.kernel_classifier import (
    KernelClassifierBackbone, KernelTextClassifier, KernelTextClassifierPreprocessor,
    KernelTokenizer, MaskedMean, build_classifier)
from kasm_keras.models.kernel_lm import (
    KernelCausalLM, KernelCausalLMPreprocessor, KernelLMBackbone, KernelLMTokenizer)
from kasm_keras.models.time_series_classifier import (
    ChannelStandardization, TimeSeriesBackbone, TimeSeriesClassifier,
    build_time_series_classifier)
from kasm_keras.utils import version as _version
# The zoo registers its names as the families' keras-hub presets (`kasm_keras.models.presets`).
from kasm_keras import zoo  # noqa: E402

__version__ = _version.__version__

__all__ = ["KernelCell", "KernelRNN", "VARIANTS", "VARIANT_TABLE", "Variant", "get_variant",
           "KernelClassifierBackbone", "KernelTextClassifier", "KernelTextClassifierPreprocessor",
           "KernelTokenizer", "MaskedMean", "build_classifier", "KernelCausalLM",
           "KernelCausalLMPreprocessor", "KernelLMBackbone", "KernelLMTokenizer",
           "ChannelStandardization", "TimeSeriesBackbone", "TimeSeriesClassifier",
           "build_time_series_classifier", "zoo"]
