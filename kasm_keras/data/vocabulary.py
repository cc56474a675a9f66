"""A token vocabulary built from a training split, with counts, saved as plain text."""

import collections

import tensorflow as tf

from kasm_keras.utils.atomic_files import atomic_write_text

PADDING = ""
OOV = "[UNK]"


class Vocabulary:
    """Tokens in id order: the padding token (id 0) and the out-of-vocabulary token come first.

    `counts[i]` is how often token i occurred in the data the vocabulary was built from (0 for
    specials it never saw); the word-vector coverage report weighs tokens by it.
    """

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

        `max_size` counts the specials; tokens seen fewer than `min_count` times map to OOV.
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
        return self._ids.get(token, self.oov_id)

    def lookup_table(self):
        """A core-op hash table (string -> int64 id, OOV by default), safe inside a SavedModel."""
        initializer = tf.lookup.KeyValueTensorInitializer(
            tf.constant(self.tokens, tf.string), tf.range(len(self.tokens), dtype=tf.int64)
        )
        return tf.lookup.StaticHashTable(initializer, default_value=self.oov_id)

    def save(self, path):
        """One `token<TAB>count` line per id; the first line holds the special tokens' roles."""
        header = f"#kasm-vocabulary\toov={self.oov_token}\tpadding={'' if self.padding_token is None else 'first'}"
        lines = [header] + [f"{t}\t{n}" for t, n in zip(self.tokens, self.counts)]
        atomic_write_text(path, "\n".join(lines) + "\n")

    @classmethod
    def load(cls, path):
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        if not lines or not lines[0].startswith("#kasm-vocabulary\t"):
            raise ValueError(f"{path}:1: not a kasm-keras vocabulary file (missing header)")
        fields = dict(part.split("=", 1) for part in lines[0].split("\t")[1:])
        tokens, counts = [], []
        for number, line in enumerate(lines[1:], start=2):
            if line == "" and number == len(lines):
                break
            token, sep, count = line.rpartition("\t")
            if not sep or not count.isdigit():
                raise ValueError(f"{path}:{number}: expected 'token<TAB>count', got {line!r}")
            tokens.append(token)
            counts.append(int(count))
        padding = PADDING if fields.get("padding") == "first" else None
        return cls(tokens, counts, oov_token=fields["oov"], padding_token=padding)

