"""How a family writes and reads a zoo entry's files: weights stored compactly, keras-hub's
metadata.json with ours beside it, a preset's task and weights loaded with every file that does
not fit the others named, and the check that storing moved a model's test result by no more
than the family allows. What the families share, so each family's `stage` and `load_preset`
say only what is their own."""

import json
import math
import os
import warnings

import h5py
import numpy as np

from kasm_keras.layers import int8_storage
from kasm_keras.models.task_family import ZooError
from kasm_keras.utils.files import write_text, file_digest

# A classifier's embedding rows stored in float16; int8 for the rarer rest. Measured on
# ag_news/rkm_lstm_1gram's test split: int8 for every row changed 8 of 7,600 predictions
# (-0.05 points), int8 past the first 4,096 rows changed 2 (+0.00).
EXACT_EMBEDDING_ROWS = 4096


def read_json(path):
    """The JSON value in `path`; a ZooError naming it when it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise ZooError(f"{path}: missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ZooError(f"{path}: unreadable ({error})") from None


def number(metadata, key, where, scale=1.0):
    """`metadata[key]` as a finite float times `scale` (100: a fraction in percent), None when
    absent; a ZooError naming `where` (the registry's record) when it is not a number."""
    value = metadata.get(key)
    if value is None:
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise ZooError(f"{where}: unreadable metadata ({key} {value!r} is not a number); the "
                       "registry is damaged") from None
    if not math.isfinite(result):
        raise ZooError(f"{where}: unreadable metadata ({key} is {value!r}); the registry is "
                       "damaged")
    return scale * result


def compact_weights(path, embedding_layer="token_embedding", exact_rows=EXACT_EMBEDDING_ROWS,
                    int8_keys=("1", "2"), int8_matrices_under=None):
    """Rewrites a `.weights.h5` file: float32 arrays as float16; of the embedding table, the
    first `exact_rows` rows (the most frequent tokens: the vocabulary is in frequency order) as
    float16 and the rest as int8 rows (stored under `int8_keys[0]` beside the table's "0") with
    a float16 scale each (under `int8_keys[1]`). Keras casts float16 back when loading, and the
    embedding layer reassembles its table: the classifier's `TokenEmbedding` from "0", "1",
    "2"; the language model's `TiedEmbedding`, whose "1" is its bias, from "0", "2", "3".
    With `embedding_layer=None` every array is float16. `int8_matrices_under`: the layers
    ("cell": every layer's `cell`) whose own matrices are stored as int8 with a scale per column
    (`kasm_keras.layers.int8_storage`, which `KernelCell` reads). (A new file: HDF5 never returns
    the space of deleted arrays.)"""
    compact = path + ".compact"
    with h5py.File(path, "r") as source, h5py.File(compact, "w") as target:
        def copy(key, item):
            if isinstance(item, h5py.Group):
                target.require_group(key).attrs.update(item.attrs)
                return
            value = item[()]
            parent, index = key.rsplit("/", 1) if "/" in key else ("", key)
            if value.dtype != np.float32:
                target[key] = value
            elif embedding_layer and f"/{embedding_layer}/vars" in f"/{parent}" and \
                    index == "0" and value.ndim == 2:
                rare, scale = int8_storage.quantize(value[exact_rows:], axis=1,
                                                    scale_dtype=np.float16)
                target[key] = value[:exact_rows].astype(np.float16)
                target[f"{parent}/{int8_keys[0]}"] = rare
                target[f"{parent}/{int8_keys[1]}"] = scale[:, 0]
            elif int8_matrices_under and f"/{parent}".endswith(f"/{int8_matrices_under}/vars") \
                    and value.ndim == 2:
                target[key], target[key + int8_storage.SCALE_SUFFIX] = \
                    int8_storage.quantize(value)
            else:
                target[key] = value.astype(np.float16)
            target[key].attrs.update(item.attrs)

        target.attrs.update(source.attrs)
        source.visititems(copy)
    os.replace(compact, path)


def write_metadata(directory, metadata, task=None):
    """keras-hub's metadata.json with ours under "kasm_keras" (replaced if already there). With
    `task` (the model saved), its "tasks" names the task's own class: keras-hub records the
    first base class of every task of the backbone, which for these families is a mixin."""
    path = os.path.join(directory, "metadata.json")
    written = read_json(path)
    if task is not None:
        written["tasks"] = [type(task).__name__]
    write_text(path, json.dumps({**written, "kasm_keras": metadata}, indent=2) + "\n")


def entry_bytes(directory, files):
    return sum(os.path.getsize(os.path.join(directory, f)) for f in files)


def digests(directory, files, name, max_bytes):
    """{file: sha256} of an entry's files in `directory`; a ZooError when together they are
    over `max_bytes`."""
    size = entry_bytes(directory, files)
    if size > max_bytes:
        raise ZooError(f"{name}: {size:,} bytes, over the zoo's {max_bytes:,} per entry")
    return {f: file_digest(os.path.join(directory, f)) for f in files}


def task_from_preset(cls, directory, sources, what):
    """`cls.from_preset(directory)` without its weights (safe mode), its failures named: a
    ZooError saying that `sources` (the files it read) do not make `what`."""
    try:
        task = cls.from_preset(directory, load_weights=False)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ZooError(f"{directory}: {sources} do not make a {what} ({error})") from error
    if not isinstance(task, cls):
        raise ZooError(f"{directory}/task.json: a {type(task).__name__}, not a {what}")
    return task


def every_weight(load):
    """`load()` (a Keras weights load), with Keras' warning "Skipping nested container ...
    Affected layers will retain their freshly-initialized weights" raised as an error: a file
    that leaves layers untrained does not fit."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Skipping nested container", category=UserWarning)
        return load()


def load_weights(directory, loads):
    """Runs each (file name, load function) of `loads` on the preset's file; weights that do
    not fit the configs, or leave a layer without its weights, are named."""
    for file_name, load in loads:
        path = os.path.join(directory, file_name)
        try:
            every_weight(lambda: load(path))
        except Exception as error:  # h5py and Keras raise many types for arrays that do not fit
            raise ZooError(f"{path} does not fit the model of task.json and config.json "
                           f"({type(error).__name__}: {error})") from error


def load_task_weights(task, directory):
    """Loads a preset's `task.weights.h5` and `model.weights.h5` into `task` (a classifier of
    either family, made from the preset's configs); returns it."""
    load_weights(directory, (("task.weights.h5", task.load_task_weights),
                             ("model.weights.h5", task.backbone.load_weights)))
    return task


def check_metadata(directory, fields):
    """Files that match their digests can still disagree with each other: each (key, value)
    of `fields` (what the configs say) against the entry's metadata.json, when it gives one."""
    path = os.path.join(directory, "metadata.json")
    if not os.path.exists(path):
        return
    metadata = read_json(path).get("kasm_keras", {})
    for key, ours in fields:
        theirs = metadata.get(key)
        if theirs is not None and ours is not None and theirs != ours:
            raise ZooError(f"{path} gives the {key} as {theirs}, task.json and config.json as "
                           f"{ours}")


def check_vocabulary(task, directory):
    """The preset's vocabulary has as many tokens as config.json's embedding has rows."""
    tokenizer = task.preprocessor.tokenizer
    if tokenizer.vocabulary_size() != task.backbone.vocabulary_size:
        raise ZooError(f"{directory}/assets/tokenizer/vocabulary.txt has "
                       f"{tokenizer.vocabulary_size()} tokens, config.json's embedding "
                       f"{task.backbone.vocabulary_size} rows")


def stage_classifier(family, model, name, folder, metadata, evaluate, reference, max_change,
                     change):
    """A classifier family's `stage`: `family.save_entry`, loaded back, its accuracy measured
    (`evaluate`) and refused when it is more than `max_change` from `reference` (`change` says
    why it moved)."""
    family.save_entry(model, folder, metadata)
    stored = family.load_preset(folder)
    if evaluate is not None:
        accuracy = float(evaluate(stored))
        if reference is not None and abs(accuracy - reference) > max_change:
            raise ZooError(f"{name}: the stored entry scores {accuracy:.4%} on test, the "
                           f"trained model {reference:.4%}; {change}")
        metadata = {**metadata, "test_accuracy": accuracy}
        write_metadata(folder, metadata, stored)
    files = digests(folder, family.preset_files, name, family.max_entry_bytes)
    return files, family.summary(metadata)
