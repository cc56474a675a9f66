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
from kasm_keras.utils import files as utils_files
from kasm_keras.utils.files import atomic_path, file_digest, write_text

# A classifier's embedding rows stored in float16 (the most frequent words, whose rounding moves
# the most predictions); int8 for the rarer rest. Publishing checks what this costs: an entry's
# accuracy is measured again from its stored files.
EXACT_EMBEDDING_ROWS = 4096


def read_json(path):
    """Reads a JSON file of an entry or a run.

    Args:
        path: the file.

    Returns:
        The JSON value it holds.

    Raises:
        ZooError: naming `path`, when it is missing or unreadable.

    Examples:
        >>> import os
        >>> from kasm_keras import zoo
        >>> directory = zoo.entry_dir("ag_news/rkm_cifg_1gram")
        >>> read_json(os.path.join(directory, "metadata.json"))["kasm_keras"]["classes"]
        ['World', 'Sports', 'Business', 'Sci/Tech']
    """
    try:
        return utils_files.read_json(path)
    except FileNotFoundError:
        raise ZooError(f"{path}: missing") from None
    except (OSError, ValueError) as error:
        # What the file holds wrong, as the JSON parser or the decoder says it.
        detail = error.__context__ if isinstance(error.__context__, ValueError) else \
            str(error).removeprefix(f"{path}: ")
        raise ZooError(f"{path}: unreadable ({detail})") from None


