"""Faults in the zoo's files and downloads: a registry's paths never leave their folder, a
republish that fails (a full disk) leaves the published entry as it was, a private zoo holds only
its own entries, a slow or endless mirror is cut off, and a load without network says where the
files are expected. Each refusal from a tool is one `error:` line, exit status 1, nothing
written outside its target and nothing already published changed.
"""

import contextlib
import errno
import json
import os
import pathlib
import shutil
import threading
import time

import pytest

from kasm_keras import zoo
from kasm_keras.models.kernel_classifier import family as classifier_family
from kasm_keras.utils import download
from kasm_keras.utils.files import DiskFullError, is_temporary
from tests.conftest import same_worker
from tests.test_faults_tools import data, error_line, finished, offline, tool, tree  # noqa: F401

SHARES_THE_RUN = same_worker("faults_zoo_published")  # the tests that publish the finished run

ENTRY = "ag_news/rkm_cifg_1gram"
PUBLISHED = "ag_news/cnn_1gram"  # the name the tiny finished run is published under
MIRROR = "/mirror"


@pytest.fixture
def mirror(server, monkeypatch):
    """The files of ENTRY served at $KASM_KERAS_ZOO_URL (a server on 127.0.0.1)."""
    source = pathlib.Path(zoo.entry_dir(ENTRY))
    for name in zoo.PRESET_FILES:
        server.files[f"{MIRROR}/{ENTRY}/{name}"] = (source / name).read_bytes()
    monkeypatch.setenv(zoo.URL_VARIABLE, server.url(MIRROR))
    return server


@pytest.fixture
def home(tmp_path, monkeypatch):
    """$KERAS_HOME, whose kasm_keras/zoo/ is the zoo's download cache."""
    folder = tmp_path / "home"
    monkeypatch.setenv("KERAS_HOME", str(folder))
    return folder


def _zoo_with(tmp_path, change=None, files=False):
    """A private zoo whose registry holds ENTRY's record, changed by `change(record)`; with
    `files`, a copy of the entry's files too."""
    zoo_dir = tmp_path / "zoo"
    zoo_dir.mkdir()
    if files:
        shutil.copytree(zoo.entry_dir(ENTRY), zoo_dir / ENTRY)
    record = json.loads(json.dumps(zoo.registry()[ENTRY]))
    if change:
        change(record)
    (zoo_dir / "registry.json").write_text(json.dumps({ENTRY: record}))
    return zoo_dir


# ------------------------------------------------------------------ a registry's paths

ESCAPING_PATHS = ["{tmp}/outside/dir", "../../../../outside", "ag_news/../../outside",
                  "ag_news/..", "..", "..\\outside", "ag_news\\..\\..\\outside", "",
                  "ag_news/x\0y", "./ag_news/x", "ag_news//x", "C:/outside"]


@pytest.mark.parametrize("path", ESCAPING_PATHS)
def test_an_entry_path_that_leaves_the_zoo_is_refused_before_anything_is_written(
        tool, mirror, home, tmp_path, path):
    path = path.format(tmp=tmp_path)
    zoo_dir = _zoo_with(tmp_path, lambda record: record.update(path=path))
    (tmp_path / "outside").mkdir()
    before = tree(tmp_path)
    result = tool("evaluate", f"--zoo={ENTRY}", f"--zoo_dir={zoo_dir}", "--text=x")
    error_line(result, zoo_dir / "registry.json", repr(ENTRY), 'field "path"')
    assert tree(tmp_path) == before and mirror.requests == []


@pytest.mark.parametrize("file_name", ["../config.json", "/tmp/config.json",
                                       "assets/tokenizer/../../../../x", "config.json/..",
                                       "assets\\tokenizer\\x", "", "config\0.json"])
def test_a_file_name_that_leaves_the_entry_is_refused(tool, mirror, home, tmp_path, file_name):
    def change(record):
        record["files"][file_name] = record["files"].pop("config.json")

    zoo_dir = _zoo_with(tmp_path, change)
    before = tree(tmp_path)
    result = tool("evaluate", f"--zoo={ENTRY}", f"--zoo_dir={zoo_dir}", "--text=x")
    error_line(result, zoo_dir / "registry.json", repr(ENTRY), 'field "files"')
    assert tree(tmp_path) == before and mirror.requests == []


@pytest.mark.parametrize("link", ["entry folder in the zoo", "dataset folder in the cache",
                                  "file in the zoo", "folder inside a cached entry"])
