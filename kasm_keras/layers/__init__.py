"""The paper's cells as Keras layers: Table 1 as data, the one-step cell, the sequence layer and
its fused TensorFlow loop."""

from kasm_keras.layers.kernel_cell import NGRAM_PADDINGS, KernelCell
from kasm_keras.layers.kernel_rnn import KernelRNN
from kasm_keras.layers.variants import VARIANT_TABLE, VARIANTS, Variant, get_variant

__all__ = ["KernelCell", "KernelRNN", "NGRAM_PADDINGS", "VARIANTS", "VARIANT_TABLE", "Variant",
           "get_variant"]
