"""Bad inputs to the data layer: one clear error naming the file and line (or the argument),
nothing dropped silently, nothing on disk lost; and leftovers of killed writers removed only
when their writer is dead."""

import csv
import gzip
import hashlib
import io
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import tarfile
import time
import zipfile

import pytest
import tensorflow_datasets as tfds

from kasm_keras.data import classification_data, datasets, language_model_data
from kasm_keras.data.classification_data import DataError, get_dataset, read_rows
from kasm_keras.data.tfds_builders import WRITER_FILE, ZhangTextClassification
from kasm_keras.utils import files
from kasm_keras.utils.download import CorruptArchiveError, DownloadError, extract_archive
from kasm_keras.utils.files import atomic_directory, atomic_path, machine_id

AG_NEWS = get_dataset("ag_news")
GOOD = '"1","a","b"\n"2","c","d"\n'


def _write(path, data):
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return str(path)


def _snapshot(root):
    """{relative path: sha256} of every file under `root`: to show nothing changed."""
    root = pathlib.Path(root)
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


# 1. A class field must be ASCII digits: "³" crashed int(), "٣" was read as class 3.

@pytest.mark.parametrize("field", ["³", "٣", "３", "1²", "9" * 5000, "-1", "+2", "1.0", ""],
                         ids=["superscript", "arabic-indic", "fullwidth", "1-superscript",
                              "5000-digits", "minus", "plus", "decimal", "empty"])
def test_class_must_be_ascii_digits(tmp_path, field):
    path = _write(tmp_path / "train.csv", f'{GOOD}"{field}","bad","class"\n"3","e","f"\n')
    before = _snapshot(tmp_path)
    with pytest.raises(DataError, match=rf"^{re.escape(path)}:3: class .* is not an integer"):
        list(read_rows(path, AG_NEWS))
    skipped = []
    rows = list(read_rows(path, AG_NEWS, skip_bad_rows=True, bad_rows=skipped))
    assert [(line, label) for line, label, _ in rows] == [(1, 0), (2, 1), (4, 2)]
    assert [(b.path, b.line) for b in skipped] == [(path, 3)]
    assert len(str(skipped[0])) < len(path) + 100  # a long field is shown cut
    assert _snapshot(tmp_path) == before


# 2. Large fields: Python's csv stops at 128 KiB; valid documents may be longer.

def test_large_quoted_field_is_accepted(tmp_path):
    body = ("word, \"quoted\"\n" * 100_000)[:1_500_000]
    path = _write(tmp_path / "train.csv", '"2","title","' + body.replace('"', '""') + '"\n' + GOOD)
    limit = csv.field_size_limit()
    rows = list(read_rows(path, AG_NEWS))
    assert [line for line, _, _ in rows] == [1, body.count("\n") + 2, body.count("\n") + 3]
    assert rows[0][1:] == (1, "title " + body)
    assert csv.field_size_limit() == limit  # other csv readers in the process keep their limit


@pytest.mark.parametrize("limit, reason", [
    ("FIELD_SIZE_LIMIT", r"malformed CSV.*field larger than field limit"),
    ("LINE_SIZE_LIMIT", r"line longer than 1000 bytes"),
])
def test_oversized_field_or_line_is_a_bad_row(tmp_path, monkeypatch, limit, reason):
    monkeypatch.setattr(classification_data, limit, 1000)
    path = _write(tmp_path / "train.csv", GOOD + '"3","t","' + "x" * 5000 + '"\n"4","e","f"\n')
    before = _snapshot(tmp_path)
    with pytest.raises(DataError, match=rf"^{re.escape(path)}:3: {reason}"):
        list(read_rows(path, AG_NEWS))
    skipped = []
    rows = list(read_rows(path, AG_NEWS, skip_bad_rows=True, bad_rows=skipped))
    assert [line for line, _, _ in rows] == [1, 2, 4]
    assert [(b.path, b.line) for b in skipped] == [(path, 3)]
    assert _snapshot(tmp_path) == before


# 3. Every row bad under skip_bad_rows: TFDS's AssertionError named no file.