def test_a_symbolic_link_out_of_the_zoo_is_refused(tool, mirror, home, tmp_path, link):
    outside = tmp_path / "outside"
    outside.mkdir()
    zoo_dir = _zoo_with(tmp_path, files=link == "file in the zoo")
    cache = home / "kasm_keras" / "zoo"
    field = "path"
    if link == "entry folder in the zoo":
        (zoo_dir / "ag_news").mkdir()
        (zoo_dir / ENTRY).symlink_to(outside)
    elif link == "dataset folder in the cache":
        cache.mkdir(parents=True)
        (cache / "ag_news").symlink_to(outside)
    elif link == "file in the zoo":  # the same bytes, so only the link is wrong
        config = zoo_dir / ENTRY / "config.json"
        shutil.move(config, outside / "config.json")
        config.symlink_to(outside / "config.json")
        field = "files"
    else:
        (cache / ENTRY / "assets").mkdir(parents=True)
        (cache / ENTRY / "assets" / "tokenizer").symlink_to(outside)
        field = "files"
    before = tree(tmp_path)
    result = tool("evaluate", f"--zoo={ENTRY}", f"--zoo_dir={zoo_dir}", "--text=x")
    error_line(result, zoo_dir / "registry.json", f'field "{field}"', "symbolic link")
    assert tree(tmp_path) == before and os.listdir(outside) == (
        ["config.json"] if link == "file in the zoo" else [])
    assert mirror.requests == []


@pytest.mark.parametrize("file_name, field, value", [
    ("tokenizer.json", "vocabulary", "/etc/hostname"),
    ("tokenizer.json", "config_file", "../../../outside.json"),
    ("preprocessor.json", "config_file", "/tmp/outside.json"),
])
def test_a_preset_config_naming_a_file_outside_is_refused(tool, home, tmp_path, file_name, field,
                                                           value):
    """Files that match the registry's digests, whose configs name a file outside the preset
    (keras-hub reads a string vocabulary and saves to a config's config_file)."""
    zoo_dir = _zoo_with(tmp_path, files=True)
    path = zoo_dir / ENTRY / file_name
    config = json.loads(path.read_text())
    config["config"][field] = value
    path.write_text(json.dumps(config))
    registry = json.loads((zoo_dir / "registry.json").read_text())
    registry[ENTRY]["files"][file_name] = zoo.file_digest(str(path))
    (zoo_dir / "registry.json").write_text(json.dumps(registry))
    before = tree(tmp_path)
    error_line(tool("evaluate", f"--zoo={ENTRY}", f"--zoo_dir={zoo_dir}", "--text=x"), path,
               f'field "{field}"')
    assert tree(tmp_path) == before


@pytest.mark.parametrize("path", ["../victim", "{tmp}/victim", "ag_news/../../victim",
                                  "ag_news\\..\\..\\victim", "link"])
