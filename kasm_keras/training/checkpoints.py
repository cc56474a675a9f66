"""Training checkpoints that a SIGKILL cannot corrupt, written with `tf.train.Checkpoint`.

A checkpoint is a folder `ckpt-<step>/` holding

- `variables.index`, `variables.data-*`: what `tf.train.Checkpoint.write` saves of the objects
  it is given (the loop gives the model's variables, the optimizer's, and the training data's
  `tf.data` iterator, whose state holds the pipeline's position and its shuffle buffer and seed);
- `state.json`: the step and the loop's bookkeeping (best score, history, time);
- `manifest.json`: the sha256 of each of those files.

It is written into a hidden temporary folder, which is renamed into place (on object stores,
its files one by one); only then is `latest` replaced to name it, so `latest` always names a
complete checkpoint. Restoring checks
every digest first, then that every saved value found its object and every object its value.
The oldest checkpoints are pruned after each save, and so are leftovers of a save that was killed.
A save that fails (a full disk: `DiskFullError` naming `ckpt-<step>`) removes its temporary folder
and leaves `latest` and the checkpoints it names as they were.

(`tf.train.CheckpointManager` is not used: it writes in place and checks no digests.)

Files kept beside the checkpoints (the best model) get the same protection from
`replace_with_digest` and `verify_digest`: `<file>.sha256` lists the sha256 the file may have,
and the file is checked against it before it is read.
"""

import json
import os
import re

import tensorflow as tf

from kasm_keras.utils import files

LATEST = "latest"
PREFIX = "variables"
STATE = "state.json"
MANIFEST = "manifest.json"
NAME = re.compile(r"^ckpt-(\d+)$")
DIGEST_SUFFIX = ".sha256"


class CheckpointError(RuntimeError):
    """A checkpoint or a file beside it that is missing, corrupt or does not fit the run."""


def _move_folder(source, target):
    """One rename where local. Object stores (gs://, s3://) have no folders to rename: there the
    files move one by one, the manifest last; until `latest` names the folder it is not used."""
    if files.is_local(source):
        tf.io.gfile.rename(source, target)
        return
    files.makedirs(target)
    names = sorted(n.rstrip("/") for n in files.listdir(source))
    for name in sorted(names, key=lambda n: n == MANIFEST):
        tf.io.gfile.rename(files.join(source, name), files.join(target, name), overwrite=True)
    files.rmtree(source)


def _digests(path):
    """The digests `path`'s sidecar lists (None without a sidecar)."""
    sidecar = path + DIGEST_SUFFIX
    if not files.exists(sidecar):
        return None
    return [line.split()[0] for line in files.read_text(sidecar).splitlines() if line.strip()]


def _write_digests(path, digests):
    name = path.rstrip("/").rsplit("/", 1)[-1]
    files.write_text(path + DIGEST_SUFFIX, "".join(f"{d}  {name}\n" for d in digests))


def replace_with_digest(source, target):
    """Moves the file `source` to `target` and records its sha256 in `<target>.sha256`.

    The sidecar first lists the new digest beside the old ones, then `target` is replaced (one
    rename), then the sidecar lists the new digest alone: whenever a kill stops it, `target`
    has a digest that the sidecar lists, and a changed or damaged file has none.

    Args:
        source: the new file (a temporary beside `target`).
        target: where it goes (local or `gs://...`).

    Examples:
        >>> import os, tempfile
        >>> from kasm_keras.training.checkpoints import replace_with_digest, verify_digest
        >>> folder = tempfile.mkdtemp()
        >>> with open(os.path.join(folder, "new"), "w") as f:
        ...     _ = f.write("weights")
        >>> replace_with_digest(os.path.join(folder, "new"), os.path.join(folder, "best.keras"))
        >>> sorted(os.listdir(folder))
        ['best.keras', 'best.keras.sha256']
        >>> verify_digest(os.path.join(folder, "best.keras"))  # unchanged: no error
    """
    source, target = str(source), str(target)
    new = files.file_digest(source)
    previous = [d for d in (_digests(target) or []) if d != new] if files.exists(target) else []
    _write_digests(target, [new, *previous])
    tf.io.gfile.rename(source, target, overwrite=True)
    files.fsync_directory(os.path.dirname(target) or ".")
    _write_digests(target, [new])


