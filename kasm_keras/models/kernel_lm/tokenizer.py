"""Words to ids for corpora that come tokenised (Penn Treebank, WikiText-2): split on white
space, nothing else, so that the model sees text the way its training corpus was written."""

import keras
import tensorflow as tf

from kasm_keras.data.language_model_data import EOS, UNK
from kasm_keras.models.kernel_lm.backbone import KernelLMBackbone
from kasm_keras.models.vocabulary_tokenizer import VocabularyTokenizer
from kasm_keras.models.presets import ZooPresets


def word_ids(texts, lookup, unk_id, lowercase):
    """The ids of the white-space-separated words of texts (TensorFlow core ops only, so the
    tokenizer and the SavedModel share it).

    Args:
        texts: 1-D tf.string.
        lookup: Maps a tf.string tensor of words to their ids (unknown words to `unk_id`).
        unk_id: The id of unknown words.
        lowercase: Whether a word the vocabulary lacks as written is looked up in lower case:
            the Penn Treebank is lower case except its number token `N`.

    Returns:
        A `tf.RaggedTensor` of ids, `[len(texts), (words)]`.

    Examples:
        >>> import tensorflow as tf
        >>> from kasm_keras.models.kernel_lm.tokenizer import word_ids
        >>> table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
        ...     ["<unk>", "<eos>", "the", "N"], [0, 1, 2, 3]), default_value=0)
        >>> word_ids(tf.constant(["The N cats"]), table.lookup, 0, lowercase=True).to_list()
        [[2, 3, 0]]
    """

    def ids(words):
        found = lookup(words)
        if not lowercase:
            return found
        lowered = lookup(tf.strings.lower(words, encoding="utf-8"))
        return tf.where(tf.equal(found, tf.cast(unk_id, found.dtype)), lowered, found)

    return tf.ragged.map_flat_values(ids, tf.strings.split(texts))


@keras.saving.register_keras_serializable(package="kasm_keras")
class KernelLMTokenizer(ZooPresets, VocabularyTokenizer):
    """Word-level tokenizer of a language model's vocabulary (TensorFlow core ops only, so a
    SavedModel holding it loads anywhere).

    `<eos>` ends every line of the corpus, so it is also the start, end and padding token: a
    prompt starts after an `<eos>`, as every sentence of the corpus does. There is no padding
    id of its own; padding is marked by the preprocessor's `padding_mask`.

    Args:
        vocabulary: tokens in id order, holding `unk_token` and `eos_token`, or the path of a
            file with one token per line. Saved as the asset `vocabulary.txt`.
        lowercase: look words up in lower case unless the vocabulary holds them as written
            (the Penn Treebank is lower case but for its number token `N`; WikiText is not).
        unk_token: the token unknown words map to.
        eos_token: the end-of-sentence token.
        dtype: the dtype of the ids.
        **kwargs: `keras_hub.tokenizers.Tokenizer` arguments (`name`).

    Call arguments:
        - `inputs`: a string or a batch of strings.

    Returns:
        int32 ids: a 1-D tensor for one string, a `tf.RaggedTensor` for a batch (lists when
            called eagerly, as keras-hub's tokenizers give them).

    Examples:
        >>> import kasm_keras
        >>> tokenizer = kasm_keras.KernelLMTokenizer(
        ...     vocabulary=["<unk>", "<eos>", "the", "cat"], lowercase=True)
        >>> tokenizer(["The cat sat"])
        [[2, 3, 0]]
    """

    zoo_task = "language_model"  # its zoo names are presets (kasm_keras.models.presets)

    backbone_cls = KernelLMBackbone

    def __init__(self, vocabulary=None, lowercase=False, unk_token=UNK, eos_token=EOS,
                 dtype="int32", **kwargs):
        super().__init__(dtype=dtype, **kwargs)
        self.lowercase = lowercase
        self.unk_token = unk_token
        self.eos_token = eos_token
        for name in ("start_token", "end_token", "pad_token"):
            self._add_special_token(eos_token, name)
        self.set_vocabulary(vocabulary)

    def vocabulary_specials(self):
        """The special tokens of this tokenizer's vocabulary.

        Returns:
            `{"oov_token": unk_token, "padding_token": None}`: there is no padding token.
        """
        return {"oov_token": self.unk_token, "padding_token": None}

    def set_vocabulary(self, vocabulary):
        """Sets the tokenizer's vocabulary, which must hold `eos_token`.

        Args:
            vocabulary: tokens in id order, the path of a file with one per line, or None
                (no vocabulary).
        """
        vocabulary = super().set_vocabulary(vocabulary)
        if vocabulary is None:
            return
        if self.eos_token not in vocabulary:
            self.vocabulary = None
            raise ValueError(f"the vocabulary has no end-of-sentence token {self.eos_token!r}")
        self.unk_token_id = vocabulary.oov_id
        self._update_special_token_ids()

    def tokenize(self, inputs):
        self._check_vocabulary()
        inputs = tf.convert_to_tensor(inputs, tf.string)
        scalar = inputs.shape.rank == 0
        texts = inputs[None] if scalar else inputs
        ids = tf.cast(word_ids(texts, self._table.lookup, self.unk_token_id, self.lowercase),
                      self.compute_dtype)
        return ids[0] if scalar else ids

    def detokenize(self, inputs):
        """Ids back to text, words joined by spaces: Python strings when run eagerly (as
        keras-hub's tokenizers give them), string tensors inside a graph."""
        self._check_vocabulary()
        if isinstance(inputs, (list, tuple)):  # rows of different lengths, as generate gives
            inputs = tf.ragged.constant(inputs, dtype=tf.int32)
        ids = inputs if isinstance(inputs, tf.RaggedTensor) else tf.convert_to_tensor(inputs)
        scalar = ids.shape.rank == 1
        if scalar:
            ids = ids[None]
        text = tf.strings.reduce_join(tf.gather(self._tokens, ids), axis=-1, separator=" ")
        if tf.executing_eagerly():
            text = [t.decode("utf-8") for t in text.numpy().tolist()]
        return text[0] if scalar else text

    def get_config(self):
        config = super().get_config()
        config.update({"vocabulary": None,  # an asset, never in the config
                       "lowercase": self.lowercase, "unk_token": self.unk_token,
                       "eos_token": self.eos_token})
        return config
