"""One training run per model_dir at a time, and no half-made model_dir left by a failed start.

Two trainers on one model_dir would corrupt it: each one's checkpoint pruning deletes the other's
half-written checkpoints, and the survivor's config.json may describe the other one's weights.
`claim_model_dir(model_dir, keep)` takes an exclusive `flock` on `<model_dir>/.lock`
(`files.flock_exclusive`) for the run's life, so a second trainer is refused at once, naming the
holder's pid. The kernel drops the lock when its holder exits, however it exits (SIGKILL
included), so no lock is ever left stuck: the next run simply takes it and resumes.

`.lock` holds `<pid>@<host>` of the run holding it, empty when none does.

Limitations: the lock is for local paths (and network file systems whose `flock` the kernel
forwards to the server, as Linux's NFS client does). Object stores (`gs://...`, `s3://...`) have
no locks: there, make sure that one trainer at a time uses a model_dir.

If a run that found its model_dir new (missing or empty) fails before it wrote its first
checkpoint, everything it wrote there is removed again, the folder too when it made it: a failed
start leaves nothing behind.
"""

import contextlib
import os
import socket

import tensorflow as tf

from kasm_keras.training.task import TrainingError
from kasm_keras.utils import files

LOCK = ".lock"


def _entries(model_dir):
    return [n.rstrip("/") for n in files.listdir(model_dir) if n.rstrip("/") != LOCK]


class ModelDirLock:
    """The exclusive flock on `<model_dir>/.lock` (nothing on non-local paths).

    `claim_model_dir` is the usual way to hold it; this class is the lock alone.

    Args:
        model_dir: the run's folder, which must exist.

    Examples:
        >>> import tempfile
        >>> from kasm_keras.training.lock import ModelDirLock
        >>> model_dir = tempfile.mkdtemp()
        >>> lock = ModelDirLock(model_dir)
        >>> lock.acquire()
        >>> ModelDirLock(model_dir).acquire()
        Traceback (most recent call last):
        ...
        kasm_keras.training.task.TrainingError: ... is in use by another training run ...
        >>> lock.release(remove=True)
    """

    def __init__(self, model_dir):
        self.model_dir = os.fspath(model_dir)
        self.path = os.path.join(self.model_dir, LOCK)
        self.fd = None
        self.created_file = False

    def acquire(self):
        """Takes the lock, or raises TrainingError naming the model_dir and the holder."""
        if not files.is_local(self.model_dir):
            return
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
                created = True
            except FileExistsError:
                try:
                    fd = os.open(self.path, os.O_RDWR | os.O_CLOEXEC)
                except FileNotFoundError:  # removed by its holder just now: try again
                    continue
                created = False
            try:
                taken = files.flock_exclusive(fd)
            except OSError:
                os.close(fd)
                raise
            if not taken:
                holder = os.read(fd, 200).decode("utf-8", "replace").strip()
                os.close(fd)
                raise TrainingError(
                    f"{self.model_dir} is in use by another training run ("
                    f"{'pid ' + holder if holder else 'holder unknown: it is just starting'}); "
                    "two runs in one model_dir corrupt it. Wait for that one to end, or use "
                    "another --model_dir") from None
            # The holder before us may have removed the file while we waited for it: a lock on
            # a file no longer at `path` locks nothing, so start again.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        self.fd, self.created_file = fd, created
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}@{socket.gethostname()}\n".encode(), 0)

    def release(self, remove=False):
        """Drops the lock (nothing if it is not held).

        Args:
            remove: remove `.lock` rather than empty it (for a model_dir being removed).
        """
        if self.fd is None:
            return
        try:
            if remove:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path)  # while still held: no one can hold the old file
            else:
                os.ftruncate(self.fd, 0)
        finally:
            os.close(self.fd)
            self.fd = None


def _cannot_write(model_dir, error):
    reason = getattr(error, "strerror", None) or getattr(error, "message", None) or str(error)
    return TrainingError(f"cannot write in the model_dir {model_dir}: {reason}")


@contextlib.contextmanager
def claim_model_dir(model_dir, keep):
    """Makes `model_dir` if needed and holds its lock for the block.

    If the folder was new (missing, or empty) and the block fails while `keep()` is false (the
    run has written no checkpoint yet), everything in it is removed again, and the folder too if
    it was made here, with the parent folders made for it (`runs/<dataset>/` of a default
    model_dir).

    Args:
        model_dir: the run's folder (local or `gs://...`; only local ones are locked).
        keep: a function of no arguments; true once what the block wrote must stay.

    Returns:
        A context manager.

    Raises:
        TrainingError: `model_dir` is a file, cannot be written, or another run holds it.

    Examples:
        >>> import os, tempfile
        >>> from kasm_keras.training.lock import claim_model_dir
        >>> model_dir = os.path.join(tempfile.mkdtemp(), "run")
        >>> with claim_model_dir(model_dir, keep=lambda: False):
        ...     os.path.isdir(model_dir)
        True
        >>> failed = os.path.join(tempfile.mkdtemp(), "failed")
        >>> try:
        ...     with claim_model_dir(failed, keep=lambda: False):
        ...         raise KeyboardInterrupt  # a failed start: nothing is left behind
        ... except KeyboardInterrupt:
        ...     os.path.exists(failed)
        False
    """
    model_dir = os.fspath(model_dir)
    local = files.is_local(model_dir)
    if local and os.path.exists(model_dir) and not os.path.isdir(model_dir):
        raise TrainingError(f"the model_dir {model_dir} is a file, not a folder")
    made, missing = False, []  # missing: the local folders made here, the deepest first
    try:
        if local:
            folder = os.path.abspath(model_dir)
            while not os.path.exists(folder):
                missing.append(folder)
                folder = os.path.dirname(folder)
            made = bool(missing)
            os.makedirs(model_dir, exist_ok=True)
        else:
            made = not files.exists(model_dir)
            files.makedirs(model_dir)
    except (OSError, tf.errors.OpError) as error:
        raise _cannot_write(model_dir, error) from None
    lock = ModelDirLock(model_dir)
    try:
        lock.acquire()
    except PermissionError as error:  # a folder that exists, but that this user cannot write
        raise _cannot_write(model_dir, error) from None
    new = made or not _entries(model_dir)
    try:
        yield
    except BaseException:
        remove = new and not keep()
        if remove:
            for name in _entries(model_dir):
                path = files.join(model_dir, name)
                if files.isdir(path):
                    files.rmtree(path)
                else:
                    with contextlib.suppress(tf.errors.NotFoundError):
                        tf.io.gfile.remove(path)
        lock.release(remove=remove and (made or lock.created_file))
        if remove and made and local:
            with contextlib.suppress(OSError):  # not empty: another run has just started in it
                for folder in missing:
                    os.rmdir(folder)
        elif remove and made:
            files.rmtree(model_dir)
        raise
    lock.release()
