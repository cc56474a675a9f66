"""The document classifier of the paper's Table 2 as a keras-hub model family."""

from kasm_keras.models.kernel_classifier.backbone import (
    KernelClassifierBackbone, MaskedMean, TokenEmbedding, kernel_layer)
from kasm_keras.models.kernel_classifier.preprocessor import (
    KernelTextClassifierPreprocessor, trim_to_longest)
from kasm_keras.models.kernel_classifier.text_classifier import (
    KernelTextClassifier, build_classifier)
from kasm_keras.models.kernel_classifier.tokenizer import KernelTokenizer

__all__ = ["KernelClassifierBackbone", "KernelTextClassifier", "KernelTextClassifierPreprocessor",
           "KernelTokenizer", "MaskedMean", "TokenEmbedding", "build_classifier", "kernel_layer",
           "trim_to_longest"]