def verify_digest(path):
    """Checks `path` against the sha256 digests that `<path>.sha256` lists, before it is read.

    A file without a sidecar, from an older kasm_keras, is not checked.

    Args:
        path: the file (local or `gs://...`).

    Raises:
        CheckpointError: `path` is missing, or its digest is not one the sidecar lists.

    Examples:
        >>> import os, tempfile
        >>> from kasm_keras.training.checkpoints import replace_with_digest, verify_digest
        >>> folder = tempfile.mkdtemp()
        >>> path = os.path.join(folder, "best.keras")
        >>> with open(path + ".new", "w") as f:
        ...     _ = f.write("weights")
        >>> replace_with_digest(path + ".new", path)
        >>> with open(path, "a") as f:
        ...     _ = f.write("changed")
        >>> verify_digest(path)
        Traceback (most recent call last):
        ...
        kasm_keras.training.checkpoints.CheckpointError: ...; the file is corrupt or was changed
    """
    path = str(path)
    if not files.exists(path):
        raise CheckpointError(f"{path} is missing")
    expected = _digests(path)
    if expected is None:
        return
    actual = files.file_digest(path)
    if actual not in expected:
        raise CheckpointError(f"{path}: its sha256 is not the one recorded in {path}"
                              f"{DIGEST_SUFFIX}; the file is corrupt or was changed")


def _step_of(name):
    match = NAME.match(name.rstrip("/"))
    return int(match.group(1)) if match else None


