"""Downloads and archive extraction that never leave a half-written file or directory behind.

A download has an overall deadline besides its per-read timeout (a server that trickles a byte
now and then never trips the timeout) and a size cap (a server that streams without end is cut
off as soon as it passes the cap). Connecting and the response's headers get
`DEADLINE_SECONDS`; once the headers are in, the deadline is extended to `DEADLINE_SECONDS`
plus the time the expected size takes at `MIN_RATE` (the size from Content-Length, else the
cap), counted from the start. A caller, or `$KASM_KERAS_DOWNLOAD_DEADLINE` (seconds), may set
the whole download's deadline instead. Only http:// and https:// addresses are fetched, and
only redirects to such addresses followed.
"""

import contextlib
import hashlib
import http.client
import logging
import gzip
import ntpath
import os
import posixpath
import shutil
import socket
import stat
import tarfile
import threading
import time
import urllib.error
import urllib.request
import zipfile
from urllib.parse import urljoin, urlsplit
import zlib

from kasm_keras.utils.files import (
    atomic_directory, atomic_path, file_digest, write_text)

log = logging.getLogger(__name__)

ALGORITHMS = ("sha256", "md5")
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")
MARKER = ".extracted"
DEFAULT_CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "kasm_keras")
CHUNK_SIZE = 1 << 16
DEADLINE_VARIABLE = "KASM_KERAS_DOWNLOAD_DEADLINE"
DEADLINE_SECONDS = 60  # connecting and the response's headers, whatever the size
MIN_RATE = 100_000  # bytes a second: the slowest a download may average after that
MAX_BYTES = 1 << 30  # the cap when the caller knows no better (the largest archive is 0.3 GB)


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


