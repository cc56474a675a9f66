"""Training checkpoints that a SIGKILL cannot corrupt.

A checkpoint is a folder `ckpt-<step>/` holding `model.npz` (the model's variables),
`optimizer.npz` (the optimizer's), `state.json` (step, best score...) and `manifest.json` (the
sha256 of each). It is written under a temporary name and renamed into place, then `latest` is
replaced (atomically) to name it. Loading checks every digest first; arrays load with
`allow_pickle=False`, so a checkpoint can never run code.
"""

import json
import os
import shutil

import numpy as np

from kasm_keras.utils.atomic_files import atomic_directory, atomic_path, atomic_write_text, file_digest

LATEST = "latest"
CHECKPOINT_FILES = ("model.npz", "optimizer.npz", "state.json")


class CheckpointError(RuntimeError):
    pass


def _variable_arrays(variables):
    return {f"{i:05d}:{v.path}": np.asarray(v.numpy()) for i, v in enumerate(variables)}


def _assign(variables, path):
    with np.load(path, allow_pickle=False) as data:
        names = sorted(data.files)
        if len(names) != len(variables):
            raise CheckpointError(f"{path}: {len(names)} arrays for {len(variables)} variables")
        for name, variable in zip(names, variables):
            if name.split(":", 1)[1] != variable.path:
                raise CheckpointError(f"{path}: {name} was saved from another variable than "
                                      f"{variable.path}; the model has changed")
            value = data[name]
            if tuple(value.shape) != tuple(variable.shape):
                raise CheckpointError(f"{path}: {name} has shape {value.shape}, the variable "
                                      f"{variable.path} {tuple(variable.shape)}")
            variable.assign(value)


class CheckpointManager:
    def __init__(self, directory, keep=2):
        self.directory = os.fspath(directory)
        self.keep = keep

    def save(self, step, model_variables, optimizer_variables, state):
        final = os.path.join(self.directory, f"ckpt-{step}")
        with atomic_directory(final) as tmp:
            files = {"model.npz": _variable_arrays(model_variables),
                     "optimizer.npz": _variable_arrays(optimizer_variables)}
            for name, arrays in files.items():
                with atomic_path(os.path.join(tmp, name)) as part:
                    with open(part, "wb") as f:
                        np.savez(f, **arrays)
            atomic_write_text(os.path.join(tmp, "state.json"), json.dumps({**state, "step": step}))
            manifest = {name: file_digest(os.path.join(tmp, name)) for name in CHECKPOINT_FILES}
            atomic_write_text(os.path.join(tmp, "manifest.json"), json.dumps(manifest))
        atomic_write_text(os.path.join(self.directory, LATEST), os.path.basename(final))
        self._prune(keep_name=os.path.basename(final))
        return final

    def _prune(self, keep_name):
        names = sorted((n for n in os.listdir(self.directory) if n.startswith("ckpt-")),
                       key=lambda n: int(n.split("-")[1]))
        for name in [n for n in names if n != keep_name][: max(0, len(names) - self.keep)]:
            shutil.rmtree(os.path.join(self.directory, name), ignore_errors=True)
        for name in os.listdir(self.directory):  # leftovers of a killed save
            if name.startswith(".ckpt-"):
                shutil.rmtree(os.path.join(self.directory, name), ignore_errors=True)

    def latest(self):
        """Path of the newest complete checkpoint, or None if there is none yet."""
        pointer = os.path.join(self.directory, LATEST)
        if not os.path.exists(pointer):
            return None
        with open(pointer) as f:
            path = os.path.join(self.directory, f.read().strip())
        if not os.path.isdir(path):
            raise CheckpointError(f"{pointer} names {path}, which does not exist")
        return path

    @staticmethod
    def verify(path):
        manifest_path = os.path.join(path, "manifest.json")
        if not os.path.exists(manifest_path):
            raise CheckpointError(f"{path}: no manifest.json; not a complete checkpoint")
        with open(manifest_path) as f:
            manifest = json.load(f)
        if sorted(manifest) != sorted(CHECKPOINT_FILES):
            raise CheckpointError(f"{manifest_path} lists {sorted(manifest)}, expected "
                                  f"{sorted(CHECKPOINT_FILES)}")
        for name, digest in manifest.items():
            actual = file_digest(os.path.join(path, name))
            if actual != digest:
                raise CheckpointError(f"{path}/{name}: sha256 {actual} does not match the "
                                      f"manifest's {digest}; the checkpoint is corrupt")

    def restore(self, path, model_variables, optimizer_variables):
        """Checks the digests, assigns the variables and returns the saved state."""
        self.verify(path)
        _assign(model_variables, os.path.join(path, "model.npz"))
        _assign(optimizer_variables, os.path.join(path, "optimizer.npz"))
        with open(os.path.join(path, "state.json")) as f:
            return json.load(f)
