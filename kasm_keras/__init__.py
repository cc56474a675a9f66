"""Recurrent kernel machines (Liang et al., NeurIPS 2019) as Keras 3 layers."""

from kasm_keras.layers import VARIANT_TABLE, VARIANTS, KernelCell, KernelRNN, Variant, get_variant
from kasm_keras.models.kernel_classifier.backbone import MaskedMean, build_classifier

__version__ = "0.1.0"

__all__ = ["KernelCell", "KernelRNN", "MaskedMean", "build_classifier", "VARIANTS", "VARIANT_TABLE",
           "Variant", "get_variant"]