def number(metadata, key, where, scale=1.0):
    """A number of an entry's metadata, checked, as `info` reports it.

    Args:
        metadata: the entry's metadata, a dict.
        key: the number's key.
        where: what to name in the error: the registry and its record.
        scale: multiplies the number (100: a fraction in percent).

    Returns:
        `metadata[key]` times `scale`, a float; None when `metadata` has no `key`.

    Raises:
        ZooError: the value is not a finite number.

    Examples:
        >>> number({"test_accuracy": 0.5}, "test_accuracy", "registry.json: entry 'x'", 100)
        50.0
    """
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
    (`kasm_keras.layers.int8_storage`, which `KernelCell` reads). The file is written anew and
    replaces the old one, since HDF5 never returns the space of deleted arrays.

    Args:
        path: the `.weights.h5` file, rewritten in place.
        embedding_layer: the name of the embedding layer whose table is split into float16
            and int8 rows, or None to store every array as float16.
        exact_rows: how many of the table's first rows stay float16.
        int8_keys: where the int8 rows and their scales are stored beside the table.
        int8_matrices_under: the layers whose matrices are stored as int8, or None.

    Examples:
        >>> from kasm_keras import zoo
        >>> classifier = zoo.load("ag_news/rkm_cifg_1gram")
        >>> classifier.backbone.save_weights("model.weights.h5")
        >>> zoo.compact_weights("model.weights.h5")
    """
    with atomic_path(path) as compact:
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
                elif int8_matrices_under and value.ndim == 2 and \
                        f"/{parent}".endswith(f"/{int8_matrices_under}/vars"):
                    target[key], target[key + int8_storage.SCALE_SUFFIX] = \
                        int8_storage.quantize(value)
                else:
                    target[key] = value.astype(np.float16)
                target[key].attrs.update(item.attrs)

            target.attrs.update(source.attrs)
            source.visititems(copy)


def write_metadata(directory, metadata, task=None):
    """Adds our metadata to the metadata.json keras-hub wrote in a saved preset.

    With `task`, its "tasks" names the task's own class: keras-hub records the first base
    class of every task of the backbone, which for these families is a mixin.

    Args:
        directory: the preset directory keras-hub saved.
        metadata: what to write under "kasm_keras" (replacing what is there).
        task: the task saved, or None to leave "tasks" as keras-hub wrote it.

    Examples:
        >>> from kasm_keras import zoo
        >>> classifier = zoo.load("ag_news/rkm_cifg_1gram")
        >>> classifier.save_to_preset("my_preset")
        >>> write_metadata("my_preset", {"dataset": "ag_news"}, classifier)
        >>> read_json("my_preset/metadata.json")["kasm_keras"]
        {'dataset': 'ag_news'}
    """
    path = os.path.join(directory, "metadata.json")
    written = read_json(path)
    if task is not None:
        written["tasks"] = [type(task).__name__]
    write_text(path, json.dumps({**written, "kasm_keras": metadata}, indent=2) + "\n")


def _entry_bytes(directory, files):
    """The size of `files` in `directory` together."""
    return sum(os.path.getsize(os.path.join(directory, f)) for f in files)


def digests(directory, files, name, max_bytes):
    """The sha256 digests of an entry's files, for its registry record.

    Args:
        directory: the entry's folder.
        files: the file names, relative to `directory`.
        name: the entry's name, for the error.
        max_bytes: the most bytes the files may have together.

    Returns:
        {file: sha256}.

    Raises:
        ZooError: the files together are over `max_bytes`.

    Examples:
        >>> from kasm_keras import zoo
        >>> directory = zoo.entry_dir("ag_news/rkm_cifg_1gram")
        >>> files = digests(directory, zoo.PRESET_FILES, "ag_news/rkm_cifg_1gram",
        ...                 zoo.MAX_ENTRY_BYTES)
        >>> files == zoo.registry()["ag_news/rkm_cifg_1gram"]["files"]
        True
    """
    size = _entry_bytes(directory, files)
    if size > max_bytes:
        raise ZooError(f"{name}: {size:,} bytes, over the zoo's {max_bytes:,} per entry")
    return {f: file_digest(os.path.join(directory, f)) for f in files}


def task_from_preset(cls, directory, sources, what):
    """A task made from a preset's configs, without its weights, its failures named.

    Args:
        cls: the task's class; its `from_preset(directory, load_weights=False)` is called.
        directory: the preset directory.
        sources: the files it reads, for the error ("task.json and config.json").
        what: what they should make, for the error ("text classifier").

    Returns:
        An instance of `cls`, its weights not loaded.

    Raises:
        ZooError: the configs do not make an instance of `cls`.

    Examples:
        >>> import kasm_keras
        >>> from kasm_keras import zoo
        >>> directory = zoo.entry_dir("ag_news/rkm_cifg_1gram")
        >>> task = task_from_preset(kasm_keras.KernelTextClassifier, directory,
        ...                         "task.json and config.json", "text classifier")
        >>> type(task).__name__
        'KernelTextClassifier'
    """
    try:
        task = cls.from_preset(directory, load_weights=False)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ZooError(f"{directory}: {sources} do not make a {what} ({error})") from error
    if not isinstance(task, cls):
        raise ZooError(f"{directory}/task.json: a {type(task).__name__}, not a {what}")
    return task


def _every_weight(load):
    """`load()` (a Keras weights load), with Keras' warning "Skipping nested container ...
    Affected layers will retain their freshly-initialized weights" raised as an error: a file
    that leaves layers untrained does not fit."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Skipping nested container", category=UserWarning)
        return load()


def load_weights(directory, loads):
    """Loads a preset's weight files, each by its own function, every weight checked.

    Keras' warning that a file leaves layers with fresh weights is an error here: a file that
    leaves a layer untrained does not fit.

    Args:
        directory: the preset directory.
        loads: (file name, load function of the file's path) pairs.

    Raises:
        ZooError: naming the file whose weights do not fit the configs, or leave a layer
            without its weights.

    Examples:
        >>> import kasm_keras
        >>> from kasm_keras import zoo
        >>> directory = zoo.entry_dir("ag_news/rkm_cifg_1gram")
        >>> backbone = kasm_keras.KernelTextClassifier.from_preset(directory).backbone
        >>> load_weights(directory, [("model.weights.h5", backbone.load_weights)])
    """
    for file_name, load in loads:
        path = os.path.join(directory, file_name)
        try:
            _every_weight(lambda: load(path))
        except Exception as error:  # h5py and Keras raise many types for arrays that do not fit
            raise ZooError(f"{path} does not fit the model of task.json and config.json "
                           f"({type(error).__name__}: {error})") from error