def test_all_rows_bad_names_the_file(tmp_path):
    source = tmp_path / "source"
    train = _write(source / "train.csv", '"9","a","b"\n"x","c","d"\n"1","only two"\n')
    _write(source / "test.csv", GOOD)
    before = _snapshot(source)
    with pytest.raises(DataError, match=rf"^{re.escape(train)}: all 3 rows are bad; first: "
                                        r"line 1: class '9' is not an integer in 1\.\.4$"):
        list(read_rows(train, AG_NEWS, skip_bad_rows=True))
    builder = ZhangTextClassification(config="ag_news", data_dir=str(tmp_path / "tfds"),
                                      skip_bad_rows=True)
    with pytest.raises(DataError, match=rf"^{re.escape(train)}: all 3 rows are bad"):
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(manual_dir=str(source)))
    assert _snapshot(source) == before
    config_dir = tmp_path / "tfds" / "zhang_text_classification" / "ag_news"
    assert not config_dir.exists() or not [p for p in config_dir.iterdir() if p.is_dir()]


# 4. PTB folder with both ptb.train.txt and ptb.train.txt.gz: which one was read was unsaid.

def test_plain_and_gzipped_copies_of_a_split_are_refused(tmp_path):
    folder = tmp_path / "ptb"
    for split in ("train", "valid", "test"):
        _write(folder / f"ptb.{split}.txt", " a b \n")
    with gzip.open(folder / "ptb.train.txt.gz", "wb") as f:
        f.write(b" other words \n")
    before = _snapshot(tmp_path)
    plain, packed = str(folder / "ptb.train.txt"), str(folder / "ptb.train.txt.gz")
    with pytest.raises(DataError, match=rf"^{re.escape(plain)} and {re.escape(packed)} both "
                                        r"hold the train split"):
        language_model_data.load_corpus("ptb", tmp_path)
    assert _snapshot(tmp_path) == before


# 5. "3 tokens are too few for one batch" named no file.

def test_too_few_tokens_names_the_split_file(tmp_path):
    _write(tmp_path / "ptb.train.txt", " a b \n")
    _write(tmp_path / "ptb.valid.txt", " a \n")
    _write(tmp_path / "ptb.test.txt", " b \n")
    corpus = language_model_data.load_corpus("ptb", tmp_path)
    path = str(tmp_path / "ptb.train.txt")
    with pytest.raises(DataError, match=rf"^{re.escape(path)}: 3 tokens are too few for one "
                                        r"batch of 2 x 35 \(needs at least 71\)"):
        corpus.batches("train", 2, 35)
    assert len(list(corpus.batches("train", 1, 2))) == 1


# 6. A damaged archive gave EOFError / tarfile.ReadError without its name.

def _tar_gz():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for i in range(3):
            data = os.urandom(20_000)
            info = tarfile.TarInfo(f"ag_news_csv/file{i}.bin")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _zip(crc_broken=False):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("wikitext-2/wiki.train.tokens", b"the words " * 2000)
    data = buffer.getvalue()
    if crc_broken:  # flip a byte of the stored member's content
        at = data.index(b"the words ") + 5
        data = data[:at] + b"W" + data[at + 1:]
    return data


def _plain_tar():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        data = b"x" * 50_000
        info = tarfile.TarInfo("corpus/train.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize("name, make", [
    ("ag_news_csv.tar.gz", lambda: _tar_gz()[:30_000]),
    ("ag_news_csv.tar.gz", lambda: b"<html>quota exceeded</html>\n"),
    ("ag_news_csv.tgz", lambda: gzip.compress(b"not a tar file at all" * 10)),
    ("corpus.tar", lambda: _plain_tar()[:20_000]),
    ("wikitext-2-v1.zip", lambda: _zip()[:-30]),
    ("wikitext-2-v1.zip", lambda: _zip(crc_broken=True)),
], ids=["truncated-tar.gz", "not-gzip", "gzip-not-tar", "truncated-tar", "truncated-zip",
        "bad-crc-zip"])
