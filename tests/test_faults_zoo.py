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
import subprocess
import time

import pytest

from kasm_keras import zoo
from kasm_keras.utils import download
from tests.test_faults_tools import data, error_line, finished, offline, tool, tree  # noqa: F401

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


# ------------------------------------------------------------------ downloads

def _trickle(headers_too=False):
    """An answer that sends a byte every 50 ms (its headers too, with `headers_too`): a
    megabyte would take 14 hours."""

    def answer(handler):
        with contextlib.suppress(OSError):
            head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n"
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


def test_the_deadline_follows_the_size_and_the_environment(monkeypatch):
    monkeypatch.delenv(download.DEADLINE_VARIABLE, raising=False)
    assert download.deadline_seconds(3_500_000) == download.DEADLINE_SECONDS + 35
    monkeypatch.setenv(download.DEADLINE_VARIABLE, "2.5")
    assert download.deadline_seconds(3_500_000) == 2.5
    monkeypatch.setenv(download.DEADLINE_VARIABLE, "soon")
    with pytest.raises(download.DownloadError, match=download.DEADLINE_VARIABLE):
        download.deadline_seconds(1)
