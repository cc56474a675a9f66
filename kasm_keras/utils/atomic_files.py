"""Writes that never leave a half-written file behind: a temporary file, fsync, then rename."""

import contextlib
import hashlib
import os
import shutil
import tempfile


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path beside `path`; on success it replaces `path` in one rename."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; others may need to read it
        os.replace(tmp, path)
        _fsync_dir(directory)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


@contextlib.contextmanager
def atomic_directory(path, replace=True):
    """Yields a temporary folder beside `path`, renamed to `path` when the block succeeds.

    With `replace=False` an existing `path` is kept and the new folder dropped: for caches whose
    content is the same whoever writes it, so a reader of the old one is never pulled from under.
    """
    path = os.path.abspath(os.fspath(path))
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=parent)
    try:
        yield tmp
        for root, folders, _ in os.walk(tmp):
            for folder in folders:
                os.chmod(os.path.join(root, folder), 0o777 & ~_umask())
        os.chmod(tmp, 0o777 & ~_umask())
        _fsync_dir(tmp)
        if os.path.exists(path):
            if not replace:
                return
            shutil.rmtree(path)
        try:
            os.replace(tmp, path)
        except OSError:
            if replace or not os.path.exists(path):  # not a concurrent writer's finished copy
                raise
        _fsync_dir(parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def atomic_write_bytes(path, data):
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)


def atomic_write_text(path, text):
    atomic_write_bytes(path, text.encode("utf-8"))


def file_digest(path, algorithm="sha256", chunk_size=1 << 20):
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()
