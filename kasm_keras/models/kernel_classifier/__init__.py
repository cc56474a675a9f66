"""The document classifier of the paper's Table 2 as a keras-hub model family."""

from kasm_keras.models.kernel_classifier.backbone import (
    KernelClassifierBackbone, MaskedMean, TokenEmbedding, build_classifier)
from kasm_keras.models.kernel_classifier.preprocessor import KernelTextClassifierPreprocessor
from kasm_keras.models.kernel_classifier.text_classifier import KernelTextClassifier
from kasm_keras.models.kernel_classifier.tokenizer import KernelTokenizer

__all__ = ["KernelClassifierBackbone", "KernelTextClassifier", "KernelTextClassifierPreprocessor",
           "KernelTokenizer", "MaskedMean", "TokenEmbedding", "build_classifier"]