def fetch(url, dest, checksum, timeout=60, progress=None, max_bytes=MAX_BYTES, deadline=None):
    """Returns `dest` holding the file at `url` whose digest is `checksum`.

    `dest` is only ever replaced by a complete, verified download. When the download fails, a
    file already at `dest` that did not verify is left as it was: it is not ours to delete, and
    fetch never returns it. `max_bytes`: the most the file may have (a longer body is refused as
    soon as it passes it); `deadline`: seconds the whole download may take (see the module's
    docstring for the default).
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
        download(url, tmp, timeout, progress, max_bytes, deadline)
        actual = file_digest(tmp, algorithm)
        if actual != expected:
            raise DownloadError(
                f"{url}: checksum mismatch, expected {algorithm}:{expected}, got {algorithm}:{actual}")
    return dest


def deadline_seconds(size, deadline=None):
    """The seconds a download of `size` bytes may take: `deadline`, else
    $KASM_KERAS_DOWNLOAD_DEADLINE, else `DEADLINE_SECONDS` plus `size` at `MIN_RATE`."""
    if deadline is None and os.environ.get(DEADLINE_VARIABLE):
        try:
            deadline = float(os.environ[DEADLINE_VARIABLE])
        except ValueError:
            deadline = -1.0
        if not 0 < deadline < float("inf"):
            raise DownloadError(f"${DEADLINE_VARIABLE}={os.environ[DEADLINE_VARIABLE]!r}: "
                                "expected a positive number of seconds")
    return deadline if deadline is not None else DEADLINE_SECONDS + size / MIN_RATE


class _Watchdog:
    """Shuts down the sockets of a download once its deadline passes, which wakes a read that
    blocks on them (a per-read timeout only bounds each read)."""

    def __init__(self):
        self.sockets, self.expired, self.lock, self.timer = [], False, threading.Lock(), None

    def track(self, sock):
        with self.lock:
            self.sockets.append(sock)
            if self.expired:
                _shut(sock)

    def expire(self):
        with self.lock:
            self.expired = True
            for sock in self.sockets:
                _shut(sock)

    def start(self, seconds):
        """(Re)starts the countdown: the deadline is `seconds` from now."""
        if self.timer is not None:
            self.timer.cancel()
        self.timer = threading.Timer(max(seconds, 0.0), self.expire)
        self.timer.daemon = True
        self.timer.start()

    def stop(self):
        if self.timer is not None:
            self.timer.cancel()


def _shut(sock):
    with contextlib.suppress(OSError):
        # socket.socket's own shutdown, also on an SSL socket: its state stays the reader's.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _opener(watchdog):
    """urllib's opener for http(s) only, whose connections report their sockets to `watchdog`
    and whose redirects lead to http(s) addresses only (urllib's default opener also reads
    ftp://, file:// and data: addresses, and follows redirects to ftp://)."""

    def watched(connection_class):
        class Watched(connection_class):
            def connect(self):
                super().connect()
                watchdog.track(self.sock)

        return Watched

    http_connection = watched(http.client.HTTPConnection)
    https_connection = watched(http.client.HTTPSConnection)

    class HTTPHandler(urllib.request.HTTPHandler):
        def http_open(self, req):
            return self.do_open(http_connection, req)

    class HTTPSHandler(urllib.request.HTTPSHandler):
        def https_open(self, req):
            return self.do_open(https_connection, req, context=self._context)

    class RedirectHandler(urllib.request.HTTPRedirectHandler):
        def http_error_302(self, req, fp, code, msg, headers):
            target = headers.get("location") or headers.get("uri")
            if target is not None and not is_http(urljoin(req.full_url, target)):
                fp.close()
                raise DownloadError(f"{req.full_url}: redirected to "
                                    f"{urljoin(req.full_url, target)}, which is not an http:// "
                                    "or https:// address; refused")
            return super().http_error_302(req, fp, code, msg, headers)

        http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302

    opener = urllib.request.OpenerDirector()
    for handler in (urllib.request.ProxyHandler(), urllib.request.UnknownHandler(),
                    HTTPHandler(), HTTPSHandler(), urllib.request.HTTPDefaultErrorHandler(),
                    RedirectHandler(), urllib.request.HTTPErrorProcessor()):
        opener.add_handler(handler)
    return opener


def is_http(url):
    """Whether `url` is an http:// or https:// address with a host."""
    try:
        parts = urlsplit(url) if isinstance(url, str) else None
    except ValueError:
        return False
    return parts is not None and parts.scheme in ("http", "https") and bool(parts.netloc)


def download(url, path, timeout, progress, max_bytes=MAX_BYTES, deadline=None):
    """Writes the body at `url` to `path`; DownloadError naming `url` when it is no http(s)
    address, fails, takes more than its deadline (see the module's docstring) or passes
    `max_bytes`."""
    if not is_http(url):
        raise DownloadError(f"{url}: not an http:// or https:// address; refused")
    fixed = deadline is not None or bool(os.environ.get(DEADLINE_VARIABLE))
    seconds = deadline_seconds(0, deadline)  # a given deadline, else the headers' DEADLINE_SECONDS
    size = None  # what the deadline is computed for; None while the headers are awaited
    watchdog = _Watchdog()
    started = time.monotonic()
    watchdog.start(seconds)
    done, total = 0, None
    try:
        with _opener(watchdog).open(url, timeout=min(timeout, seconds)) as response, \
                open(path, "wb") as f:
            if watchdog.expired:  # the headers were cut short at their deadline
                raise _late(url, seconds, fixed, size, done)
            length = response.headers.get("Content-Length")
            total = int(length) if length is not None and length.isdigit() else None
            if total is not None and total > max_bytes:
                raise DownloadError(f"{url}: {total:,} bytes (its Content-Length), over the "
                                    f"{max_bytes:,} bytes this file may have; refused")
            if not fixed:  # the deadline of the size announced, else of the cap
                size = total if total is not None else max_bytes
                seconds = deadline_seconds(size)
                watchdog.start(seconds - (time.monotonic() - started))
            if progress:
                progress(done, total)
            while chunk := response.read(min(CHUNK_SIZE, max_bytes + 1 - done)):
                f.write(chunk)
                done += len(chunk)
                if done > max_bytes:
                    raise DownloadError(f"{url}: the body passed {max_bytes:,} bytes, the most "
                                        "this file may have; refused")
                if progress:
                    progress(done, total)
    except urllib.error.HTTPError as e:
        e.close()
        if watchdog.expired:
            raise _late(url, seconds, fixed, size, done) from e
        raise DownloadError(f"{url}: HTTP {e.code} {e.reason}") from e
    except DownloadError:
        raise
    except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
        if watchdog.expired:
            raise _late(url, seconds, fixed, size, done) from e
        raise DownloadError(f"{url}: {e}") from e
    finally:
        watchdog.stop()
    if watchdog.expired and done != total:  # a socket shut down at the deadline reads as an end
        raise _late(url, seconds, fixed, size, done)
    # http.client returns a short body without complaint when the server closes early.
    if total is not None and done < total:
        raise DownloadError(f"{url}: truncated body, got {done} of {total} bytes")


def _late(url, seconds, fixed, size, done):
    """The error of a download past its deadline: given (`fixed`), that of the headers (`size`
    None) or that of `size` bytes."""
    if fixed:
        why = ""
    elif size is None:
        why = "connecting and the response's headers; "
    else:
        why = f"{DEADLINE_SECONDS} s plus {size:,} bytes at {MIN_RATE:,} bytes/s; "
    return DownloadError(
        f"{url}: not complete within the download's deadline of {seconds:g} s ({why}"
        f"{done:,} bytes came; ${DEADLINE_VARIABLE} sets another deadline)")


def extract_archive(archive, dest_dir):
    """Extracts a .tar.gz, .tgz, .tar or .zip archive into `dest_dir` and returns `dest_dir`.

    The members go into a staging directory beside `dest_dir` that is renamed into place with
    a marker file inside, so `dest_dir` either holds a complete extraction or does not exist.
    A damaged archive raises CorruptArchiveError naming it, and leaves nothing behind; staging
    directories left by a killed extraction are removed (see `kasm_keras.utils.files`).
    """
    archive = os.fspath(archive)
    dest_dir = os.fspath(dest_dir)
    if os.path.isfile(os.path.join(dest_dir, MARKER)):
        return dest_dir
    if os.path.lexists(dest_dir) and not (os.path.isdir(dest_dir) and not os.listdir(dest_dir)):
        raise _not_an_extraction(dest_dir, archive)
    if archive.lower().endswith(".zip"):
        members = zip_members
    elif archive.lower().endswith(ARCHIVE_SUFFIXES):
        members = tar_members
    else:
        raise ValueError(f"{archive}: unsupported archive type, expected one of {ARCHIVE_SUFFIXES}")

    # An empty folder (or a link to one) at dest_dir gives the extraction its place.
    if os.path.islink(dest_dir):
        os.remove(dest_dir)
    elif os.path.isdir(dest_dir):
        with contextlib.suppress(OSError):  # a concurrent extraction's, finished meanwhile
            os.rmdir(dest_dir)
    # A concurrent extraction's finished copy is the same: kept, this one dropped.
    with atomic_directory(dest_dir, replace=False, fsync_files=True) as tree:
        try:
            for name, is_dir, open_member in members(archive):
                path = os.path.join(tree, name)
                if is_dir:
                    os.makedirs(path, exist_ok=True)
                    continue
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open_member() as src, open(path, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        except _DAMAGED as error:
            detail = str(error) or type(error).__name__
            raise CorruptArchiveError(
                f"{archive}: damaged or not a {_kind(archive)} archive ({detail}); "
                f"replace it with a complete copy") from error
        write_text(os.path.join(tree, MARKER), os.path.basename(archive) + "\n")
    if not os.path.isfile(os.path.join(dest_dir, MARKER)):  # a folder that could not be replaced
        raise _not_an_extraction(dest_dir, archive)
    return dest_dir


def _not_an_extraction(dest_dir, archive):
    return FileExistsError(f"{dest_dir} exists without {MARKER}, so it is not a complete "
                           f"extraction of {archive}; move it away first")


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
    """Refuses a member whose name leads out of the extraction folder: absolute, or a '..'
    component (`relative_path_problem` of an archive's names)."""
    problem = relative_path_problem(name, plain=False)
    if problem:
        raise UnsafeArchiveError(f"{archive}: member {name!r} {problem}")


def relative_path_problem(name, plain=True):
    """Why `name`, a relative path read from a file (a registry, a manifest), could lead out of
    the folder it is joined to or is no plain name: absolute, a '..' component, a backslash, a
    NUL, empty or '.' components; None when it is a plain relative path. With `plain=False`
    (an archive's member names, which archivers write as `./folder/`, `folder/`) only what
    leads out is refused: absolute, or a '..' component, backslashes read as separators."""
    if not isinstance(name, str):
        return "is not a string"
    if not name:
        return "is empty"
    if "\0" in name:
        return "contains a NUL character"
    if plain and "\\" in name:
        return "contains a backslash"
    if posixpath.isabs(name) or ntpath.isabs(name) or ntpath.splitdrive(name)[0]:
        return "is an absolute path"
    parts = name.replace("\\", "/").split("/")
    if ".." in parts:
        return "has a '..' component"
    if plain and any(part in ("", ".") for part in parts):
        return "has an empty or '.' component"
    return None


def join_inside(folder, name):
    """`folder`/`name`, where `name` is a relative path read from a file: ValueError saying why
    when `name` is no plain relative path (`relative_path_problem`) or the path, symbolic links
    resolved, is not strictly inside `folder`."""
    problem = relative_path_problem(name)
    if problem:
        raise ValueError(f"{name!r} {problem}")
    path = os.path.join(os.fspath(folder), name)
    root, real = os.path.realpath(folder), os.path.realpath(path)
    if real == root or os.path.commonpath([root, real]) != root:
        raise ValueError(f"{name!r} leads out of {folder} through a symbolic link (to {real})")
    return path