def test_damaged_archive_names_it(tmp_path, name, make):
    archive = _write(tmp_path / name, make())
    before = _snapshot(tmp_path)
    with pytest.raises(CorruptArchiveError, match=rf"^{re.escape(archive)}: damaged or not a"):
        extract_archive(archive, tmp_path / "out")
    assert issubclass(CorruptArchiveError, DownloadError)  # the tools print it as one line
    assert _snapshot(tmp_path) == before
    assert os.listdir(tmp_path) == [name]  # no staging folder, no partial extraction


# 7. Leftovers of killed writers: removed by the next run, but only when the writer is dead.

CHILD = """
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("files", sys.argv[1])
files = importlib.util.module_from_spec(spec)
spec.loader.exec_module(files)
if sys.argv[3] == "directory":
    with files.atomic_directory(sys.argv[2]) as tmp:
        open(tmp + "/part", "w").write("half")
        print(tmp, flush=True)
        time.sleep(120)
else:
    with files.atomic_path(sys.argv[2]) as tmp:
        open(tmp, "w").write("half")
        print(tmp, flush=True)
        time.sleep(120)
"""


def _start_writer(target, kind):
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, files.__file__, str(target), kind],
        stdout=subprocess.PIPE, text=True)
    tmp = child.stdout.readline().strip()
    assert tmp and os.path.exists(tmp), "the writer did not start"
    return child, tmp


def _kill(child):
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    child.stdout.close()


@pytest.mark.parametrize("kind", ["directory", "file"])
def test_killed_writers_temporary_is_removed_a_live_ones_kept(tmp_path, kind):
    target = tmp_path / "cache" / "tokenized" / "train"
    child, tmp = _start_writer(target, kind)
    try:
        assert f".train.{child.pid}@{machine_id()}." in os.path.basename(tmp)
        # Another process finishes the same cache meanwhile: the live writer's folder stays.
        if kind == "directory":
            with atomic_directory(target, replace=False) as mine:
                _write(os.path.join(mine, "part"), "complete")
        else:
            with atomic_path(target) as mine:
                _write(mine, "complete")
        assert os.path.exists(tmp)
        assert files.remove_dead_temporaries(target) == []
    finally:
        _kill(child)
    cache = _snapshot(target.parent)
    assert os.path.exists(tmp)  # SIGKILL: the writer could not clean up
    assert files.remove_dead_temporaries(target) == [tmp]
    assert not os.path.exists(tmp)
    assert _snapshot(target.parent) == {k: v for k, v in cache.items()
                                        if not k.startswith(os.path.basename(tmp))}
    assert sorted(os.listdir(target.parent)) == ["train"]


def test_extraction_removes_a_dead_extractions_staging_folder(tmp_path):
    archive = tmp_path / "corpus.tar"
    archive.write_bytes(_plain_tar())
    dead, live = (tmp_path / f".out.{pid}@{machine_id()}.abcdefgh.tmp"
                  for pid in (_dead_pid(), os.getpid()))
    for folder in (dead, live):
        _write(folder / "tree" / "corpus" / "train.txt", "half")
    extract_archive(archive, tmp_path / "out")
    assert not dead.exists() and (live / "tree" / "corpus" / "train.txt").read_text() == "half"
    assert (tmp_path / "out" / "corpus" / "train.txt").read_bytes() == b"x" * 50_000


def _dead_pid():
    child = subprocess.Popen([sys.executable, "-c", ""])
    child.wait(30)
    return child.pid


def _source(tmp_path):
    rows = [f'"{1 + i % 4}","Title {i}","word{i % 5} text {i}"' for i in range(20)]
    _write(tmp_path / "source" / "train.csv", "\n".join(rows) + "\n")
    _write(tmp_path / "source" / "test.csv", GOOD)
    return tmp_path / "source"


