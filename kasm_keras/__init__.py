"""Recurrent kernel machines (Liang et al., NeurIPS 2019) as Keras 3 layers."""

from kasm_keras.classifier import MaskedMean, build_classifier
from kasm_keras.kernel_cell import KernelCell
from kasm_keras.kernel_rnn import KernelRNN
from kasm_keras.variants import VARIANT_TABLE, VARIANTS, Variant, get_variant

__version__ = "0.1.0"

__all__ = ["KernelCell", "KernelRNN", "MaskedMean", "build_classifier", "VARIANTS", "VARIANT_TABLE", "Variant", "get_variant"]
