"""Downloads and archive extraction that never leave a half-written file or directory behind."""

import hashlib
import http.client
import logging
import gzip
import ntpath
import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib

from kasm_keras.utils.atomic_files import (
    atomic_path, atomic_write_text, file_digest, remove_dead_temporaries, temporary_prefix)

log = logging.getLogger(__name__)

ALGORITHMS = ("sha256", "md5")
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")
MARKER = ".extracted"
DEFAULT_CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "kasm_keras")
CHUNK_SIZE = 1 << 16


class DownloadError(OSError):
    pass


class UnsafeArchiveError(ValueError):
    pass


class CorruptArchiveError(DownloadError):
    """An archive that cannot be read to its end (truncated, not the format its name says, a
    member failing its CRC); the message names the archive. A DownloadError, since a bad download
    is the usual cause: the fix is to fetch it again."""


# What tarfile, gzip, zlib and zipfile raise for damaged input (gzip.BadGzipFile is an OSError,
# so it is named alone: an OSError from writing the extracted files is not the archive's fault).
_DAMAGED = (tarfile.TarError, zipfile.BadZipFile, gzip.BadGzipFile, EOFError, zlib.error,
            NotImplementedError)


def parse_checksum(checksum):
    """Splits "sha256:<hex>" or "md5:<hex>" into (algorithm, lowercase hex digest)."""
    algorithm, _, expected = str(checksum).partition(":")
    expected = expected.lower()
    if (
        algorithm not in ALGORITHMS
        or len(expected) != 2 * hashlib.new(algorithm).digest_size
        or any(c not in "0123456789abcdef" for c in expected)
    ):
        raise ValueError(f"checksum must be 'sha256:<hex>' or 'md5:<hex>', got {checksum!r}")
    return algorithm, expected


def fetch(url, dest, checksum, timeout=60, progress=None):
    """Returns `dest` holding the file at `url` whose digest is `checksum`.

    `dest` is only ever replaced by a complete, verified download. When the download fails, a
    file already at `dest` that did not verify is left as it was: it is not ours to delete, and
    fetch never returns it.
    """
    algorithm, expected = parse_checksum(checksum)
    dest = os.fspath(dest)
    if os.path.exists(dest):
        actual = file_digest(dest, algorithm)
        if actual == expected:
            return dest
        log.warning(
            "%s has %s:%s, expected %s:%s; downloading %s again",
            dest, algorithm, actual, algorithm, expected, url)
    with atomic_path(dest) as tmp:
        download(url, tmp, timeout, progress)
        actual = file_digest(tmp, algorithm)
        if actual != expected:
            raise DownloadError(
                f"{url}: checksum mismatch, expected {algorithm}:{expected}, got {algorithm}:{actual}")
    return dest