class CheckpointManager:
    """Writes and restores the training checkpoints in one folder, keeping the newest `keep`.

    Args:
        directory: the checkpoints' folder, `<model_dir>/checkpoints` (local or `gs://...`).
        keep: how many checkpoints to keep (at least 1).

    Examples:
        >>> import tempfile
        >>> import tensorflow as tf
        >>> from kasm_keras.training.checkpoints import CheckpointManager
        >>> manager = CheckpointManager(tempfile.mkdtemp(), keep=2)
        >>> weights = tf.Variable([1.0, 2.0])
        >>> path = manager.save(10, tf.train.Checkpoint(weights=weights), {"best": 0.5})
        >>> manager.latest() == path
        True
        >>> _ = weights.assign([0.0, 0.0])
        >>> manager.restore(path, tf.train.Checkpoint(weights=weights))
        {'best': 0.5, 'step': 10}
        >>> weights.numpy()
        array([1., 2.], dtype=float32)
    """

    def __init__(self, directory, keep=2):
        self.directory = str(directory)
        self.keep = keep

    def save(self, step, checkpoint, state):
        """Writes a checkpoint as `ckpt-<step>`, points `latest` at it and prunes older ones.

        Args:
            step: the training step (an int), which names the checkpoint.
            checkpoint: a `tf.train.Checkpoint` of the objects to save.
            state: a JSON-serialisable dict of the loop's bookkeeping; saved with `step`.

        Returns:
            The new checkpoint's path.

        Raises:
            DiskFullError: the disk filled up; `latest` and the checkpoints it names are kept.
        """
        files.makedirs(self.directory)
        name = f"ckpt-{step}"
        final = files.join(self.directory, name)
        tmp = files.temporary_name(final)
        try:
            with files.writing(final):  # a full disk names the checkpoint, not its temporary
                checkpoint.write(files.join(tmp, PREFIX))
                files.write_text(files.join(tmp, STATE), json.dumps({**state, "step": step}))
                manifest = {n: files.file_digest(files.join(tmp, n))
                            for n in sorted(files.listdir(tmp))}
                files.write_text(files.join(tmp, MANIFEST), json.dumps(manifest, indent=1))
                files.fsync_tree(tmp)
            if files.exists(final):  # a run killed after this rename but before `latest` moved
                files.rmtree(final)
            _move_folder(tmp, final)
            files.fsync_directory(self.directory)
        except BaseException:
            files.rmtree(tmp)
            raise
        files.write_text(files.join(self.directory, LATEST), name)
        self._prune(keep_name=name)
        return final

    def _prune(self, keep_name):
        """Removes all but the `keep` newest checkpoints up to `keep_name`'s step, every later one
        (saved by a run that was killed before `latest` named it) and leftovers of killed saves."""
        newest = _step_of(keep_name)
        names = [n.rstrip("/") for n in files.listdir(self.directory)]
        steps = sorted((_step_of(n), n) for n in names if _step_of(n) is not None)
        later = [n for step, n in steps if step > newest]
        kept = [n for step, n in steps if step <= newest]
        old = [n for n in kept if n != keep_name][: max(0, len(kept) - self.keep)]
        leftovers = [n for n in names if n.startswith(".ckpt-") and n.endswith(".tmp")]
        for name in old + later + leftovers:
            files.rmtree(files.join(self.directory, name))

    def latest(self):
        """Finds the checkpoint that `latest` names.

        Returns:
            The newest complete checkpoint's path, or None if there is none yet.

        Raises:
            CheckpointError: `latest` is unreadable or names no checkpoint.
        """
        pointer = files.join(self.directory, LATEST)
        if not files.exists(pointer):
            return None
        try:
            name = files.read_text(pointer).strip()
        except (tf.errors.OpError, UnicodeDecodeError) as error:
            raise CheckpointError(f"{pointer}: unreadable ({getattr(error, 'message', error)})"
                                  ) from None
        path = files.join(self.directory, name)
        if _step_of(name) is None or not files.isdir(path):
            raise CheckpointError(f"{pointer} names {path}, which does not exist")
        return path

    @staticmethod
    def verify(path):
        """Checks every file of a checkpoint against its manifest's sha256 digests.

        Args:
            path: the checkpoint's folder, `ckpt-<step>`.

        Raises:
            CheckpointError: a file is missing, unlisted or differs from its digest.
        """
        path = str(path)
        manifest_path = files.join(path, MANIFEST)
        if not files.exists(manifest_path):
            raise CheckpointError(f"{path}: no {MANIFEST}; not a complete checkpoint")
        try:
            manifest = json.loads(files.read_text(manifest_path))
        except ValueError as error:
            raise CheckpointError(f"{manifest_path}: not valid JSON ({error})") from None
        if "model.npz" in manifest:
            raise CheckpointError(f"{path} was written by an older kasm_keras (.npz checkpoints); "
                                  "it cannot be resumed, start a new --model_dir")
        needed = [STATE, PREFIX + ".index"]
        missing = [n for n in needed if n not in manifest]
        if missing:
            raise CheckpointError(f"{manifest_path} does not list {', '.join(missing)}")
        present = {n.rstrip("/") for n in files.listdir(path)} - {MANIFEST}
        unlisted = sorted(present - set(manifest))
        if unlisted:
            raise CheckpointError(f"{path}/{unlisted[0]} is not in {MANIFEST}")
        for name, expected in sorted(manifest.items()):
            file = files.join(path, name)
            if not files.exists(file):
                raise CheckpointError(f"{file} is missing; the checkpoint is incomplete")
            actual = files.file_digest(file)
            if actual != expected:
                raise CheckpointError(f"{file}: sha256 {actual} does not match the manifest's "
                                      f"{expected}; the checkpoint is corrupt")

    @staticmethod
    def read_state(path):
        """Reads a checkpoint's `state.json` (no digests checked: `restore` checks them).

        Args:
            path: the checkpoint's folder, `ckpt-<step>`.

        Returns:
            The state `save` was given, with its `step`.
        """
        return json.loads(files.read_text(files.join(str(path), STATE)))

    def restore(self, path, checkpoint):
        """Checks a checkpoint's digests and restores `checkpoint`'s objects from it.

        Args:
            path: the checkpoint's folder, e.g. what `latest()` returned.
            checkpoint: a `tf.train.Checkpoint` of the same objects that were saved.

        Returns:
            The state `save` was given, with its `step`.

        Raises:
            CheckpointError: a file is corrupt, or a saved value and an object do not match
                (the model or the input pipeline has changed).
        """
        path = str(path)
        self.verify(path)
        prefix = files.join(path, PREFIX)
        status = None
        try:
            status = checkpoint.read(prefix)
            status.assert_consumed()
        except (AssertionError, ValueError, tf.errors.OpError) as error:
            if status is not None:
                status.expect_partial()  # reported here; no warnings again when it is deleted
            message = " ".join(str(error).split())
            if len(message) > 600:
                message = message[:600] + "..."
            raise CheckpointError(f"{prefix}: does not fit this model and data ({message}); "
                                  "the model or the input pipeline has changed") from None
        return self.read_state(path)