def load_task_weights(task, directory):
    """Loads a classifier preset's `task.weights.h5` and `model.weights.h5` into its task.

    Args:
        task: a classifier of either family, made from the preset's configs
            (`task_from_preset`).
        directory: the preset directory.

    Returns:
        `task`, its weights loaded.

    Raises:
        ZooError: as `load_weights`.

    Examples:
        >>> import kasm_keras
        >>> from kasm_keras import zoo
        >>> directory = zoo.entry_dir("ag_news/rkm_cifg_1gram")
        >>> task = kasm_keras.KernelTextClassifier.from_preset(directory, load_weights=False)
        >>> load_task_weights(task, directory).classify(["Oil prices rose as markets opened"])
        ['Business']
    """
    load_weights(directory, (("task.weights.h5", task.load_task_weights),
                             ("model.weights.h5", task.backbone.load_weights)))
    return task


def check_metadata(directory, fields):
    """Checks what an entry's configs say against its metadata.json.

    Files that match their digests can still disagree with each other.

    Args:
        directory: the entry's folder; nothing is checked when it has no metadata.json.
        fields: (key, value) pairs: what the configs say of each metadata key.

    Raises:
        ZooError: the metadata gives a key another value.

    Examples:
        >>> from kasm_keras import zoo
        >>> directory = zoo.entry_dir("ag_news/rkm_cifg_1gram")
        >>> check_metadata(directory, [("classes", ["World", "Sports", "Business",
        ...                                         "Sci/Tech"])])
    """
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
    """Checks that a preset's vocabulary has as many tokens as its embedding has rows.

    Args:
        task: the task made from the preset, with its preprocessor.
        directory: the preset directory, for the error.

    Raises:
        ZooError: the two sizes differ.

    Examples:
        >>> import kasm_keras
        >>> from kasm_keras import zoo
        >>> directory = zoo.entry_dir("ag_news/rkm_cifg_1gram")
        >>> check_vocabulary(kasm_keras.KernelTextClassifier.from_preset(directory), directory)
    """
    tokenizer = task.preprocessor.tokenizer
    if tokenizer.vocabulary_size() != task.backbone.vocabulary_size:
        raise ZooError(f"{directory}/assets/tokenizer/vocabulary.txt has "
                       f"{tokenizer.vocabulary_size()} tokens, config.json's embedding "
                       f"{task.backbone.vocabulary_size} rows")


def stage_classifier(family, model, name, folder, metadata, evaluate, reference, max_change,
                     change):
    """Writes a classifier's entry files and checks them: a classifier family's `stage`.

    The entry is saved (`family.save_entry`), loaded back, and its accuracy measured, so that
    what is published is what was measured.

    Args:
        family: the classifier's family.
        model: the trained classifier.
        name: the entry's name.
        folder: the scratch folder the files are written into.
        metadata: the entry's metadata.
        evaluate: a function of the stored model giving its test accuracy, or None.
        reference: the trained model's test accuracy, or None.
        max_change: the most the stored entry's accuracy may differ from `reference`.
        change: what the error says of why it moved.

    Returns:
        ({file: sha256}, the registry's metadata summary), as `install_entry` takes them.

    Raises:
        ZooError: the stored entry's accuracy moved more than `max_change`, or its files are
            too large.

    Examples:
        >>> files, summary = stage_classifier(family, model, "ag_news/rkm_cifg_1gram",
        ...                                   "scratch", metadata, evaluate, 0.9158, 0.002,
        ...                                   "float16 storage moved it")
    """
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