def test_next_run_removes_what_dead_runs_left(tmp_path):
    source, cache = _source(tmp_path), tmp_path / "cache"
    data = datasets.load_classification("ag_news", source, cache_dir=cache, min_count=1)
    sizes = data.split_sizes()
    prepared = pathlib.Path(data.builder.data_dir)
    writer = json.loads((prepared / WRITER_FILE).read_text())  # written while it was incomplete
    assert writer["pid"] == os.getpid() and writer["machine"] == machine_id()
    config_dir, tokenized = prepared.parent, pathlib.Path(data.cache_dir) / "tokenized"

    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        dead = _dead_pid()
        plant = {}

        def incomplete(key, pid=None, machine=machine_id(), age=0.0):
            folder = config_dir / f"incomplete.{key}_1.0.0"
            _write(folder / "zhang_text_classification-train.tfrecord-00000-of-00001", "half")
            if pid is not None:
                _write(folder / WRITER_FILE, json.dumps({"pid": pid, "machine": machine}))
            os.utime(folder, (time.time() - age, time.time() - age))
            plant[key] = folder

        incomplete("DEAD01", pid=dead)
        incomplete("LIVE01", pid=live.pid)
        incomplete("OTHER1", pid=dead, machine="0123456789ab")  # another machine: unknowable
        incomplete("NOMRK1")  # no writer file yet, fresh: may be a writer just starting
        incomplete("NOMRK2", age=2 * files.LEGACY_STALE_SECONDS)
        for key, pid, machine in (("dead", dead, machine_id()), ("live", live.pid, machine_id()),
                                  ("other", dead, "0123456789ab")):
            plant[key] = tokenized / f".train.{pid}@{machine}.abcd_{key[:3]}.tmp"
            _write(plant[key] / "part", "half")

        before = _snapshot(cache)
        again = datasets.load_classification("ag_news", source, cache_dir=cache, min_count=1)
        assert again.split_sizes() == sizes

        gone = {"DEAD01", "NOMRK2", "dead"}
        assert {k for k, p in plant.items() if not p.exists()} == gone
        removed = tuple(os.path.relpath(plant[k], cache) for k in gone)
        assert _snapshot(cache) == {k: v for k, v in before.items() if not k.startswith(removed)}
    finally:
        live.kill()
        live.wait(10)


PREPARE = """
import sys, time
from kasm_keras.data import classification_data, datasets

read_rows = classification_data.read_rows

def slow_rows(*args, **kwargs):
    for i, row in enumerate(read_rows(*args, **kwargs)):
        yield row
        if i == 0:
            print("preparing", flush=True)
            time.sleep(float(sys.argv[3]))

classification_data.read_rows = slow_rows
datasets.load_classification("ag_news", sys.argv[1], cache_dir=sys.argv[2], min_count=1)
"""


def test_killed_preparation_is_removed_by_the_next_run(tmp_path):
    source, cache = _source(tmp_path), tmp_path / "cache"
    child = subprocess.Popen([sys.executable, "-c", PREPARE, str(source), str(cache), "120"],
                             stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    try:
        for line in child.stdout:  # TFDS prints its progress there too
            if line.strip() == "preparing":
                break
        else:
            pytest.fail("the preparing process ended early")
        [incomplete] = cache.glob("ag_news/*/tfds/zhang_text_classification/ag_news/incomplete.*")
        assert json.loads((incomplete / WRITER_FILE).read_text())["pid"] == child.pid
    finally:
        _kill(child)
    source_files = _snapshot(source)
    data = datasets.load_classification("ag_news", source, cache_dir=cache, min_count=1)
    assert data.split_sizes()["test"] == 2
    assert not incomplete.exists()
    assert [p.name for p in incomplete.parent.iterdir() if p.is_dir()] == ["1.0.0"]
    assert _snapshot(source) == source_files


def test_two_runs_preparing_one_cache_at_once_both_succeed(tmp_path):
    # The second waits for the first's lock, then reuses what it prepared (TFDS's rename of a
    # second preparation onto the first's folder used to fail).
    source, cache = _source(tmp_path), tmp_path / "cache"
    child = subprocess.Popen([sys.executable, "-c", PREPARE, str(source), str(cache), "3"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    try:
        for line in child.stdout:
            if line.strip() == "preparing":
                break
        else:
            pytest.fail("the preparing process ended early")
        data = datasets.load_classification("ag_news", source, cache_dir=cache, min_count=1)
        _, stderr = child.communicate(timeout=120)
    finally:
        _kill(child)
    assert child.returncode == 0, stderr[-3000:]
    assert data.split_sizes()["test"] == 2
    [version] = cache.glob("ag_news/*/tfds/zhang_text_classification/ag_news/*")
    assert version.name == "1.0.0"
