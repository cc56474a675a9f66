"""The language model of the paper's Table 3 (AWD-LSTM with kernel cells) as a keras-hub model
family."""

from kasm_keras.models.kernel_lm.backbone import KernelLMBackbone, TiedEmbedding
from kasm_keras.models.kernel_lm.causal_lm import KernelCausalLM
from kasm_keras.models.kernel_lm.preprocessor import KernelCausalLMPreprocessor
from kasm_keras.models.kernel_lm.tokenizer import KernelLMTokenizer

__all__ = ["KernelCausalLM", "KernelCausalLMPreprocessor", "KernelLMBackbone",
           "KernelLMTokenizer", "TiedEmbedding"]