def test_remove_never_deletes_outside_the_zoo(tmp_path, path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    zoo_dir = _zoo_with(tmp_path, lambda record: record.update(
        path="ag_news/link" if path == "link" else path.format(tmp=tmp_path)))
    if path == "link":
        (zoo_dir / "ag_news").mkdir()
        (zoo_dir / "ag_news" / "link").symlink_to(victim)
    before = tree(tmp_path)
    with pytest.raises(zoo.ZooError, match='registry.json: entry .*: field "path"') as error:
        zoo.remove(ENTRY, zoo_dir=str(zoo_dir))
    assert "\n" not in str(error.value)
    assert tree(tmp_path) == before


@pytest.mark.parametrize("path", ["ag_news", "ag_news/rkm_cifg_1gram/assets",
                                  "ag_news/rkm_cifg_1gram\n"])
def test_remove_never_deletes_other_entries_in_the_zoo(tmp_path, path):
    """A registry path that is not an entry's folder (<dataset>/<name>, as publishing writes
    it): one naming the dataset's folder would delete every entry of the dataset."""
    zoo_dir = _zoo_with(tmp_path, lambda record: record.update(path=path), files=True)
    shutil.copytree(zoo_dir / ENTRY, zoo_dir / "ag_news" / "other")
    before = tree(tmp_path)
    with pytest.raises(zoo.ZooError, match='registry.json: entry .*: field "path"') as error:
        zoo.remove(ENTRY, zoo_dir=str(zoo_dir))
    assert "\n" not in str(error.value)
    assert tree(tmp_path) == before


def test_remove_deletes_the_entry_inside_the_zoo(tmp_path):
    zoo_dir = _zoo_with(tmp_path, files=True)
    zoo.remove(ENTRY, zoo_dir=str(zoo_dir))
    assert not (zoo_dir / ENTRY).exists()
    assert json.loads((zoo_dir / "registry.json").read_text()) == {}


# ------------------------------------------------------------------ publishing

@pytest.fixture
def publish(tool, data, finished, monkeypatch):
    """`tools/zoo.py publish` of the tiny finished run into a zoo folder (its test split read
    from the tiny CSVs); the storage tolerance is widened: a 5-step model is no zoo entry."""
    monkeypatch.setattr(classifier_family, "MAX_ACCURACY_CHANGE", 1.0)

    def run(zoo_dir, *args):
        return tool("zoo", "publish", f"--model_dir={finished}", f"--name={PUBLISHED}",
                    f"--zoo_dir={zoo_dir}", f"--data_dir={data.data_dir}",
                    f"--cache_dir={data.cache}", *args)

    return run


@pytest.fixture(scope="module")
def published_zoo(data, finished, tmp_path_factory):
    """A private zoo holding the tiny run published as PUBLISHED (made once; tests copy it)."""
    zoo_dir = tmp_path_factory.mktemp("published") / "zoo"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(classifier_family, "MAX_ACCURACY_CHANGE", 1.0)
        zoo.publish_run(str(finished), PUBLISHED, data_dir=str(data.data_dir),
                        cache_dir=str(data.cache), zoo_dir=str(zoo_dir))
    return zoo_dir


def _fill(disk, leave=0):
    """Fills the file system of `disk` with a file outside the zoo, leaving about `leave`
    bytes free."""
    with contextlib.suppress(OSError), open(disk / "filler", "ab", buffering=0) as f:
        free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
        f.write(b"\0" * max(free - leave, 0))
        while not leave:
            f.write(b"\0" * 4096)


def _published(zoo_dir):
    """The published entry's files and registry, and that the entry loads."""
    assert zoo.load(PUBLISHED, zoo_dir=str(zoo_dir)).classify(["a b c"])
    return tree(zoo_dir)


@pytest.mark.parametrize("when", ["writing the new entry", "writing the new registry"])
@SHARES_THE_RUN
def test_a_full_disk_while_republishing_leaves_the_published_entry(
        publish, published_zoo, small_disk, monkeypatch, when):
    disk = small_disk("2m")
    zoo_dir = pathlib.Path(shutil.copytree(published_zoo, disk / "zoo"))
    before = _published(zoo_dir)
    entry_bytes = sum(os.path.getsize(zoo_dir / PUBLISHED / f) for f in zoo.PRESET_FILES)
    if when == "writing the new entry":
        _fill(disk, leave=entry_bytes // 2)
        named = [f"cannot write {zoo_dir / PUBLISHED}{os.sep}"]
    else:  # the entry fits; the disk fills as the registry is written
        real = zoo.publishing.atomic_path

        @contextlib.contextmanager
        def full_disk_then(path):
            _fill(disk)
            with real(path) as tmp:
                yield tmp

        monkeypatch.setattr(zoo.publishing, "atomic_path", full_disk_then)
        named = [f"cannot write {zoo_dir / 'registry.json'}:"]
    error_line(publish(zoo_dir), *named, "the disk is full", "No space left on device")
    assert _published(zoo_dir) == before
    assert sorted(os.listdir(zoo_dir / "ag_news")) == ["cnn_1gram"]  # nothing staged is left


@SHARES_THE_RUN
def test_a_failed_switch_of_the_registry_puts_the_old_entry_back(publish, published_zoo,
                                                                  tmp_path, monkeypatch):
    """The registry's rename fails after the entry's folder was switched: the old folder goes
    back (a fault-injecting rename; no root needed)."""
    zoo_dir = pathlib.Path(shutil.copytree(published_zoo, tmp_path / "zoo"))
    before = _published(zoo_dir)
    real = zoo.publishing.atomic_path

    @contextlib.contextmanager
    def failing_switch(path):
        with real(path) as tmp:
            yield tmp
            assert (zoo_dir / PUBLISHED).exists()  # the new folder is in place by now
            raise OSError(errno.EIO, "Input/output error", path)

    monkeypatch.setattr(zoo.publishing, "atomic_path", failing_switch)
    error_line(publish(zoo_dir), zoo_dir / "registry.json", "Input/output error")
    assert _published(zoo_dir) == before
    assert sorted(os.listdir(zoo_dir / "ag_news")) == ["cnn_1gram"]


def _staged_copy(zoo_dir, marker):
    """A `stage` for `zoo.install_entry`: the published entry's files, its metadata.json marked
    with `marker` (so the new entry's bytes differ from the old one's), and `wait()` called
    once they are written."""
    record = zoo.registry(str(zoo_dir))[PUBLISHED]

    def stage(folder, wait=lambda: None):
        assert is_temporary(os.path.basename(folder))  # a killed publish's is removed later
        shutil.copytree(zoo_dir / PUBLISHED, folder, dirs_exist_ok=True)
        metadata = pathlib.Path(folder, "metadata.json")
        metadata.write_text(json.dumps({**json.loads(metadata.read_text()), "marker": marker}))
        wait()
        return ({f: zoo.file_digest(os.path.join(folder, f)) for f in zoo.PRESET_FILES},
                record["metadata"])

    return stage


@pytest.mark.parametrize("fault, at, after", [
    (KeyboardInterrupt, 1, False), (KeyboardInterrupt, 1, True), (KeyboardInterrupt, 2, False),
    (KeyboardInterrupt, 2, True), (OSError, 1, False), (OSError, 2, False),
], ids=["stop before moving the old folder", "stop after moving the old folder",
        "stop before moving the new folder", "stop after moving the new folder",
        "failure moving the old folder", "failure moving the new folder"])
@SHARES_THE_RUN
def test_a_stop_or_failure_between_the_folder_renames_keeps_the_published_entry(
        published_zoo, tmp_path, monkeypatch, fault, at, after):
    """A stopping signal (tools raise a KeyboardInterrupt subclass, at any line) or an OSError
    at either of the entry's folder renames, before the registry's: the old entry is back,
    byte for byte, and loads; nothing staged is left."""
    zoo_dir = pathlib.Path(shutil.copytree(published_zoo, tmp_path / "zoo"))
    before = tree(zoo_dir)
    real, renames = os.rename, []

    def rename(source, target):
        if str(zoo_dir / PUBLISHED) not in (os.fspath(source), os.fspath(target)):
            return real(source, target)
        renames.append((source, target))
        if len(renames) == at and after:
            real(source, target)
        if len(renames) == at:
            raise fault(errno.EIO, "Input/output error") if fault is OSError else fault()
        return real(source, target)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(zoo.ZooError if fault is OSError else KeyboardInterrupt) as error:
        zoo.install_entry(PUBLISHED, str(zoo_dir), _staged_copy(zoo_dir, "new"))
    monkeypatch.setattr(os, "rename", real)
    if fault is OSError:
        assert str(zoo_dir / "registry.json") in str(error.value) and "Input/output" in str(
            error.value)
    assert tree(zoo_dir) == before
    assert sorted(os.listdir(zoo_dir / "ag_news")) == ["cnn_1gram"]
    assert zoo.load(PUBLISHED, zoo_dir=str(zoo_dir)).classify(["a b c"])


@SHARES_THE_RUN
def test_two_publishes_at_once_both_stay_in_the_registry(published_zoo, tmp_path):
    """Two publishes into one zoo whose stages overlap (each waits for the other's): the
    registry is read again under the zoo's lock, so neither drops the other's record."""
    zoo_dir = pathlib.Path(shutil.copytree(published_zoo, tmp_path / "zoo"))
    both_staged = threading.Barrier(2, timeout=60)
    stage = _staged_copy(zoo_dir, "new")
    names = [PUBLISHED, "ag_news/cnn_3gram"]
    errors = []

    def publish(name):
        try:
            zoo.install_entry(name, str(zoo_dir), lambda folder: stage(folder, both_staged.wait))
        except BaseException as error:  # noqa: B036 (reported below)
            errors.append(error)

    threads = [threading.Thread(target=publish, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    entries = zoo.registry(str(zoo_dir))
    assert sorted(entries) == sorted(names)
    for name in names:
        assert entries[name]["path"] == name
        zoo.store._verify(str(zoo_dir / name), entries[name]["files"], name)


@SHARES_THE_RUN
def test_a_private_zoo_holds_only_its_own_entries(publish, tool, tmp_path, offline):
    zoo_dir = tmp_path / "private"
    assert publish(zoo_dir).returncode == 0
    assert list(json.loads((zoo_dir / "registry.json").read_text())) == [PUBLISHED]
    listed = tool("zoo", "list", f"--zoo_dir={zoo_dir}")
    assert listed.returncode == 0 and "Published (1):" in listed.stdout
    assert PUBLISHED in listed.stdout and ENTRY not in listed.stdout.split("Not published")[0]
    verified = tool("zoo", "verify", f"--zoo_dir={zoo_dir}")  # offline: nothing to download
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.split() == ["ok", PUBLISHED]
    shown = tool("results", f"--zoo_dir={zoo_dir}")  # offline: the entry is local
    assert shown.returncode == 0, shown.stderr
    assert "cnn" in shown.stdout and "rkm_cifg" not in shown.stdout.split("\n\n")[0]


@pytest.mark.parametrize("url", ["file:///etc", "ftp://example.com/zoo", "/etc", "http://"])
@SHARES_THE_RUN
def test_publish_refuses_an_address_that_is_not_http(publish, tmp_path, url):
    zoo_dir = tmp_path / "zoo"
    before = tree(tmp_path)
    error_line(publish(zoo_dir, f"--url={url}"), f"--url={url}", "http:// or https://")
    assert tree(tmp_path) == before


# ------------------------------------------------------------------ downloads

def _trickle(headers_too=False, length=True):
    """An answer that sends a byte every 50 ms (its headers too, with `headers_too`): a
    megabyte would take 14 hours. It announces its length unless `length` is false."""

    def answer(handler):
        with contextlib.suppress(OSError):
            head = b"HTTP/1.1 200 OK\r\n" + (b"Content-Length: 1000000\r\n" if length else b"")
            head += b"\r\n"
            if not headers_too:
                handler.wfile.write(head)
                head = b""
            for byte in head + b"x" * 1_000_000:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                time.sleep(0.05)

    return answer


def _endless(length=None):
    """An answer that streams zeros until the reader goes away (announcing `length`)."""

    def answer(handler):
        with contextlib.suppress(OSError):
            handler.send_response(200)
            if length is not None:
                handler.send_header("Content-Length", str(length))
            handler.end_headers()
            for _ in range(100_000):  # 6.5 GB at most
                handler.wfile.write(b"\0" * 65536)

    return answer


@pytest.mark.parametrize("answer, limit, message", [
    (_trickle(), {"deadline": 1}, "deadline of 1 s"),
    (_trickle(headers_too=True), {"deadline": 1}, "deadline of 1 s"),
    (_endless(), {"max_bytes": 100_000}, "passed 100,000 bytes"),
    (_endless(length=10**12), {"max_bytes": 100_000}, "over the 100,000 bytes"),
], ids=["trickled body", "trickled headers", "endless body", "a huge length"])
def test_a_mirror_that_trickles_or_streams_too_much_is_cut_off(server, tmp_path, answer, limit,
                                                                message):
    server.answers["/file"] = answer
    url = server.url("/file")
    with pytest.raises(download.DownloadError) as error:
        download.fetch(url, tmp_path / "file", "sha256:" + "0" * 64, **limit)
    assert url in str(error.value) and message in str(error.value)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("answer, message", [
    (_trickle(headers_too=True), "deadline of 1 s (connecting and the response's headers;"),
    (_trickle(), "deadline of 1 s (0.5 s plus 1,000,000 bytes at 2,000,000 bytes/s;"),
    (_trickle(length=False), "deadline of 1 s (0.5 s plus 1,000,000 bytes at 2,000,000 bytes/s;"),
], ids=["headers", "body of its Content-Length", "body of no length: the cap"])
def test_the_headers_get_the_fixed_deadline_and_the_body_that_of_its_size(
        server, tmp_path, monkeypatch, answer, message):
    """Connecting and the headers get DEADLINE_SECONDS, not the time the cap would take (a
    whole GiB at MIN_RATE is three hours); then the deadline is that of the size announced,
    else of the cap (`max_bytes`)."""
    monkeypatch.delenv(download.DEADLINE_VARIABLE, raising=False)
    headers_only = "headers" in message
    monkeypatch.setattr(download, "DEADLINE_SECONDS", 1 if headers_only else 0.5)
    monkeypatch.setattr(download, "MIN_RATE", 2_000_000)
    server.answers["/file"] = answer
    url = server.url("/file")
    with pytest.raises(download.DownloadError) as error:
        download.fetch(url, tmp_path / "file", "sha256:" + "0" * 64,
                       max_bytes=download.MAX_BYTES if headers_only else 1_000_000)
    assert str(error.value).startswith(f"{url}: not complete within the download's {message}")
    assert os.listdir(tmp_path) == []


def test_the_deadline_follows_the_size_and_the_environment(monkeypatch):
    monkeypatch.delenv(download.DEADLINE_VARIABLE, raising=False)
    assert download.deadline_seconds(3_500_000) == download.DEADLINE_SECONDS + 35
    monkeypatch.setenv(download.DEADLINE_VARIABLE, "2.5")
    assert download.deadline_seconds(3_500_000) == 2.5
    monkeypatch.setenv(download.DEADLINE_VARIABLE, "soon")
    with pytest.raises(download.DownloadError, match=download.DEADLINE_VARIABLE):
        download.deadline_seconds(1)


def test_a_slow_mirror_ends_a_zoo_load_with_one_line(tool, server, home, tmp_path, monkeypatch):
    server.answers[f"{MIRROR}/{ENTRY}/assets/tokenizer/vocabulary.txt"] = _trickle()
    monkeypatch.setenv(zoo.URL_VARIABLE, server.url(MIRROR))
    monkeypatch.setenv(download.DEADLINE_VARIABLE, "1")
    zoo_dir = _zoo_with(tmp_path)
    before = tree(tmp_path)
    error_line(tool("evaluate", f"--zoo={ENTRY}", f"--zoo_dir={zoo_dir}", "--text=x"),
               "vocabulary.txt", "deadline of 1 s", "zoo_dir=", f"${zoo.ZOO_DIR_VARIABLE}")
    assert tree(tmp_path) == before  # no file, no empty folder in the cache


@pytest.mark.parametrize("fault", ["full disk", "stopped"])
def test_a_failed_download_leaves_no_empty_folder_in_the_cache(mirror, small_disk, tmp_path,
                                                               monkeypatch, fault):
    """A zoo load whose download meets a full disk (a real tmpfs) or a stopping signal (raised
    as the first file's body starts) leaves no folder it made in the cache."""
    zoo_dir = _zoo_with(tmp_path)
    if fault == "full disk":
        disk = small_disk("1m")
        _fill(disk)
        home, expected = disk / "home", (DiskFullError, "the disk is full")
    else:
        home, expected = tmp_path / "home", (KeyboardInterrupt, None)
        real = download.fetch

        def stopped(*args, **kwargs):
            def stop(done, total):
                raise KeyboardInterrupt

            return real(*args, progress=stop, **kwargs)

        monkeypatch.setattr(zoo.store, "fetch", stopped)
    monkeypatch.setenv("KERAS_HOME", str(home))
    with pytest.raises(expected[0], match=expected[1]) as error:
        zoo.entry_dir(ENTRY, zoo_dir=str(zoo_dir))
    if fault == "full disk":
        assert str(home / "kasm_keras" / "zoo" / ENTRY) in str(error.value)
    assert not home.exists()
    assert mirror.requests


@pytest.fixture
def as_from_a_wheel(offline, home, monkeypatch):
    """No checkout zoo/, the package's registry, no network; (the words the error must hold)."""
    monkeypatch.setattr(zoo.records, "CHECKOUT_ZOO", str(home / "no_checkout"))
    monkeypatch.delenv(zoo.ZOO_DIR_VARIABLE, raising=False)
    monkeypatch.delenv(zoo.URL_VARIABLE, raising=False)
    return (zoo.registry()[ENTRY]["url"], str(home / "kasm_keras" / "zoo" / ENTRY), "zoo_dir=",
            f"${zoo.ZOO_DIR_VARIABLE}", f"${zoo.URL_VARIABLE}")


def test_without_network_a_load_says_where_the_files_are_expected(as_from_a_wheel, home):
    with pytest.raises(zoo.ZooError) as error:
        zoo.load(ENTRY)
    message = str(error.value)
    assert "\n" not in message
    for named in as_from_a_wheel:
        assert named in message, (named, message)
    assert not home.exists() or tree(home) == {}


def test_without_network_a_tool_says_it_in_one_line(tool, as_from_a_wheel, home):
    error_line(tool("evaluate", f"--zoo={ENTRY}", "--text=x"), *as_from_a_wheel)
    assert not home.exists() or tree(home) == {}
