"""fetch and extract_archive against a local HTTP server on 127.0.0.1 and archives built here."""

import hashlib
import io
import logging
import os
import pathlib
import socket
import stat
import tarfile
import zipfile

import pytest

from kasm_keras.utils.download import (
    MARKER,
    CorruptArchiveError,
    DownloadError,
    UnsafeArchiveError,
    extract_archive,
    fetch,
)

BODY = b"kernel machine weights\n" * 1000
SHA256 = "sha256:" + hashlib.sha256(BODY).hexdigest()
MD5 = "md5:" + hashlib.md5(BODY).hexdigest()
TIMEOUT = 5


@pytest.mark.parametrize("checksum", [SHA256, MD5], ids=["sha256", "md5"])
def test_good_download(server, tmp_path, checksum):
    server.files["/weights.bin"] = BODY
    dest = tmp_path / "cache" / "weights.bin"
    calls = []
    path = fetch(server.url("/weights.bin"), dest, checksum, timeout=TIMEOUT,
                 progress=lambda done, total: calls.append((done, total)))
    assert path == str(dest)
    assert dest.read_bytes() == BODY
    assert os.listdir(dest.parent) == ["weights.bin"]
    assert calls[0] == (0, len(BODY))
    assert calls[-1] == (len(BODY), len(BODY))
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_second_call_does_not_download(server, tmp_path):
    server.files["/weights.bin"] = BODY
    dest = tmp_path / "weights.bin"
    fetch(server.url("/weights.bin"), dest, SHA256, timeout=TIMEOUT)
    fetch(server.url("/weights.bin"), dest, SHA256, timeout=TIMEOUT)
    assert server.requests == ["/weights.bin"]
    assert dest.read_bytes() == BODY


def test_corrupted_file_is_replaced(server, tmp_path, caplog):
    server.files["/weights.bin"] = BODY
    dest = tmp_path / "weights.bin"
    dest.write_bytes(BODY[:-1] + b"!")
    with caplog.at_level(logging.WARNING, logger="kasm_keras.download"):
        fetch(server.url("/weights.bin"), dest, SHA256, timeout=TIMEOUT)
    assert dest.read_bytes() == BODY
    assert server.requests == ["/weights.bin"]
    assert str(dest) in caplog.text and "again" in caplog.text
    assert os.listdir(tmp_path) == ["weights.bin"]


def test_checksum_mismatch_leaves_nothing(server, tmp_path):
    server.files["/weights.bin"] = BODY + b"tampered"
    dest = tmp_path / "weights.bin"
    url = server.url("/weights.bin")
    with pytest.raises(DownloadError) as info:
        fetch(url, dest, SHA256, timeout=TIMEOUT)
    message = str(info.value)
    assert url in message
    assert SHA256 in message
    assert hashlib.sha256(BODY + b"tampered").hexdigest() in message
    assert os.listdir(tmp_path) == []


def test_truncated_body_leaves_nothing(server, tmp_path):
    url = server.url("/short")
    with pytest.raises(DownloadError, match="truncated") as info:
        fetch(url, tmp_path / "weights.bin", SHA256, timeout=TIMEOUT)
    assert url in str(info.value)
    assert os.listdir(tmp_path) == []


def test_404_names_the_url(server, tmp_path):
    url = server.url("/missing.bin")
    with pytest.raises(DownloadError, match="404") as info:
        fetch(url, tmp_path / "missing.bin", SHA256, timeout=TIMEOUT)
    assert isinstance(info.value, OSError)
    assert url in str(info.value)
    assert os.listdir(tmp_path) == []


def test_failed_download_keeps_existing_file(server, tmp_path):
    dest = tmp_path / "weights.bin"
    dest.write_bytes(b"not the weights")
    with pytest.raises(DownloadError):
        fetch(server.url("/missing.bin"), dest, SHA256, timeout=TIMEOUT)
    assert dest.read_bytes() == b"not the weights"
    assert os.listdir(tmp_path) == ["weights.bin"]


