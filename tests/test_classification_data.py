"""Classification datasets: locating and reading the canonical CSVs, the TFDS builder, the pipeline."""

import dataclasses
import hashlib
import io
import os
import pathlib
import shutil
import subprocess
import sys
import tarfile

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from kasm_keras.data import classification_data, datasets
from kasm_keras.data.classification_data import DataError, get_dataset, locate_source, read_rows
from kasm_keras.utils.download import DownloadError
from kasm_keras.data.text_encoding import TextEncoder, tokenize
from kasm_keras.data.tfds_builders import ZhangTextClassification
from kasm_keras.data.vocabulary import Vocabulary
from tests.conftest import real_data

FIXTURES = pathlib.Path(__file__).parent / "fixtures" / "zhang_csv"
AG_NEWS = get_dataset("ag_news")


class ZhangTextClassificationTest(tfds.testing.DatasetBuilderTestCase):
    """TFDS's own builder test: every config prepared from the fixtures as the manual directory."""

    DATASET_CLASS = ZhangTextClassification
    BUILDER_CONFIG_NAMES_TO_TEST = list(classification_data.DATASETS)
    EXAMPLE_DIR = str(FIXTURES)
    SPLITS = {"train": 3, "test": 2}
    SKIP_CHECKSUMS = True


def _write(path, text):
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return str(path)


def test_locate_source_accepts_the_usual_layouts(tmp_path):
    shutil.copytree(FIXTURES / "ag_news", tmp_path / "flat")
    assert locate_source("ag_news", tmp_path / "flat")["train"].endswith("flat/train.csv")
    shutil.copytree(FIXTURES / "ag_news", tmp_path / "parent" / "ag_news_csv")
    assert "ag_news_csv" in locate_source("ag_news", tmp_path / "parent")["test"]
    _write(tmp_path / "subset" / "ag_news" / "train_subset.csv", '"1","a","b"\n')
    _write(tmp_path / "subset" / "ag_news" / "test.csv", '"1","a","b"\n')
    found = locate_source("ag_news", tmp_path / "subset")
    assert found["train"].endswith("train_subset.csv") and found["classes"] is None


