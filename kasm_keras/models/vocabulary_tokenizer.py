"""What the families' word-level tokenizers share: a vocabulary in id order, kept as the asset
`vocabulary.txt` (never in the config) and looked up with a core-op hash table."""

import os

import keras_hub
import tensorflow as tf

from kasm_keras.data.vocabulary import Vocabulary

VOCABULARY_FILE = "vocabulary.txt"


class VocabularyTokenizer(keras_hub.tokenizers.Tokenizer):
    """Base of `KernelTokenizer` and `KernelLMTokenizer`: subclasses name their special tokens
    (`vocabulary_specials`) and split text their own way.

    Args:
        dtype: the dtype of the ids.
        **kwargs: passed to `keras_hub.tokenizers.Tokenizer`.

    Examples:
        >>> import kasm_keras
        >>> classifier = kasm_keras.KernelTextClassifier.from_preset("ag_news/rkm_cifg_1gram")
        >>> tokenizer = classifier.preprocessor.tokenizer
        >>> isinstance(tokenizer, kasm_keras.models.vocabulary_tokenizer.VocabularyTokenizer)
        True
        >>> tokenizer.get_vocabulary()[:4]
        ['[PAD]', '[UNK]', '.', 'the']
    """

    def __init__(self, dtype="int32", **kwargs):
        super().__init__(dtype=dtype, **kwargs)
        self.vocabulary = None
        self._table = None
        self._ids = {}
        self.file_assets = [VOCABULARY_FILE]

    def vocabulary_specials(self):
        """The special tokens of this tokenizer's vocabulary.

        Returns:
            `Vocabulary`'s `oov_token` and `padding_token` arguments, a dict.
        """
        raise NotImplementedError

    def set_vocabulary(self, vocabulary):
        """Sets the tokenizer's vocabulary.

        Args:
            vocabulary: tokens in id order, the path of a file with one per line, or None
                (no vocabulary).

        Returns:
            The `kasm_keras.data.vocabulary.Vocabulary`, or None.
        """
        if vocabulary is None:
            self.vocabulary, self._table, self._ids = None, None, {}
            return None
        if isinstance(vocabulary, str):
            vocabulary = Vocabulary.load(vocabulary, **self.vocabulary_specials())
        else:
            vocabulary = Vocabulary(list(vocabulary), **self.vocabulary_specials())
        self.vocabulary = vocabulary.tokens
        self._ids = {token: i for i, token in enumerate(self.vocabulary)}  # token_to_id: O(1)
        self._table = vocabulary.lookup_table()
        self._tokens = tf.constant(self.vocabulary)
        return vocabulary

    def save_assets(self, dir_path):
        """Writes the vocabulary as `vocabulary.txt` in `dir_path` (a preset's assets).

        Args:
            dir_path: the assets directory.
        """
        self._check_vocabulary()
        Vocabulary(self.vocabulary, **self.vocabulary_specials()).save(
            os.path.join(dir_path, VOCABULARY_FILE))

    def load_assets(self, dir_path):
        """Reads the vocabulary from `vocabulary.txt` in `dir_path` (a preset's assets).

        Args:
            dir_path: the assets directory.
        """
        self.set_vocabulary(os.path.join(dir_path, VOCABULARY_FILE))

    def _check_vocabulary(self):
        if self.vocabulary is None:
            raise ValueError(f"{type(self).__name__} has no vocabulary yet: pass `vocabulary=` "
                             "or load it with `from_preset`.")

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
        if token not in self._ids:
            raise ValueError(f"token {token!r} is not in the vocabulary")
        return self._ids[token]

    def lookup(self, words):
        """Ids of words by the vocabulary.

        Args:
            words: a ragged string tensor of words.

        Returns:
            Their ids, ragged as `words`; words outside the vocabulary get the unknown token's.
        """
        return tf.cast(tf.ragged.map_flat_values(self._table.lookup, words), self.compute_dtype)
