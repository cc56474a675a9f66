"""The paper's cells as Keras layers: Table 1 as data, the one-step cell, the sequence layer and
its fused TensorFlow loop, and the masked mean the classifiers pool with."""

from kasm_keras.layers.kernel_cell import NGRAM_PADDINGS, KernelCell
from kasm_keras.layers.kernel_rnn import KernelRNN
from kasm_keras.layers.masked_mean import MaskedMean
from kasm_keras.layers.variants import VARIANT_TABLE, VARIANTS, Variant, get_variant

__all__ = ["KernelCell", "KernelRNN", "MaskedMean", "NGRAM_PADDINGS", "VARIANTS", "VARIANT_TABLE",
           "Variant", "get_variant"]
