"""Files that are never left half-written, read back safely, on a local disk or through
`tf.io.gfile` (so a model_dir or export path may be `gs://...`).

Local writes: a temporary file, fsync, then one rename (`atomic_path`, `atomic_directory`,
`atomic_output`). Elsewhere a write goes to a temporary name beside the target and is renamed with
`tf.io.gfile.rename(overwrite=True)`; object stores do not promise that rename is atomic, which
is why checkpoints also carry sha256 digests (`file_digest`) and are only named by `latest` once
complete. `read_json` reads a JSON file and names it in any error; `preparing` and
`flock_exclusive` are the locks that keep two processes from writing the same thing at once.

Temporary names, and what a killed writer leaves behind
--------------------------------------------------------
A temporary file or folder is a hidden sibling of its target named after its writer:
`.<target>.<pid>@<machine>.<random>.tmp`, where <machine> stands for this kernel boot and PID
namespace (a digest of /proc/sys/kernel/random/boot_id and /proc/self/ns/pid; the host name where
those cannot be read). A writer killed outright (SIGKILL, OOM killer, power loss) cannot remove
its temporary, so the next writer of the same target removes the siblings whose writer is dead:
same <machine>, and no process with that pid (`os.kill(pid, 0)` answers ESRCH).

Why a pid and not an age threshold: two live processes may prepare the same cache at the same
time, and preparing a large dataset can take longer than any threshold one would pick, so age
alone would sometimes delete a live writer's folder. Liveness of the recorded pid is exact for
writers on this kernel and PID namespace; everything else is left alone on purpose:
- a temporary written by another machine (a shared or network file system), or by another
  container with its own PID namespace, is never removed here: its pid means nothing to us;
  the next run on its own machine removes it;
- a pid reused by an unrelated live process only keeps a leftover longer (never the reverse);
- names without a pid (an older naming) are removed only once their modification time is more
  than `LEGACY_STALE_SECONDS` old (`legacy_is_stale`, `remove_stale_legacy`).
Folders named by someone else (TFDS's `incomplete.*`) carry the same record in a file inside,
written first thing (`writer_record`, `remove_dead_writer_folders`).

The name may go on after `.tmp` with the target's extension (`.best.keras.<pid>@<machine>.<random>
.tmp.keras`), for writers that accept only names ending like their format (Keras' `.keras`).
`is_temporary(name)` tells any target's temporary by its name (a training run, which holds its
model_dir's lock, removes every one it finds there).

A full disk
-----------
A write that fails because the disk (or the user's quota) is full says so in a form that names
no file (`[Errno 28] No space left on device`, or TensorFlow's `ResourceExhaustedError` of its
`SaveV2` op, naming a temporary). Every writer here runs its block under `writing(path)`, which
turns that into `DiskFullError`, an OSError naming the file being written; the temporary is
removed as on any other failure, so nothing already in place changes. A target on another file
system (gs://...) is first written to a local copy under `staging_for(target, folder)`: a full
local disk names `folder` and says which target it stages.
"""

import contextlib
import errno
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import socket
import string
import tempfile
import time

import tensorflow as tf

log = logging.getLogger(__name__)

LEGACY_STALE_SECONDS = 24 * 3600
_RANDOM = r"[a-z0-9_]{8}"  # what tempfile adds between prefix and suffix
_RANDOM_CHARACTERS = string.ascii_lowercase + string.digits + "_"
_EXTENSION = r"(?:\.[A-Za-z0-9]+)?"  # the target's extension, for writers that need it
# A temporary of any target: `.<target>.<pid>@<machine>.<random>.tmp[<extension>]`.
_WRITER = r"(?P<pid>\d+)@(?P<machine>[A-Za-z0-9-]+)"
_ANY_TEMPORARY = re.compile(rf"\..+\.{_WRITER}\.{_RANDOM}\.tmp{_EXTENSION}")
# How an operating system, TensorFlow or HDF5 says that the disk or the quota is full; the
# latter two only in their messages' text.
_DISK_FULL = re.compile(r"No space left on device|Disk quota exceeded")
_MACHINE = None

join = os.path.join
exists = tf.io.gfile.exists
isdir = tf.io.gfile.isdir
listdir = tf.io.gfile.listdir
makedirs = tf.io.gfile.makedirs


