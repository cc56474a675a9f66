"""File operations through `tf.io.gfile`, so a model_dir or export path may be `gs://...`.

Local paths keep the guarantees of `kasm_keras.utils.atomic_files` (a temporary file, fsync,
one rename). Elsewhere a write goes to a temporary name beside the target and is renamed with
`tf.io.gfile.rename(overwrite=True)`; object stores do not promise that rename is atomic, which
is why checkpoints also carry sha256 digests and are only named by `latest` once complete.
"""

import contextlib
import hashlib
import json
import os
import tempfile

import tensorflow as tf

from kasm_keras.utils.atomic_files import (
    atomic_path, is_local, staging_for, temporary_basename, temporary_folder, writing)

join = os.path.join
exists = tf.io.gfile.exists
isdir = tf.io.gfile.isdir
listdir = tf.io.gfile.listdir
makedirs = tf.io.gfile.makedirs


def temporary_name(path, keep_extension=False):
    """A hidden name beside `path`, unique to this call, by the temporaries' one rule
    (`kasm_keras.utils.atomic_files`: the writer's pid and machine, so that the next writer can
    tell a dead writer's leftover); with `keep_extension` it ends with `path`'s extension."""
    path = os.fspath(path)
    head, tail = os.path.split(path.rstrip("/"))
    return join(head, temporary_basename(tail, keep_extension))


@contextlib.contextmanager
def atomic_output(path):
    """Yields a temporary file path beside `path`; the block writes it, then it replaces `path`."""
    path = os.fspath(path)
    if is_local(path):
        with atomic_path(path) as tmp:
            yield tmp
        return
    makedirs(os.path.dirname(path))
    tmp = temporary_name(path)
    try:
        with writing(path):
            yield tmp
            tf.io.gfile.rename(tmp, path, overwrite=True)
    except BaseException:
        with contextlib.suppress(tf.errors.NotFoundError):
            tf.io.gfile.remove(tmp)
        raise


def write_text(path, text):
    """Replaces `path` with `text` (UTF-8) in one rename."""
    with atomic_output(path) as tmp:
        with tf.io.gfile.GFile(tmp, "wb") as f:
            f.write(text.encode("utf-8"))


def read_text(path):
    with tf.io.gfile.GFile(path, "rb") as f:
        return f.read().decode("utf-8")


def read_json(path):
    """The JSON value in `path`; FileNotFoundError, OSError or ValueError naming it."""
    try:
        text = read_text(os.fspath(path))
    except tf.errors.NotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    except tf.errors.OpError as error:
        raise OSError(f"{path}: {error.message}") from None
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not UTF-8 text ({error})") from None
    try:
        return json.loads(text)
    except ValueError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None


def digest(path, chunk_size=1 << 20):
    """sha256 of a file, read through gfile."""
    result = hashlib.sha256()
    with tf.io.gfile.GFile(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            result.update(chunk)
    return result.hexdigest()


def fsync_tree(path):
    """fsync every file under a local folder, then the folder (no-op elsewhere)."""
    if not is_local(path):
        return
    for root, _, names in os.walk(path):
        for name in names:
            with open(os.path.join(root, name), "rb+") as f:
                os.fsync(f.fileno())
        fsync_directory(root)


def fsync_directory(path):
    if not is_local(path):
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def rmtree(path):
    with contextlib.suppress(tf.errors.NotFoundError):
        tf.io.gfile.rmtree(path)


@contextlib.contextmanager
def local_copy(path):
    """A local path holding `path`'s content, for readers that only take local files."""
    if is_local(path):
        yield os.fspath(path)
        return
    with _local_folder() as folder:
        local = os.path.join(folder, os.path.basename(os.fspath(path)))
        tf.io.gfile.copy(path, local)
        yield local


def _local_folder():
    """A temporary local folder, for copies of remote files (see `temporary_folder`)."""
    return temporary_folder(os.path.join(tempfile.gettempdir(), "kasm_keras"))


@contextlib.contextmanager
def local_output(path):
    """A local path to write; its content then replaces `path` (atomically where local). For a
    remote `path` the local copy lies in the temporary folder, and a full disk there names that
    folder (see `staging_for`)."""
    if is_local(path):
        with atomic_output(path) as tmp:
            yield tmp
        return
    with _local_folder() as folder:
        local = os.path.join(folder, os.path.basename(os.fspath(path)))
        with staging_for(path, os.path.dirname(folder)):
            yield local
        with atomic_output(path) as tmp:
            tf.io.gfile.copy(local, tmp, overwrite=True)
