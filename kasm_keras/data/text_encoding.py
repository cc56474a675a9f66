"""Raw text to token ids with TensorFlow core ops only.

The same functions run in `tf.data` during training and inside an exported SavedModel, which must
load where tensorflow-text's op library is missing (saved_model_cli, some serving builds). So:
core string ops (RE2 regexes, `tf.strings.lower`, `tf.strings.split`) and tensorflow-text's
Python helpers that are built from core ops (`pad_model_inputs`), never its own kernels.
"""

import hashlib

import tensorflow as tf
from tensorflow_text import pad_model_inputs

# Artefacts of the Zhang et al. CSVs (AG News above all): HTML entities whose "&" became a space
# or vanished, and literal backslashes where the source had line breaks. Applied in order.
SOURCE_ARTEFACTS = (
    (r"\\", " "),
    (r"[ &]?#(?:39|146|145|8216|8217);", "'"),
    (r"[ &]?#(?:147|148|8220|8221);|[ &]?quot;", '"'),
    (r"[ &]?#(?:151|150|8211|8212);", " - "),
    (r"[ &]?#36;", "$"),
    (r"[ &]?#(?:38|038);|&amp;", "&"),
    (r"&lt;", "<"),
    (r"&gt;", ">"),
    (r"&nbsp;|[ &]?#160;", " "),
    (r"[ &]?#\d{2,5};", " "),
)

# Tokenisation: clitics split the way GloVe's vocabulary has them ('s, n't), every other
# non-alphanumeric character is a token of its own, then split on white space. A clitic's
# apostrophe is parked on a private-use character so the quote rules leave it alone.
CLITIC = "\uE000"
TOKEN_RULES = (
    (r"n't\b", " n" + CLITIC + "t"),
    (r"'(s|re|ve|ll|d|m)\b", " " + CLITIC + "\\1"),
    (r"([^\pL\pN\s'" + CLITIC + r"])", " \\1 "),
    (r"(^|\s)'", "\\1' "),
    (r"'(\s|$)", " '\\1"),
    (CLITIC, "'"),
)


# Names every cache of tokenised text, so a change to the rules never reuses a stale one.
RULES_FINGERPRINT = hashlib.sha256(repr((SOURCE_ARTEFACTS, TOKEN_RULES)).encode()).hexdigest()[:12]


def normalize(texts):
    """Cleans raw strings before tokenisation: valid UTF-8, source artefacts undone, lower case.

    Bad bytes become U+FFFD, and the HTML-entity and backslash artefacts of the Zhang et al.
    CSVs (`SOURCE_ARTEFACTS`) are rewritten to the characters they stand for.

    Args:
        texts: string tensor of any shape.

    Returns:
        A string tensor of the same shape.

    Examples:
        >>> from kasm_keras.data.text_encoding import normalize
        >>> normalize(["Tom&#39;s CAFE"]).numpy()
        array([b"tom's cafe"], dtype=object)
    """
    texts = tf.strings.unicode_transcode(
        texts, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD
    )
    for pattern, rewrite in SOURCE_ARTEFACTS:
        texts = tf.strings.regex_replace(texts, pattern, rewrite)
    return tf.strings.lower(texts, encoding="utf-8")


def tokenize(texts):
    """Splits raw strings into tokens the way GloVe's vocabulary has them.

    The text is `normalize`d, clitics are split off (`'s`, `n't`), every other
    non-alphanumeric character becomes a token of its own, then the text splits on white space.

    Args:
        texts: string tensor [batch] of raw documents.

    Returns:
        A `tf.RaggedTensor` [batch, (tokens)] of token strings.

    Examples:
        >>> from kasm_keras.data.text_encoding import tokenize
        >>> tokenize(["Don't stop, it's fine!"]).to_list()
        [[b'do', b"n't", b'stop', b',', b'it', b"'s", b'fine', b'!']]
    """
    texts = normalize(texts)
    for pattern, rewrite in TOKEN_RULES:
        texts = tf.strings.regex_replace(texts, pattern, rewrite)
    return tf.strings.split(texts)


