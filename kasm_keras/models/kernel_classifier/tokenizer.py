"""Raw text to token ids by the project's core-op rules, as a keras-hub tokenizer."""

import keras
import tensorflow as tf

from kasm_keras.data.text_encoding import tokenize as split_tokens
from kasm_keras.data.vocabulary import OOV, PADDING
from kasm_keras.models.kernel_classifier.backbone import KernelClassifierBackbone
from kasm_keras.models.presets import ZooPresets
from kasm_keras.models.vocabulary_tokenizer import VocabularyTokenizer


@keras.saving.register_keras_serializable(package="kasm_keras")
class KernelTokenizer(ZooPresets, VocabularyTokenizer):
    """Word-level tokenizer: `kasm_keras.data.text_encoding`'s rules (TensorFlow core ops only,
    so an exported SavedModel needs no tensorflow-text), then a vocabulary lookup.

    Args:
        vocabulary: tokens in id order (id 0 the padding token, then the out-of-vocabulary
            token), or the path of a file with one token per line. Saved as the asset
            `vocabulary.txt`, never in the config.
        pad_token: the token of id 0.
        oov_token: the token unknown words map to.
        dtype: the dtype of the ids.
        **kwargs: `keras_hub.tokenizers.Tokenizer` arguments (`name`).

    Call arguments:
        - `inputs`: a string or a batch of strings.

    Returns:
        int32 ids: a 1-D tensor for one string, a `tf.RaggedTensor` for a batch (lists when
            called eagerly, as keras-hub's tokenizers give them).

    Examples:
        >>> import kasm_keras
        >>> tokenizer = kasm_keras.KernelTokenizer(vocabulary=["[PAD]", "[UNK]", "the", "cat"])
        >>> tokenizer(["The cat sat."])
        [[2, 3, 1, 1]]
    """

    zoo_task = "classification"  # its zoo names are presets (kasm_keras.models.presets)

    backbone_cls = KernelClassifierBackbone

    def __init__(self, vocabulary=None, pad_token=PADDING, oov_token=OOV, dtype="int32", **kwargs):
        super().__init__(dtype=dtype, **kwargs)
        self.pad_token = pad_token
        self.oov_token = oov_token
        self.set_vocabulary(vocabulary)

    def vocabulary_specials(self):
        """The special tokens of this tokenizer's vocabulary.

        Returns:
            `{"oov_token": ..., "padding_token": ...}`, as `kasm_keras.data.vocabulary.Vocabulary`
                takes them.
        """
        return {"oov_token": self.oov_token, "padding_token": self.pad_token}

    @property
    def pad_token_id(self):
        """The id of padding, 0."""
        return 0

    def tokenize(self, inputs):
        self._check_vocabulary()
        inputs = tf.convert_to_tensor(inputs, tf.string)
        scalar = inputs.shape.rank == 0
        tokens = split_tokens(inputs[None] if scalar else inputs)
        ids = self.lookup(tokens)
        return ids[0] if scalar else ids

    def detokenize(self, inputs):
        """Ids back to text: tokens joined by spaces, padding left out."""
        self._check_vocabulary()
        if isinstance(inputs, (list, tuple)):  # keras-hub's tokenizers give ragged ids as lists
            ids = tf.ragged.constant(inputs, dtype=tf.int32)
        else:
            ids = inputs if isinstance(inputs, tf.RaggedTensor) else tf.convert_to_tensor(inputs)
        scalar = ids.shape.rank == 1
        if scalar:
            ids = ids[None]
        if not isinstance(ids, tf.RaggedTensor):
            ids = tf.RaggedTensor.from_tensor(ids)
        ids = tf.ragged.boolean_mask(ids, ids != 0)
        text = tf.strings.reduce_join(tf.gather(self._tokens, ids), axis=-1, separator=" ")
        return text[0] if scalar else text

    def get_config(self):
        config = super().get_config()
        config.update({"vocabulary": None,  # an asset, never in the config
                       "pad_token": self.pad_token, "oov_token": self.oov_token})
        return config
