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
    """Valid UTF-8 (bad bytes become U+FFFD), source artefacts undone, lower case."""
    texts = tf.strings.unicode_transcode(
        texts, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD
    )
    for pattern, rewrite in SOURCE_ARTEFACTS:
        texts = tf.strings.regex_replace(texts, pattern, rewrite)
    return tf.strings.lower(texts, encoding="utf-8")


def tokenize(texts):
    """A batch of raw strings -> RaggedTensor of token strings."""
    texts = normalize(texts)
    for pattern, rewrite in TOKEN_RULES:
        texts = tf.strings.regex_replace(texts, pattern, rewrite)
    return tf.strings.split(texts)


def pad_length_to_multiple(ids, multiple, max_length):
    """ids [batch, length] padded with 0 to the next multiple of `multiple` steps, at most
    `max_length`: XLA compiles once per shape, so rounding bounds the shapes it sees."""
    length = tf.shape(ids)[1]
    rounded = tf.minimum((length + multiple - 1) // multiple * multiple, max_length)
    return tf.pad(ids, [[0, 0], [0, tf.maximum(rounded - length, 0)]])


class TextEncoder(tf.Module):
    """Raw documents -> (token ids [batch, length] int32, mask [batch, length] bool).

    Id 0 is padding; tokens past `max_length` are cut. `length` is `max_length`, or with
    `pad_to_longest` the longest document's (cut) length, at least 1: masking makes the padding
    irrelevant to the model, so serving spends no work on it. The vocabulary table is a core-op
    hash table, so the encoder can be saved inside a SavedModel.
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
        """Also each document's token count before cutting, from the same tokenisation."""
        return self._encode(texts)