def test_locate_source_lists_what_it_looked_for(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        locate_source("dbpedia", tmp_path)
    message = str(error.value)
    assert str(tmp_path / "train.csv") in message
    assert str(tmp_path / "dbpedia_csv" / "test_subset.csv") in message
    with pytest.raises(ValueError, match="Unknown dataset 'imdb'.*ag_news"):
        locate_source("imdb", tmp_path)


def test_rows_join_title_and_body(tmp_path):
    path = _write(tmp_path / "train.csv", '"3","Title","Body text"\n"1","","Only body"\n')
    assert list(read_rows(path, AG_NEWS)) == [(1, 2, "Title Body text"), (2, 0, "Only body")]
    yahoo = _write(tmp_path / "y.csv", '"2","Q?","More","Answer"\n')
    assert list(read_rows(yahoo, get_dataset("yahoo"))) == [(1, 1, "Q? More Answer")]


@pytest.mark.parametrize("row, reason", [
    ('"1","only two"', "expected 3 fields, found 2"),
    ('"1","a","b","c"', "expected 3 fields, found 4"),
    ('"5","a","b"', r"class '5' is not an integer in 1\.\.4"),
    ('"0","a","b"', r"class '0' is not an integer"),
    ('"x","a","b"', r"class 'x' is not an integer"),
    (b'"1","caf\xe9","b"', "invalid UTF-8"),
])
def test_bad_rows_stop_with_file_and_line(tmp_path, row, reason):
    good = '"1","a","b"\n"2","multi\nline","c"\n'
    data = good.encode() + (row if isinstance(row, bytes) else row.encode()) + b'\n"3","d","e"\n'
    path = _write(tmp_path / "train.csv", data)
    with pytest.raises(DataError, match=rf"{path}:4: {reason}"):
        list(read_rows(path, AG_NEWS))
    skipped = []
    rows = list(read_rows(path, AG_NEWS, skip_bad_rows=True, bad_rows=skipped))
    assert [r[0] for r in rows] == [1, 2, 5]
    assert [(b.path, b.line) for b in skipped] == [(path, 4)]


def test_empty_and_missing_files(tmp_path):
    empty = _write(tmp_path / "train.csv", "")
    with pytest.raises(DataError, match=f"{empty}: the file is empty"):
        list(read_rows(empty, AG_NEWS))
    with pytest.raises(FileNotFoundError, match="nothing.csv"):
        list(read_rows(tmp_path / "nothing.csv", AG_NEWS))


def test_classes_file_must_match(tmp_path):
    path = _write(tmp_path / "classes.txt", "World\nSports\nBusiness\nScience\n")
    with pytest.raises(DataError, match="classes.txt: classes"):
        classification_data.read_classes(path, AG_NEWS)


def _source(tmp_path, train_rows=40, bad=b""):
    rows = [f'"{1 + i % 4}","Title {i}","word{i % 7} common text number {i}"' for i in range(train_rows)]
    folder = tmp_path / "source"
    _write(folder / "train.csv", "\n".join(rows).encode() + b"\n" + bad)
    _write(folder / "test.csv", '"1","t","world news"\n"2","u","sports news"\n')
    return folder


def test_builder_reports_or_skips_bad_rows(tmp_path):
    source = _source(tmp_path, bad=b'"9","bad","class"\n')
    config = tfds.download.DownloadConfig(manual_dir=str(source))
    strict = ZhangTextClassification(config="ag_news", data_dir=str(tmp_path / "strict"))
    with pytest.raises(DataError, match=r"train.csv:41: class '9'"):
        strict.download_and_prepare(download_config=config)
    lenient = ZhangTextClassification(config="ag_news", data_dir=str(tmp_path / "lenient"),
                                      skip_bad_rows=True)
    lenient.download_and_prepare(download_config=config)
    assert lenient.info.splits["train"].num_examples == 40
    again = ZhangTextClassification(config="ag_news", data_dir=str(tmp_path / "lenient"))
    assert [(os.path.basename(r.path), r.line) for r in again.skipped_rows()] == [("train.csv", 41)]


def test_builder_extracts_a_local_archive(tmp_path):
    archive = tmp_path / "archives" / "ag_news_csv.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(FIXTURES / "ag_news", arcname="ag_news_csv")
    builder = ZhangTextClassification(config="ag_news", data_dir=str(tmp_path / "tfds"))
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(archive.parent)))
    assert builder.info.splits["test"].num_examples == 2


def test_pipeline_splits_vocabulary_and_cache(tmp_path, monkeypatch):
    source = _source(tmp_path, train_rows=400)
    data = datasets.load_classification("ag_news", source, cache_dir=tmp_path / "cache",
                                        min_count=1, validation_fraction=0.25, seed=3)
    sizes = data.split_sizes()
    assert sizes["train"] + sizes["validation"] == 400 and sizes["test"] == 2
    assert 60 < sizes["validation"] < 140
    validation_texts = {t for t, _ in data.texts("validation").as_numpy_iterator()}
    train_texts = {t for t, _ in data.texts("train").as_numpy_iterator()}
    assert not validation_texts & train_texts

    # The vocabulary sees the training part only.
    only_in_validation = {w for t in validation_texts for w in t.decode().split()} - {
        w for t in train_texts for w in t.decode().split()}
    assert only_in_validation and not any(w in data.vocabulary for w in only_in_validation)

    ids, labels = next(iter(data.batches("train", 8)))
    assert ids.shape == (8, 128) and ids.dtype == tf.int32 and labels.shape == (8,)
    first = data.examples("train").take(1).get_single_element()
    assert int(tf.reduce_sum(tf.cast(first[0] != 0, tf.int32))) == int(first[2])

    # Same seed, same split; another seed, another split.
    same = datasets.load_classification("ag_news", source, cache_dir=tmp_path / "other",
                                        min_count=1, validation_fraction=0.25, seed=3)
    assert {t for t, _ in same.texts("validation").as_numpy_iterator()} == validation_texts
    other = datasets.load_classification("ag_news", source, cache_dir=tmp_path / "other",
                                         min_count=1, validation_fraction=0.25, seed=4)
    assert {t for t, _ in other.texts("validation").as_numpy_iterator()} != validation_texts

    # A second run reads the cache: neither the CSV nor the tokenizer is touched again.
    monkeypatch.setattr(classification_data, "read_rows", _fail)
    monkeypatch.setattr(datasets, "tokenize", _fail)
    cached = datasets.load_classification("ag_news", source, cache_dir=tmp_path / "cache",
                                          min_count=1, validation_fraction=0.25, seed=3)
    assert cached.split_sizes() == sizes