def pad_length_to_multiple(ids, multiple, max_length):
    """Pads token ids with 0 to the next multiple of `multiple` steps, at most `max_length`.

    XLA compiles once per shape, so rounding lengths up bounds the number of shapes it sees.

    Args:
        ids: int tensor [batch, length].
        multiple: int, the step the padded length is rounded up to.
        max_length: int, the cap on the padded length (ids already longer are left as they are).

    Returns:
        The ids [batch, padded length], same dtype.

    Examples:
        >>> import tensorflow as tf
        >>> from kasm_keras.data.text_encoding import pad_length_to_multiple
        >>> pad_length_to_multiple(tf.ones([2, 5], tf.int32), 4, 16).shape
        TensorShape([2, 8])
        >>> pad_length_to_multiple(tf.ones([2, 5], tf.int32), 4, 6).shape
        TensorShape([2, 6])
    """
    length = tf.shape(ids)[1]
    rounded = tf.minimum((length + multiple - 1) // multiple * multiple, max_length)
    return tf.pad(ids, [[0, 0], [0, tf.maximum(rounded - length, 0)]])


class TextEncoder(tf.Module):
    """Raw documents -> (token ids [batch, length] int32, mask [batch, length] bool).

    Id 0 is padding; tokens past `max_length` are cut. `length` is `max_length`, or with
    `pad_to_longest` the longest document's (cut) length, at least 1: masking makes the padding
    irrelevant to the model, so serving spends no work on it. The vocabulary table is a core-op
    hash table, so the encoder can be saved inside a SavedModel.

    Args:
        vocabulary: a `Vocabulary` whose id 0 is its padding token.
        max_length: int, documents are cut to this many tokens.
        pad_to_longest: bool, pad each batch only to its longest document instead of
            `max_length`.
        name: optional `tf.Module` name.

    Raises:
        ValueError: if the vocabulary's id 0 is not its padding token.

    Examples:
        >>> import collections, tensorflow as tf
        >>> from kasm_keras.data.text_encoding import TextEncoder
        >>> from kasm_keras.data.vocabulary import Vocabulary
        >>> vocabulary = Vocabulary.build(collections.Counter("the cat saw the dog".split()))
        >>> encoder = TextEncoder(vocabulary, max_length=8, pad_to_longest=True)
        >>> ids, mask = encoder(tf.constant(["the cat", "the dog saw a cat"]))
        >>> ids.numpy().tolist()  # "a" is out of vocabulary (id 1)
        [[2, 3, 0, 0, 0], [2, 4, 5, 1, 3]]
        >>> mask.numpy()[0].tolist()
        [True, True, False, False, False]
    """

    def __init__(self, vocabulary, max_length, pad_to_longest=False, name=None):
        super().__init__(name=name)
        self.pad_to_longest = pad_to_longest
        if vocabulary.padding_token is None or vocabulary.tokens[0] != vocabulary.padding_token:
            raise ValueError("TextEncoder needs a vocabulary whose id 0 is the padding token")
        self.max_length = int(max_length)
        self.table = vocabulary.lookup_table()

    def _encode(self, texts):
        tokens = tokenize(texts)
        ids = tf.ragged.map_flat_values(self.table.lookup, tokens)
        ids, mask = pad_model_inputs(ids, self.max_length, pad_value=0)
        if self.pad_to_longest:
            longest = tf.reduce_max(tf.minimum(tokens.row_lengths(), self.max_length))
            width = tf.maximum(tf.cast(longest, tf.int32), 1)  # an empty batch too
            ids, mask = ids[:, :width], mask[:, :width]
        return (tf.cast(ids, tf.int32), tf.cast(mask, tf.bool),
                tf.cast(tokens.row_lengths(), tf.int32))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def __call__(self, texts):
        ids, mask, _ = self._encode(texts)
        return ids, mask

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def encode_with_lengths(self, texts):
        """Encodes like calling the encoder, and also counts each document's tokens before cutting.

        Args:
            texts: string tensor [batch] of raw documents.

        Returns:
            (ids [batch, length] int32, mask [batch, length] bool, token counts [batch] int32).
        """
        return self._encode(texts)