def test_connection_refused_leaves_nothing(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/weights.bin"
    with pytest.raises(DownloadError) as info:
        fetch(url, tmp_path / "weights.bin", SHA256, timeout=TIMEOUT)
    assert url in str(info.value)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("url", ["file:///etc/hostname", "ftp://127.0.0.1/weights.bin",
                                 "data:,kernel", "/etc/hostname", "http://"])
def test_an_address_that_is_not_http_is_refused(tmp_path, url):
    with pytest.raises(DownloadError) as info:
        fetch(url, tmp_path / "weights.bin", SHA256, timeout=TIMEOUT)
    assert str(info.value) == f"{url}: not an http:// or https:// address; refused"
    assert os.listdir(tmp_path) == []


def _redirect(target, code=302):
    def answer(handler):
        handler.send_response(code)
        handler.send_header("Location", target)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return answer


@pytest.mark.parametrize("target", ["file:///etc/hostname", "ftp://127.0.0.1/weights.bin",
                                    "data:,kernel", "gopher://127.0.0.1/x"])
@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_a_redirect_that_is_not_http_is_refused(server, tmp_path, target, code):
    server.answers["/moved"] = _redirect(target, code)
    url = server.url("/moved")
    with pytest.raises(DownloadError) as info:
        fetch(url, tmp_path / "weights.bin", SHA256, timeout=TIMEOUT)
    assert str(info.value) == (f"{url}: redirected to {target}, which is not an http:// or "
                               "https:// address; refused")
    assert os.listdir(tmp_path) == []


def test_a_redirect_to_http_is_followed(server, tmp_path):
    server.files["/weights.bin"] = BODY
    server.answers["/moved"] = _redirect("/weights.bin")
    dest = tmp_path / "weights.bin"
    assert fetch(server.url("/moved"), dest, SHA256, timeout=TIMEOUT) == str(dest)
    assert dest.read_bytes() == BODY and server.requests == ["/moved", "/weights.bin"]


@pytest.mark.parametrize("checksum", [
    "sha1:" + hashlib.sha1(BODY).hexdigest(),
    hashlib.sha256(BODY).hexdigest(),
    "sha256:" + hashlib.md5(BODY).hexdigest(),
    "md5:" + "z" * 32,
])
def test_bad_checksum_spec_is_rejected(tmp_path, checksum):
    with pytest.raises(ValueError, match="sha256:<hex>"):
        fetch("http://127.0.0.1:9/unused", tmp_path / "x", checksum)
    assert os.listdir(tmp_path) == []


FILES = {"data/train.txt": b"the cat sat\n", "data/nested/test.txt": b"on the mat\n", "README": b"hi\n"}


def add_tar_member(tar, name, data=b"", type=tarfile.REGTYPE, linkname=""):
    info = tarfile.TarInfo(name)
    info.type = type
    info.linkname = linkname
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def make_tar(path, extra=()):
    with tarfile.open(path, "w:gz" if str(path).endswith("gz") else "w") as tar:
        for name, data in FILES.items():
            add_tar_member(tar, name, data)
        for kwargs in extra:
            add_tar_member(tar, **kwargs)
    return path


def make_zip(path, extra=()):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in FILES.items():
            zf.writestr(name, data)
        for info, data in extra:
            zf.writestr(info, data)
    return path


def assert_extracted(dest):
    found = {}
    for root, _, names in os.walk(dest):
        for name in names:
            path = pathlib.Path(root, name)
            found[path.relative_to(dest).as_posix()] = path.read_bytes()
    assert found.pop(MARKER)
    assert found == FILES


@pytest.mark.parametrize("name", ["corpus.tar.gz", "corpus.tgz", "corpus.tar"])
def test_extract_tar(tmp_path, name):
    archive = make_tar(tmp_path / name)
    dest = tmp_path / "out"
    assert extract_archive(archive, dest) == str(dest)
    assert_extracted(dest)
    assert sorted(os.listdir(tmp_path)) == sorted([name, "out"])


def test_extract_zip(tmp_path):
    archive = make_zip(tmp_path / "corpus.zip")
    dest = tmp_path / "out"
    assert extract_archive(archive, dest) == str(dest)
    assert_extracted(dest)
    assert sorted(os.listdir(tmp_path)) == ["corpus.zip", "out"]


def zip_symlink():
    info = zipfile.ZipInfo("link")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, "/etc/passwd"


@pytest.mark.parametrize("archive_name, make, extra, member, reason", [
    ("evil.tar.gz", make_tar, [{"name": "../evil", "data": b"escaped"}], "../evil", "'..'"),
    ("evil.tar.gz", make_tar, [{"name": "link", "type": tarfile.SYMTYPE, "linkname": "/etc/passwd"}],
     "link", "is a link"),
    ("evil.tar", make_tar, [{"name": "hard", "type": tarfile.LNKTYPE, "linkname": "README"}],
     "hard", "is a link"),
    ("evil.tar", make_tar, [{"name": "/tmp/evil", "data": b"escaped"}], "/tmp/evil", "absolute"),
    ("evil.tar", make_tar, [{"name": "dev", "type": tarfile.CHRTYPE}], "dev", "device"),
    ("evil.zip", make_zip, [("../evil", b"escaped")], "../evil", "'..'"),
    ("evil.zip", make_zip, [zip_symlink()], "link", "is a link"),
    ("evil.tar", make_tar, [{"name": "data\\..\\..\\evil", "data": b"escaped"}],
     "data\\..\\..\\evil", "'..'"),
    ("evil.tar", make_tar, [{"name": "C:/evil", "data": b"escaped"}], "C:/evil", "absolute"),
    ("evil.tar", make_tar, [{"name": "", "data": b"escaped"}], "", "empty"),
])
def test_unsafe_archive_is_rejected(tmp_path, archive_name, make, extra, member, reason):
    work = tmp_path / "work"
    work.mkdir()
    archive = make(tmp_path / archive_name, extra)
    with pytest.raises(UnsafeArchiveError) as info:
        extract_archive(archive, work / "out")
    assert str(archive) in str(info.value)
    assert repr(member) in str(info.value)
    assert reason in str(info.value)
    assert os.listdir(work) == []
    assert sorted(os.listdir(tmp_path)) == sorted([archive_name, "work"])


def test_members_named_from_the_archives_root_are_extracted(tmp_path):
    """Archivers write `tar -C dir -cf x.tar .` as `./`, `./data/`, `./data/train.txt`."""
    archive = tmp_path / "corpus.tar"
    with tarfile.open(archive, "w") as tar:
        add_tar_member(tar, "./", type=tarfile.DIRTYPE)
        add_tar_member(tar, "./data/", type=tarfile.DIRTYPE)
        for name, data in FILES.items():
            add_tar_member(tar, f"./{name}", data)
    extract_archive(archive, tmp_path / "out")
    assert_extracted(tmp_path / "out")


def test_truncated_archive_leaves_nothing(tmp_path):
    archive = make_tar(tmp_path / "corpus.tar.gz")
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptArchiveError, match=str(archive)):
        extract_archive(archive, tmp_path / "out")
    assert os.listdir(tmp_path) == ["corpus.tar.gz"]


def test_second_extraction_is_skipped(tmp_path):
    archive = make_tar(tmp_path / "corpus.tar.gz")
    dest = tmp_path / "out"
    extract_archive(archive, dest)
    (dest / "README").write_bytes(b"edited")
    os.remove(archive)
    assert extract_archive(archive, dest) == str(dest)
    assert (dest / "README").read_bytes() == b"edited"


def test_existing_directory_without_marker_is_left_alone(tmp_path):
    archive = make_tar(tmp_path / "corpus.tar.gz")
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "mine.txt").write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match=MARKER):
        extract_archive(archive, dest)
    assert os.listdir(dest) == ["mine.txt"]
    assert sorted(os.listdir(tmp_path)) == ["corpus.tar.gz", "out"]


def test_unsupported_archive_type(tmp_path):
    archive = tmp_path / "corpus.rar"
    archive.write_bytes(b"Rar!")
    with pytest.raises(ValueError, match="unsupported"):
        extract_archive(archive, tmp_path / "out")
    assert os.listdir(tmp_path) == ["corpus.rar"]
