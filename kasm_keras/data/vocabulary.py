"""A token vocabulary built from a training split, with counts, saved as plain text."""

import collections

import tensorflow as tf

from kasm_keras.utils.files import write_text

PADDING = "[PAD]"
OOV = "[UNK]"


class Vocabulary:
    """Tokens in id order: the padding token (id 0) and the out-of-vocabulary token come first.

    `counts[i]` is how often token i occurred in the data the vocabulary was built from (0 for
    specials it never saw); the word-vector coverage report weighs tokens by it.

    Args:
        tokens: the tokens in id order, no duplicates.
        counts: optional training counts, one per token (zeros when left out).
        oov_token: the token unknown tokens map to; must be in `tokens`.
        padding_token: the token of id 0, or None for a vocabulary without padding.

    Raises:
        ValueError: on duplicate tokens, counts of another length, a missing OOV token or a
            padding token that is not id 0.

    Examples:
        >>> from kasm_keras.data.vocabulary import Vocabulary
        >>> vocabulary = Vocabulary(["[PAD]", "[UNK]", "the", "cat"])
        >>> len(vocabulary), vocabulary.id("cat"), vocabulary.id("zebra")
        (4, 3, 1)
    """

    FORMAT = "plain-v2"  # names caches, so a vocabulary in an older format is never reused

    def __init__(self, tokens, counts=None, oov_token=OOV, padding_token=PADDING):
        self.tokens = list(tokens)
        self.counts = list(counts) if counts is not None else [0] * len(self.tokens)
        if len(self.counts) != len(self.tokens):
            raise ValueError(f"{len(self.tokens)} tokens but {len(self.counts)} counts")
        self.oov_token = oov_token
        self.padding_token = padding_token
        self._ids = {token: i for i, token in enumerate(self.tokens)}
        if len(self._ids) != len(self.tokens):
            duplicates = [t for t, n in collections.Counter(self.tokens).items() if n > 1]
            raise ValueError(f"vocabulary has duplicate tokens: {duplicates[:10]}")
        if oov_token not in self._ids:
            raise ValueError(f"the out-of-vocabulary token {oov_token!r} is not in the vocabulary")
        if padding_token is not None and self.tokens[0] != padding_token:
            raise ValueError(f"id 0 must be the padding token {padding_token!r}")

    @classmethod
    def build(cls, counter, max_size=None, min_count=1, oov_token=OOV, padding_token=PADDING):
        """The most frequent tokens (ties broken alphabetically), specials first.

        `max_size` counts the specials; tokens seen fewer than `min_count` times map to OOV,
        and the OOV entry's count is every occurrence of the tokens left out.

        Args:
            counter: mapping token -> count, e.g. a `collections.Counter` of the training tokens.
            max_size: optional int, the most tokens kept, specials included (at least 2).
            min_count: int, the fewest occurrences a token needs to be kept.
            oov_token: the out-of-vocabulary token.
            padding_token: the padding token (id 0), or None.

        Returns:
            A `Vocabulary`.

        Raises:
            ValueError: if `max_size` is below 2 or `min_count` below 1.

        Examples:
            >>> import collections
            >>> from kasm_keras.data.vocabulary import Vocabulary
            >>> vocabulary = Vocabulary.build(collections.Counter("the cat saw the dog".split()))
            >>> vocabulary.tokens, vocabulary.counts
            (['[PAD]', '[UNK]', 'the', 'cat', 'dog', 'saw'], [0, 0, 2, 1, 1, 1])
        """
        if max_size is not None and max_size < 2:
            raise ValueError(f"max_size must be at least 2 (padding and OOV), got {max_size}")
        if min_count < 1:
            raise ValueError(f"min_count must be at least 1, got {min_count}")
        specials = [t for t in (padding_token, oov_token) if t is not None]
        ranked = sorted(
            ((token, n) for token, n in counter.items() if token not in specials and n >= min_count),
            key=lambda item: (-item[1], item[0]),
        )
        if max_size is not None:
            ranked = ranked[: max_size - len(specials)]
        tokens = specials + [t for t, _ in ranked]
        counts = [counter.get(t, 0) for t in specials] + [n for _, n in ranked]
        # The OOV entry counts every occurrence of the tokens left out, so coverage adds up.
        counts[specials.index(oov_token)] += sum(counter.values()) - sum(counts)
        return cls(tokens, counts, oov_token=oov_token, padding_token=padding_token)

    def __len__(self):
        return len(self.tokens)

    def __contains__(self, token):
        return token in self._ids

    @property
    def oov_id(self):
        return self._ids[self.oov_token]

    def id(self, token):
        """The id of `token`, or the OOV id if it is not in the vocabulary.

        Args:
            token: str.

        Returns:
            int.
        """
        return self._ids.get(token, self.oov_id)

    def lookup_table(self):
        """A core-op hash table (string -> int64 id, OOV by default), safe inside a SavedModel.

        Returns:
            A `tf.lookup.StaticHashTable`.
        """
        initializer = tf.lookup.KeyValueTensorInitializer(
            tf.constant(self.tokens, tf.string), tf.range(len(self.tokens), dtype=tf.int64)
        )
        return tf.lookup.StaticHashTable(initializer, default_value=self.oov_id)

    def save(self, path):
        """One token per line in id order: the plain format of keras' StringLookup and LiteRT
        (`StringLookup(vocabulary=<the file's lines>, mask_token="[PAD]", oov_token="[UNK]")`
        gives the same ids). Tokens never hold white space, since tokenisation splits on it.

        Args:
            path: str, the file to write.

        Raises:
            ValueError: if a token is empty or holds white space.
        """
        bad = [t for t in self.tokens if not t or any(c.isspace() for c in t)]
        if bad:
            raise ValueError(f"tokens must be non-empty and hold no white space: {bad[:5]}")
        write_text(path, "".join(t + "\n" for t in self.tokens))

    def save_counts(self, path):
        """Writes the training counts, one per line in id order (a cache beside `save`'s file).

        Args:
            path: str, the file to write.
        """
        write_text(path, "".join(f"{n}\n" for n in self.counts))

    @classmethod
    def load(cls, path, counts_path=None, oov_token=OOV, padding_token=PADDING):
        """Reads a vocabulary written by `save` (and its counts, written by `save_counts`).

        Args:
            path: str, the token file, one token per line in id order.
            counts_path: optional str, the counts file; counts are zero without it.
            oov_token: the out-of-vocabulary token.
            padding_token: the padding token (id 0), or None.

        Returns:
            A `Vocabulary`.

        Raises:
            ValueError: naming the file and line, if a file is truncated or malformed.
        """
        with open(path, encoding="utf-8") as f:
            text = f.read()
        if text and not text.endswith("\n"):
            raise ValueError(f"{path}: the last line is not terminated; the file is truncated")
        tokens = text.split("\n")[:-1]
        for number, token in enumerate(tokens, start=1):
            if not token or token != token.strip():
                raise ValueError(f"{path}:{number}: expected one token per line, got {token!r}")
        counts = None
        if counts_path is not None:
            with open(counts_path, encoding="utf-8") as f:
                lines = f.read().split("\n")[:-1]
            if len(lines) != len(tokens) or not all(line.isdigit() for line in lines):
                raise ValueError(f"{counts_path}: expected {len(tokens)} counts, one per line, "
                                 f"for the tokens of {path}")
            counts = [int(line) for line in lines]
        try:
            return cls(tokens, counts, oov_token=oov_token, padding_token=padding_token)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from error
