"""Raw documents (and labels) to the backbone's inputs, keras-hub's way."""

import keras
import keras_hub
import tensorflow as tf
from keras_hub.src.utils.tensor_utils import preprocessing_function

from kasm_keras.models.kernel_classifier.backbone import KernelClassifierBackbone
from kasm_keras.models.presets import ZooPresets
from kasm_keras.models.kernel_classifier.tokenizer import KernelTokenizer


@keras.saving.register_keras_serializable(package="kasm_keras")
class KernelTextClassifierPreprocessor(ZooPresets, keras_hub.models.TextClassifierPreprocessor):
    """Tokenises documents and packs them as keras-hub's text classifier preprocessors do:
    `{"token_ids": int32 [..., sequence_length], "padding_mask": bool [..., sequence_length]}`,
    each document cut at `sequence_length` tokens and padded to it with id 0. One string gives
    one row and a batch a batch, so it maps over an unbatched `tf.data.Dataset` of strings
    (`ds.map(preprocessor).batch(n)`), a batched one, or a Grain dataset.

    Unlike keras-hub's transformer preprocessors there are no start or end tokens and no
    segments: the backbone reads the words alone.

    `sequence_length=None` is this family's addition: no cut, and each call pads to its
    longest document (at least one step), so no work is spent on padding; a recurrent
    backbone's cost grows with the steps it runs, and masking makes padding change nothing.
    Unbatched rows then differ in length, so batch them with `padded_batch` or
    `ragged_batch`. `trim_to_longest` does the same to packed batches.

    Args:
        tokenizer: a `KernelTokenizer`.
        sequence_length: tokens kept and padded to per document, or None (see above).
        **kwargs: `keras_hub.models.Preprocessor` arguments (`name`).

    Call arguments:
        - `x`: a string or a batch of strings.
        - `y`: labels, passed through.
        - `sample_weight`: weights, passed through.

    Returns:
        `x` packed, or `(x, y, sample_weight)` as `keras.utils.pack_x_y_sample_weight` packs
            them when labels are given.

    Examples:
        >>> import kasm_keras
        >>> tokenizer = kasm_keras.KernelTokenizer(vocabulary=["[PAD]", "[UNK]", "the", "cat"])
        >>> preprocessor = kasm_keras.KernelTextClassifierPreprocessor(tokenizer,
        ...                                                            sequence_length=6)
        >>> preprocessor(["The cat sat."])["token_ids"].numpy()
        array([[2, 3, 1, 1, 0, 0]], dtype=int32)
    """

    zoo_task = "classification"  # its zoo names are presets (kasm_keras.models.presets)

    backbone_cls = KernelClassifierBackbone
    tokenizer_cls = KernelTokenizer

    def __init__(self, tokenizer, sequence_length=128, **kwargs):
        kwargs.pop("truncate", None)  # one way to cut: keep the first tokens
        super().__init__(tokenizer=tokenizer, sequence_length=sequence_length, **kwargs)

    def build(self, input_shape):
        self.built = True  # no packer: nothing to build

    @preprocessing_function  # keras-hub's input and output conversions (NumPy under Grain)
    def call(self, x, y=None, sample_weight=None):
        x = tf.convert_to_tensor(x, tf.string)
        scalar = x.shape.rank == 0
        ids = self.tokenizer.tokenize(x[None] if scalar else x)
        pad = self.tokenizer.pad_token_id
        if self.sequence_length is None:
            width = tf.maximum(tf.cast(tf.reduce_max(ids.row_lengths()), tf.int32), 1)
        else:
            ids, width = ids[:, : self.sequence_length], self.sequence_length
        ids = ids.to_tensor(default_value=pad)
        ids = tf.pad(ids, [[0, 0], [0, width - tf.shape(ids)[1]]], constant_values=pad)
        if self.sequence_length is not None:
            ids = tf.ensure_shape(ids, [None, self.sequence_length])
        if scalar:
            ids = ids[0]
        x = {"token_ids": ids, "padding_mask": ids != pad}
        return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)

    def get_config(self):
        config = super().get_config()
        config.pop("truncate", None)
        return config


def trim_to_longest(inputs):
    """Packed inputs cut to the longest document (at least one step): the same outputs from
    the backbone, since padding is masked, for fewer steps.

    Args:
        inputs: A packed batch, `{"token_ids", "padding_mask"}` of shape `[batch, length]`.

    Returns:
        The dict with both cut to `[batch, longest]`, as tensors.

    Examples:
        >>> import numpy as np
        >>> from kasm_keras.models.kernel_classifier.preprocessor import trim_to_longest
        >>> packed = {"token_ids": np.array([[5, 6, 0, 0], [7, 0, 0, 0]]),
        ...           "padding_mask": np.array([[1, 1, 0, 0], [1, 0, 0, 0]], bool)}
        >>> trim_to_longest(packed)["token_ids"].numpy()
        array([[5, 6],
               [7, 0]])
    """
    mask = tf.convert_to_tensor(inputs["padding_mask"])
    width = tf.maximum(tf.reduce_max(tf.reduce_sum(tf.cast(mask, tf.int32), axis=-1)), 1)
    return {key: tf.convert_to_tensor(value)[:, :width] for key, value in inputs.items()}