def machine_id():
    """This kernel boot and PID namespace, as a short token safe in a file name."""
    global _MACHINE
    if _MACHINE is None:
        try:
            with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
                boot = f.read().strip()
            namespace = os.readlink("/proc/self/ns/pid")
            _MACHINE = hashlib.sha256(f"{boot}|{namespace}".encode()).hexdigest()[:12]
        except OSError:
            _MACHINE = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:48] or "localhost"
    return _MACHINE


def writer_record():
    """Who is writing: {"pid", "machine", "host"}, for a marker file inside a temporary folder."""
    return {"pid": os.getpid(), "machine": machine_id(), "host": socket.gethostname()}


def temporary_prefix(path):
    """The prefix of this process's temporaries for `path` (the suffix is ".tmp")."""
    return f".{os.path.basename(path)}.{os.getpid()}@{machine_id()}."


def temporary_basename(name, keep_extension=False):
    """A new temporary name (not created) for a target named `name`, by the rule of the module
    docstring; with `keep_extension` it ends with the target's extension too."""
    random = "".join(secrets.choice(_RANDOM_CHARACTERS) for _ in range(8))
    extension = os.path.splitext(name)[1] if keep_extension else ""
    if not re.fullmatch(_EXTENSION, extension):
        extension = ""
    return f".{name}.{os.getpid()}@{machine_id()}.{random}.tmp{extension}"


def is_temporary(name):
    """Whether `name` (a file name, no folder) is a temporary named by this module's rule."""
    return _ANY_TEMPORARY.fullmatch(name) is not None


class DiskFullError(OSError):
    """Writing `filename` failed: its disk, or the user's quota there, is full. `stages`, when
    given, is the target (on another file system) whose local copy was being written there."""

    def __init__(self, path, reason="No space left on device", stages=None):
        code = errno.EDQUOT if reason == "Disk quota exceeded" else errno.ENOSPC
        super().__init__(code, reason, os.fspath(path))
        self.stages = stages

    def __str__(self):
        staging = f"; staging {self.stages}" if self.stages else ""
        return f"cannot write {self.filename}: the disk is full ({self.strerror}{staging})"