def download(url, path, timeout, progress):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(path, "wb") as f:
            length = response.headers.get("Content-Length")
            total = int(length) if length is not None else None
            done = 0
            if progress:
                progress(done, total)
            while chunk := response.read(CHUNK_SIZE):
                f.write(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
    except urllib.error.HTTPError as e:
        e.close()
        raise DownloadError(f"{url}: HTTP {e.code} {e.reason}") from e
    except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
        raise DownloadError(f"{url}: {e}") from e
    # http.client returns a short body without complaint when the server closes early.
    if total is not None and done < total:
        raise DownloadError(f"{url}: truncated body, got {done} of {total} bytes")


def extract_archive(archive, dest_dir):
    """Extracts a .tar.gz, .tgz, .tar or .zip archive into `dest_dir` and returns `dest_dir`.

    The members go into a staging directory beside `dest_dir` that is renamed into place with
    a marker file inside, so `dest_dir` either holds a complete extraction or does not exist.
    A damaged archive raises CorruptArchiveError naming it, and leaves nothing behind; staging
    directories left by a killed extraction are removed (see `kasm_keras.utils.atomic_files`).
    """
    archive = os.fspath(archive)
    dest_dir = os.fspath(dest_dir)
    if os.path.isfile(os.path.join(dest_dir, MARKER)):
        return dest_dir
    if os.path.lexists(dest_dir) and not (os.path.isdir(dest_dir) and not os.listdir(dest_dir)):
        raise FileExistsError(
            f"{dest_dir} exists without {MARKER}, so it is not a complete extraction of "
            f"{archive}; move it away first")
    if archive.lower().endswith(".zip"):
        members = zip_members
    elif archive.lower().endswith(ARCHIVE_SUFFIXES):
        members = tar_members
    else:
        raise ValueError(f"{archive}: unsupported archive type, expected one of {ARCHIVE_SUFFIXES}")

    parent = os.path.dirname(os.path.abspath(dest_dir))
    os.makedirs(parent, exist_ok=True)
    remove_dead_temporaries(dest_dir)
    staging = tempfile.mkdtemp(prefix=temporary_prefix(dest_dir), suffix=".tmp", dir=parent)
    try:
        # mkdtemp makes a private (0700) directory; the tree inside it gets the usual umask.
        tree = os.path.join(staging, "tree")
        os.mkdir(tree)
        try:
            for name, is_dir, open_member in members(archive):
                path = os.path.join(tree, name)
                if is_dir:
                    os.makedirs(path, exist_ok=True)
                    continue
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open_member() as src, open(path, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                    dst.flush()
                    os.fsync(dst.fileno())
        except _DAMAGED as error:
            detail = str(error) or type(error).__name__
            raise CorruptArchiveError(
                f"{archive}: damaged or not a {_kind(archive)} archive ({detail}); "
                f"replace it with a complete copy") from error
        atomic_write_text(os.path.join(tree, MARKER), os.path.basename(archive) + "\n")
        os.replace(tree, dest_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest_dir


def _kind(archive):
    lower = archive.lower()
    if lower.endswith(".zip"):
        return "zip"
    return "gzip-compressed tar" if lower.endswith((".tar.gz", ".tgz")) else "tar"


def say_download(what, url, dest):
    """One line on stderr (stdout is a tool's report) before `fetch(url, dest, ...)` downloads
    `what`: what, from where, to where. Nothing when `dest` is already there."""
    import sys

    if not os.path.exists(dest):
        print(f"downloading {what} from {url} to {dest}", file=sys.stderr, flush=True)


def tar_members(archive):
    """Yields (name, is_dir, open_member) for each member, once every member has been checked."""
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        for member in members:
            check_member_name(archive, member.name)
            if member.issym() or member.islnk():
                raise UnsafeArchiveError(f"{archive}: member {member.name!r} is a link")
            if not (member.isfile() or member.isdir()):
                raise UnsafeArchiveError(
                    f"{archive}: member {member.name!r} is a device or special file")
        for member in members:
            yield member.name, member.isdir(), lambda member=member: tar.extractfile(member)


def zip_members(archive):
    """Yields (name, is_dir, open_member) for each member, once every member has been checked."""
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        for info in infos:
            check_member_name(archive, info.filename)
            # Unix modes live in the high bits of external_attr; archives made elsewhere have 0.
            kind = stat.S_IFMT(info.external_attr >> 16)
            if kind == stat.S_IFLNK:
                raise UnsafeArchiveError(f"{archive}: member {info.filename!r} is a link")
            if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise UnsafeArchiveError(
                    f"{archive}: member {info.filename!r} is a device or special file")
        for info in infos:
            yield info.filename, info.is_dir(), lambda info=info: zf.open(info)


def check_member_name(archive, name):
    parts = name.replace("\\", "/").split("/")
    if posixpath.isabs(name) or ntpath.isabs(name) or ntpath.splitdrive(name)[0]:
        raise UnsafeArchiveError(f"{archive}: member {name!r} has an absolute path")
    if ".." in parts:
        raise UnsafeArchiveError(f"{archive}: member {name!r} has a '..' component")
