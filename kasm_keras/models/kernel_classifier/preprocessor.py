"""Raw documents (and labels) to the backbone's token ids."""

import keras
import keras_hub
import tensorflow as tf

from kasm_keras.models.kernel_classifier.backbone import KernelClassifierBackbone
from kasm_keras.models.kernel_classifier.presets import ZooPresets
from kasm_keras.models.kernel_classifier.tokenizer import KernelTokenizer


@keras.saving.register_keras_serializable(package="kasm_keras")
class KernelTextClassifierPreprocessor(ZooPresets, keras_hub.models.TextClassifierPreprocessor):
    """Tokenises a batch of documents, cuts each at `sequence_length` tokens and pads them to the
    longest (cut) document of the batch: masking makes padding irrelevant to the backbone, so no
    work is spent on it.

    Unlike keras-hub's transformer preprocessors there are no start or end tokens and no
    segments: the backbone takes one tensor of token ids, 0 for padding.

    Args:
        tokenizer: a `KernelTokenizer`.
        sequence_length: tokens kept per document.

    Call arguments:
        x: a string or a batch of strings. `y` and `sample_weight` pass through.

    Example:
    ```python
    preprocessor = KernelTextClassifierPreprocessor(tokenizer, sequence_length=128)
    preprocessor(["Stocks rallied on Friday"])   # int32 [1, 4]
    ```
    """

    backbone_cls = KernelClassifierBackbone
    tokenizer_cls = KernelTokenizer

    def __init__(self, tokenizer, sequence_length=128, **kwargs):
        kwargs.pop("truncate", None)  # one way to cut: keep the first tokens
        super().__init__(tokenizer=tokenizer, sequence_length=sequence_length, **kwargs)

    def build(self, input_shape):
        self.built = True  # no packer: nothing to build

    def call(self, x, y=None, sample_weight=None):
        x = tf.convert_to_tensor(x, tf.string)
        scalar = x.shape.rank == 0
        ids = self.tokenizer.tokenize(x[None] if scalar else x)
        ids = ids[:, : self.sequence_length]
        width = tf.maximum(tf.cast(tf.reduce_max(ids.row_lengths()), tf.int32), 1)
        ids = ids.to_tensor(default_value=self.tokenizer.pad_token_id)
        ids = tf.pad(ids, [[0, 0], [0, width - tf.shape(ids)[1]]])  # width >= 1, even if empty
        return keras.utils.pack_x_y_sample_weight(ids[0] if scalar else ids, y, sample_weight)

    def get_config(self):
        config = super().get_config()
        config.pop("truncate", None)
        return config