def is_disk_full(error):
    """Whether `error` says that a write failed for want of space (or quota)."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return _DISK_FULL.search(str(error)) is not None


@contextlib.contextmanager
def writing(path):
    """The block writes `path`: a full disk inside it becomes DiskFullError naming `path`. A
    DiskFullError from a writer inside keeps its name, unless that lies in a temporary (the
    block's own staging folder): the user never sees a temporary's name."""
    try:
        yield
    except DiskFullError as error:
        parts = os.path.normpath(os.fspath(error.filename)).split(os.sep)
        if not any(is_temporary(part) for part in parts):
            raise
        raise DiskFullError(path, error.strerror) from None
    except Exception as error:
        if not is_disk_full(error):
            raise
        reason = "Disk quota exceeded" if "quota" in str(error) else "No space left on device"
        raise DiskFullError(path, reason) from None


@contextlib.contextmanager
def staging_for(target, folder):
    """The block writes, in the local `folder` (or a temporary in it), a copy of `target`, which
    lies on another file system: a full disk inside it is a DiskFullError naming `folder`, the
    disk that is full, and saying that it stages `target` (naming `target` alone would send the
    user to the wrong disk)."""
    try:
        with writing(folder):
            yield
    except DiskFullError as error:
        raise DiskFullError(error.filename, error.strerror, stages=target) from None


def writer_is_dead(pid, machine):
    """True only when `pid` on `machine` is certainly not running: `machine` is this one and no
    process has that pid. Anything uncertain (another machine, a pid we may not signal, a
    platform without signal 0) counts as alive."""
    if machine != machine_id() or not isinstance(pid, int) or pid <= 0 or os.name != "posix":
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # PermissionError: it exists, as another user's process
        return False
    return False


def legacy_is_stale(path):
    """Whether a leftover named by an older version (no writer in its name, so no telling
    whether it is alive) is old enough to be a dead writer's: modified more than
    `LEGACY_STALE_SECONDS` ago. False when it is gone."""
    try:
        return time.time() - os.lstat(path).st_mtime > LEGACY_STALE_SECONDS
    except FileNotFoundError:
        return False


def remove_stale_legacy(parent, name_pattern):
    """Removes the entries of `parent` whose name fully matches `name_pattern` (a compiled
    regex: a temporary's name as an older version gave it) and that `legacy_is_stale`; returns
    the paths removed."""
    return _remove_leftovers(parent, lambda name, path: name_pattern.fullmatch(name) is not None
                             and legacy_is_stale(path))


def _remove_leftovers(parent, dead):
    """Removes the entries of `parent` for which `dead(name, path)` holds; returns their
    paths."""
    try:
        entries = os.listdir(parent)
    except (FileNotFoundError, NotADirectoryError):
        return []
    removed = []
    for entry in entries:
        path = os.path.join(parent, entry)
        if dead(entry, path):
            log.info("removing %s, left by a writer that is no longer running", path)
            remove_tree_or_file(path)
            removed.append(path)
    return removed


def remove_tree_or_file(path):
    """Removes a leftover; another cleaner removing it at the same time is not an error."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


def remove_dead_temporaries(path):
    """Removes the temporaries beside `path` (for `path` itself) left by dead writers; returns
    the paths removed. See the module docstring for what counts as dead."""
    path = os.path.abspath(os.fspath(path))
    parent, base = os.path.split(path)
    named = re.compile(rf"\.{re.escape(base)}\.{_WRITER}\.{_RANDOM}\.tmp{_EXTENSION}")
    legacy = re.compile(rf"\.{re.escape(base)}\.{_RANDOM}\.tmp")

    def dead(name, candidate):
        match = named.fullmatch(name)
        if match:
            return writer_is_dead(int(match["pid"]), match["machine"])
        return legacy.fullmatch(name) is not None and legacy_is_stale(candidate)

    return _remove_leftovers(parent, dead)


def remove_dead_writer_folders(parent, name_pattern, writer_file):
    """Removes the folders in `parent` whose name fully matches `name_pattern` (a compiled regex)
    and whose `writer_file` inside (JSON from `writer_record`) names a dead writer; returns them.

    For temporary folders named by someone else (TFDS's `incomplete.*`): the writer records
    itself in the folder as its first step. A folder without `writer_file` is removed once its
    modification time is more than LEGACY_STALE_SECONDS old; one whose file cannot be read is
    left alone.
    """

    def dead(name, folder):
        if not name_pattern.fullmatch(name) or not os.path.isdir(folder):
            return False
        try:
            with open(os.path.join(folder, writer_file), encoding="utf-8") as f:
                writer = json.load(f)
            return writer_is_dead(writer.get("pid"), writer.get("machine"))
        except FileNotFoundError:
            return legacy_is_stale(folder)
        except (OSError, ValueError, AttributeError):
            return False

    return _remove_leftovers(parent, dead)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def fsync_directory(path):
    """fsyncs a local folder, so that a rename or new file in it survives a crash (no-op on a
    path elsewhere)."""
    if not is_local(path):
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path beside `path`; on success it replaces `path` in one rename.

    Temporaries of `path` left by dead writers are removed first (see the module docstring); a
    full disk is a DiskFullError naming `path`."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    remove_dead_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=temporary_prefix(path), suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        with writing(path):
            yield tmp
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; others may need to read it
        os.replace(tmp, path)
        fsync_directory(directory)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def seal_directory(folder, fsync_files=False):
    """Readies a temporary folder to be renamed into place: its folders get the usual umask
    (mkdtemp makes them private) and it is fsynced (with `fsync_files`, every file in it too)."""
    for root, folders, _ in os.walk(folder):
        for name in folders:
            os.chmod(os.path.join(root, name), 0o777 & ~_umask())
    os.chmod(folder, 0o777 & ~_umask())
    if fsync_files:
        fsync_tree(folder)
    else:
        fsync_directory(folder)


@contextlib.contextmanager
def atomic_directory(path, replace=True, fsync_files=False):
    """Yields a temporary folder beside `path`, renamed to `path` when the block succeeds.

    With `replace=False` an existing `path` is kept and the new folder dropped: for caches whose
    content is the same whoever writes it, so a reader of the old one is never pulled from under.
    With `fsync_files` every file in the folder is fsynced before the rename, not only the
    folder: for content written without its own fsync (an archive's members).
    Temporaries of `path` left by dead writers are removed first (see the module docstring); a
    full disk is a DiskFullError naming `path`.
    """
    path = os.path.abspath(os.fspath(path))
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    remove_dead_temporaries(path)
    tmp = tempfile.mkdtemp(prefix=temporary_prefix(path), suffix=".tmp", dir=parent)
    try:
        with writing(path):
            yield tmp
            seal_directory(tmp, fsync_files)
        if os.path.exists(path):
            if not replace:
                return
            shutil.rmtree(path)
        try:
            os.replace(tmp, path)
        except OSError:
            if replace or not os.path.exists(path):  # not a concurrent writer's finished copy
                raise
        fsync_directory(parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def temporary_folder(path):
    """Yields a new empty folder beside `path`, named as a temporary of `path`, and removes it
    with its content when the block ends: a staging folder that a writer killed outright leaves
    for the next one to remove (dead writers' ones are removed first)."""
    path = os.path.abspath(os.fspath(path))
    parent = os.path.dirname(path)
    remove_dead_temporaries(path)
    tmp = tempfile.mkdtemp(prefix=temporary_prefix(path), suffix=".tmp", dir=parent)
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def is_local(path):
    """Whether `path` is on this machine's file system (not `gs://...` and the like)."""
    return "://" not in os.fspath(path)


def temporary_name(path, keep_extension=False):
    """A hidden name beside `path`, unique to this call, by the temporaries' one rule (the
    writer's pid and machine, see the module docstring, so that the next writer can tell a dead
    writer's leftover); with `keep_extension` it ends with `path`'s extension."""
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


def write_bytes(path, data):
    """Replaces `path` with `data` in one rename (see `atomic_output`)."""
    with atomic_output(path) as tmp:
        with _open(tmp, "wb") as f:
            f.write(data)


def write_text(path, text):
    """Replaces `path` with `text` (UTF-8) in one rename (see `atomic_output`)."""
    write_bytes(path, text.encode("utf-8"))


def read_text(path):
    """The UTF-8 text in `path`, local or not."""
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


def fsync_tree(path):
    """fsync every file under a local folder, then the folder (no-op elsewhere)."""
    if not is_local(path):
        return
    for root, _, names in os.walk(path):
        for name in names:
            with open(os.path.join(root, name), "rb+") as f:
                os.fsync(f.fileno())
        fsync_directory(root)


def rmtree(path):
    """Removes the folder `path` and its content, local or not; a missing one is no error."""
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


def file_digest(path, algorithm="sha256", chunk_size=1 << 20):
    """The hex digest (`algorithm`, a hashlib name) of the file at `path`, local or not."""
    result = hashlib.new(algorithm)
    with _open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            result.update(chunk)
    return result.hexdigest()


def _open(path, mode):
    """`path` opened in the binary `mode`: by Python on a local disk, through gfile elsewhere."""
    if is_local(path):
        return open(path, mode)
    return tf.io.gfile.GFile(path, mode)


def flock_exclusive(fd, wait=False):
    """Takes an exclusive `flock` on the open file `fd`: True once taken, False when another
    open file holds it and `wait` is false (with `wait`, it waits for it). The kernel drops the
    lock when `fd` is closed, however its process ends (SIGKILL included), so none is left
    stuck. Local files only."""
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except OSError as error:
        if wait or error.errno not in (errno.EAGAIN, errno.EACCES):
            raise
        return False
    return True


@contextlib.contextmanager
def preparing(folder):
    """Holds an exclusive `flock` on `<folder>/.preparing` for the block, waiting for it.

    Two processes preparing the same cache at once (two trainings started together) would both
    write it, and TFDS's final rename fails for the second; with this, the second waits and then
    finds the first one's files. The kernel drops the lock however its holder exits. Local
    folders only: elsewhere the block runs unlocked. A full disk in the block (TFDS's own
    writes too) is a DiskFullError naming the cache folder, unless a writer inside named its file.
    """
    fd = None
    if is_local(folder):
        try:
            os.makedirs(folder, exist_ok=True)
            fd = os.open(os.path.join(folder, ".preparing"),
                         os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except PermissionError:  # a read-only cache, prepared before: nothing will be written
            fd = None
    if fd is None:
        with writing(folder):
            yield
        return
    try:
        if not flock_exclusive(fd):
            log.warning("%s: another process is preparing this cache; waiting for it", folder)
            flock_exclusive(fd, wait=True)
        with writing(folder):
            yield
    finally:
        os.close(fd)  # drops the lock
