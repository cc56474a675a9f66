"""Sentences to the language model's inputs, targets and padding mask."""

import keras
import keras_hub

from kasm_keras.models.kernel_lm.backbone import KernelLMBackbone
from kasm_keras.models.kernel_lm.tokenizer import KernelLMTokenizer
from kasm_keras.models.presets import ZooPresets


@keras.saving.register_keras_serializable(package="kasm_keras")
class KernelCausalLMPreprocessor(ZooPresets, keras_hub.models.CausalLMPreprocessor):
    """keras-hub's causal-LM packing with `<eos>` as start, end and padding token: a sentence
    `w_1 ... w_n` becomes inputs `<eos> w_1 ... w_n` and targets `w_1 ... w_n <eos>`, the way
    the corpus streams it. For generation the prompt gets the start token only.

    Args:
        tokenizer: a `KernelLMTokenizer`.
        sequence_length: positions per sentence (longer ones are cut).
        add_start_token: whether inputs start with `<eos>`.
        add_end_token: whether targets end with `<eos>`.
        **kwargs: `keras_hub.models.Preprocessor` arguments (`name`).

    Call arguments:
        - `x`: a sentence or a batch of them, strings.
        - `sequence_length`: overrides the preprocessor's, or None.

    Returns:
        `(x, y, sample_weight)`: `{"token_ids", "padding_mask"}`, the target ids and the mask
            of the positions that are predicted.

    Examples:
        >>> import kasm_keras
        >>> tokenizer = kasm_keras.KernelLMTokenizer(vocabulary=["<unk>", "<eos>", "the", "cat"])
        >>> preprocessor = kasm_keras.KernelCausalLMPreprocessor(tokenizer, sequence_length=5)
        >>> x, y, weights = preprocessor(["the cat"])
        >>> x["token_ids"].numpy(), y.numpy()
        (array([[1, 2, 3, 1, 1]], dtype=int32), array([[2, 3, 1, 1, 1]], dtype=int32))
    """

    zoo_task = "language_model"  # its zoo names are presets (kasm_keras.models.presets)

    backbone_cls = KernelLMBackbone
    tokenizer_cls = KernelLMTokenizer

    def __init__(self, tokenizer, sequence_length=128, add_start_token=True, add_end_token=True,
                 **kwargs):
        super().__init__(tokenizer=tokenizer, sequence_length=sequence_length,
                         add_start_token=add_start_token, add_end_token=add_end_token, **kwargs)