def _fail(*args, **kwargs):
    raise AssertionError("the cache should have been used")


TEXTS = [
    "Wall St. Bears Claw Back (Reuters) Reuters - Short-sellers, Wall Street's dwindling\\band",
    "He said quot;no quot; to #36;10 &lt;b&gt;bold&lt;/b&gt; didn #39;t",
    "Ünïcödé ТЕКСТ 東京 café",
    "",
    "word " * 20_000,
]


def test_tokenizer_undoes_source_artefacts():
    tokens = [[t.decode() for t in row] for row in tokenize(tf.constant(TEXTS[:2])).to_list()]
    assert tokens[0][-5:] == ["wall", "street", "'s", "dwindling", "band"]
    assert tokens[1] == ['he', 'said', '"', 'no', '"', 'to', '$', '10', '<', 'b', '>', 'bold', '<',
                         '/', 'b', '>', 'did', "n't"]
    bad = tokenize(tf.constant([b"ok \xff\xfe fine"])).to_list()[0]
    assert bad[0] == b"ok" and bad[-1] == b"fine"


def test_saved_encoder_loads_without_tensorflow_text(tmp_path):
    vocabulary = Vocabulary.build({"wall": 3, "street": 2, "'s": 2, "café": 1, "word": 5,
                                   "東京": 1}, min_count=1)
    encoder = TextEncoder(vocabulary, max_length=16)
    texts = TEXTS + [b"invalid \xff bytes"]
    ids, mask = encoder(tf.constant(texts))
    in_pipeline = next(iter(tf.data.Dataset.from_tensor_slices(texts).batch(8).map(
        lambda t: encoder(t)[0])))
    np.testing.assert_array_equal(ids, in_pipeline)
    np.testing.assert_array_equal(mask, ids.numpy() != 0)
    assert ids.shape == (len(texts), 16) and mask[4].numpy().all() and not mask[3].numpy().any()

    tf.saved_model.save(encoder, str(tmp_path / "encoder"))
    tf.io.write_file(str(tmp_path / "texts.pb"), tf.io.serialize_tensor(tf.constant(texts)))
    script = (
        "import sys, numpy as np, tensorflow as tf\n"
        f"texts = tf.io.parse_tensor(tf.io.read_file({str(tmp_path / 'texts.pb')!r}), tf.string)\n"
        f"encoder = tf.saved_model.load({str(tmp_path / 'encoder')!r})\n"
        "ids, mask = encoder(texts)\n"
        "assert 'tensorflow_text' not in sys.modules, 'tensorflow_text was imported'\n"
        f"np.save({str(tmp_path / 'loaded.npy')!r}, ids.numpy())\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, cwd=tmp_path,
                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    np.testing.assert_array_equal(np.load(tmp_path / "loaded.npy"), ids)


@pytest.mark.parametrize("name, train, test", [("ag_news", 26_318, 7_600),
                                               ("dbpedia", 17_296, 4_818)])
def test_real_data(real_data_cache, name, train, test):
    data = datasets.load_classification(name, real_data(name), cache_dir=real_data_cache)
    sizes = data.split_sizes()
    assert sizes["train"] + sizes["validation"] == train and sizes["test"] == test
    assert 0.04 < sizes["validation"] / train < 0.06
    assert data.skipped_rows() == []
    counts = np.bincount(data.labels("test"), minlength=data.num_classes)
    assert counts.sum() == test and (counts > 0).all()
    if name == "ag_news":
        assert (counts == 1_900).all()


def _serve_archive(server, monkeypatch, checksum=None):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(FIXTURES / "ag_news", arcname="ag_news_csv")
    server.files["/ag_news_csv.tar.gz"] = buffer.getvalue()
    official = dataclasses.replace(
        AG_NEWS, url=server.url("/ag_news_csv.tar.gz"),
        checksum=checksum or "sha256:" + hashlib.sha256(buffer.getvalue()).hexdigest())
    config = next(c for c in ZhangTextClassification.BUILDER_CONFIGS if c.name == "ag_news")
    monkeypatch.setattr(config, "dataset", official)


def test_downloads_the_official_archive_without_a_local_copy(server, tmp_path, monkeypatch):
    _serve_archive(server, monkeypatch)
    data = datasets.load_classification("ag_news", cache_dir=tmp_path, min_count=1)
    assert data.split_sizes()["test"] == 2
    assert server.requests == ["/ag_news_csv.tar.gz"]


def test_a_corrupt_download_stops_with_the_checksums(server, tmp_path, monkeypatch):
    _serve_archive(server, monkeypatch, checksum="md5:" + "0" * 32)
    with pytest.raises(DownloadError, match="0{32}"):
        datasets.load_classification("ag_news", cache_dir=tmp_path)
    assert not list(tmp_path.rglob("*.tar.gz"))


def test_length_aware_batches_read_every_document_once_cut_to_the_longest(tmp_path):
    folder = tmp_path / "source"
    rows = [f'"{1 + i % 4}","T{i}","{" ".join(["w"] * (i % 37))}"' for i in range(300)]
    _write(folder / "train.csv", "\n".join(rows).encode() + b"\n")
    _write(folder / "test.csv", "\n".join(rows[:150]).encode() + b"\n")
    data = datasets.load_classification("ag_news", folder, cache_dir=tmp_path / "cache",
                                        min_count=1, validation_fraction=0.2, max_length=24)
    examples = list(data.examples("test").as_numpy_iterator())
    expected = sorted((min(n, 24), label) for ids, label, n in examples)
    seen, widths = [], []
    for ids, labels in data.batches("test", 16, by_length=True).as_numpy_iterator():
        lengths = (ids != 0).sum(axis=1)
        widths.append((ids.shape[1], max(lengths.max(), 1)))
        seen += list(zip(lengths.tolist(), labels.tolist()))
    assert sorted(seen) == expected  # the test split, once and completely
    assert all(width == longest for width, longest in widths)  # each batch cut to its longest
    assert sum(w for w, _ in widths) < len(widths) * 24
    # Training: shuffled, repeated, every batch full, buckets mixed.
    train = data.batches("train", 16, shuffle=True, repeat=True, by_length=True,
                         drop_remainder=True).take(40)
    shapes = [ids.shape for ids, _ in train.as_numpy_iterator()]
    assert all(s[0] == 16 for s in shapes) and len({s[1] for s in shapes}) > 2
    again = [ids.shape for ids, _ in data.batches(
        "train", 16, shuffle=True, repeat=True, by_length=True, drop_remainder=True
    ).take(40).as_numpy_iterator()]
    assert again == shapes  # the order follows from the seed
    # The spec says every batch is full, so the training loop can slice it over replicas.
    spec = data.batches("train", 16, repeat=True, by_length=True, drop_remainder=True).element_spec
    assert spec[0].shape.as_list() == [16, None] and spec[1].shape.as_list() == [16]
    # Under XLA a batch's length is rounded up to a multiple of 8 (at most max_length).
    rounded = [ids.shape[1] for ids, _ in data.batches(
        "test", 16, by_length=True, length_multiple=8).as_numpy_iterator()]
    assert set(rounded) <= {8, 16, 24} and len(rounded) == len(widths)
