"""Raw text to token ids by the project's core-op rules, as a keras-hub tokenizer."""

import os

import keras
import keras_hub
import tensorflow as tf

from kasm_keras.data.text_encoding import tokenize as split_tokens
from kasm_keras.data.vocabulary import OOV, PADDING, Vocabulary
from kasm_keras.models.kernel_classifier.backbone import KernelClassifierBackbone
from kasm_keras.models.kernel_classifier.presets import ZooPresets

VOCABULARY_FILE = "vocabulary.txt"


@keras.saving.register_keras_serializable(package="kasm_keras")
class KernelTokenizer(ZooPresets, keras_hub.tokenizers.Tokenizer):
    """Word-level tokenizer: `kasm_keras.data.text_encoding`'s rules (TensorFlow core ops only,
    so an exported SavedModel needs no tensorflow-text), then a vocabulary lookup.

    Args:
        vocabulary: tokens in id order (id 0 the padding token, then the out-of-vocabulary
            token), or the path of a file with one token per line. Saved as the asset
            `vocabulary.txt`, never in the config.
        pad_token: the token of id 0.
        oov_token: the token unknown words map to.

    Call arguments:
        inputs: a string or a batch of strings. Returns int32 ids: a 1-D tensor for one string,
            a `tf.RaggedTensor` for a batch.

    Example:
    ```python
    tokenizer = KernelTokenizer(vocabulary=["[PAD]", "[UNK]", "the", "cat"])
    tokenizer(["The cat sat."])   # [[2, 3, 1, 1]]
    ```
    """

    backbone_cls = KernelClassifierBackbone

    def __init__(self, vocabulary=None, pad_token=PADDING, oov_token=OOV, dtype="int32", **kwargs):
        super().__init__(dtype=dtype, **kwargs)
        self.pad_token = pad_token
        self.oov_token = oov_token
        self.vocabulary = None
        self._table = None
        self.file_assets = [VOCABULARY_FILE]
        self.set_vocabulary(vocabulary)

    def set_vocabulary(self, vocabulary):
        if vocabulary is None:
            self.vocabulary, self._table = None, None
            return
        if isinstance(vocabulary, str):
            vocabulary = Vocabulary.load(vocabulary, oov_token=self.oov_token,
                                         padding_token=self.pad_token)
        else:
            vocabulary = Vocabulary(list(vocabulary), oov_token=self.oov_token,
                                    padding_token=self.pad_token)
        self.vocabulary = vocabulary.tokens
        self._table = vocabulary.lookup_table()
        self._tokens = tf.constant(self.vocabulary)

    def save_assets(self, dir_path):
        self._check_vocabulary()
        Vocabulary(self.vocabulary, oov_token=self.oov_token,
                   padding_token=self.pad_token).save(os.path.join(dir_path, VOCABULARY_FILE))

    def load_assets(self, dir_path):
        self.set_vocabulary(os.path.join(dir_path, VOCABULARY_FILE))

    def _check_vocabulary(self):
        if self.vocabulary is None:
            raise ValueError("KernelTokenizer has no vocabulary yet: pass `vocabulary=` or load "
                             "it with `from_preset`.")

    def get_vocabulary(self):
        self._check_vocabulary()
        return list(self.vocabulary)

    def vocabulary_size(self):
        self._check_vocabulary()
        return len(self.vocabulary)

    def id_to_token(self, id):
        self._check_vocabulary()
        if not 0 <= id < len(self.vocabulary):
            raise ValueError(f"id must be in [0, {len(self.vocabulary) - 1}], got {id}")
        return self.vocabulary[id]

    def token_to_id(self, token):
        self._check_vocabulary()
        if token not in self.vocabulary:
            raise ValueError(f"token {token!r} is not in the vocabulary")
        return self.vocabulary.index(token)

    @property
    def pad_token_id(self):
        return 0

    def tokenize(self, inputs):
        self._check_vocabulary()
        inputs = tf.convert_to_tensor(inputs, tf.string)
        scalar = inputs.shape.rank == 0
        tokens = split_tokens(inputs[None] if scalar else inputs)
        ids = tf.cast(tf.ragged.map_flat_values(self._table.lookup, tokens), self.compute_dtype)
        return ids[0] if scalar else ids

    def detokenize(self, inputs):
        """Ids back to text: tokens joined by spaces, padding left out."""
        self._check_vocabulary()
        ids = tf.convert_to_tensor(inputs) if not isinstance(inputs, tf.RaggedTensor) else inputs
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
