"""Where an entry's files come from and what is loaded from them: a local zoo folder when there
is one (the `zoo_dir` argument, `$KASM_KERAS_ZOO_DIR`, or the checkout's `zoo/`), else the Keras
cache, filled by downloads (each written atomically, checked against its digest, within a
deadline and capped at the entry's largest size). Every file is verified before anything is
deserialised, and deserialisation runs in Keras' safe mode: loading runs nothing from an entry.
Its family (`kasm_keras.models.task_family.of_entry`) says which files an entry has and how it
is loaded and summarised."""

import contextlib
import os

from kasm_keras.models import task_family
from kasm_keras.models.entry_storage import read_json
from kasm_keras.models.task_family import ZooError
from kasm_keras.utils.files import file_digest
from kasm_keras.utils.download import DownloadError, fetch, relative_path_problem
from kasm_keras.zoo import naming, records, runs
from kasm_keras.zoo.records import inside, local_dirs, registry, registry_path

URL_VARIABLE = "KASM_KERAS_ZOO_URL"  # a mirror: files are fetched from <it>/<entry path>/<file>
# Preset handles keras-hub loads itself (a local preset directory is one too).
HANDLE_SCHEMES = ("hf://", "kaggle://", "gs://", "modelscope://")


def info(name, zoo_dir=None):
    """An entry's metadata, from the registry (nothing is downloaded).

    A classifier's holds:

    - `name`, `dataset`, `variant`, `ngram`, `classes`;
    - `test_accuracy`: in percent, measured from the entry's stored files when it was published
      (the registry and metadata.json hold it as a fraction); `paper_accuracy` and
      `pytorch_accuracy`: the cell of the paper's Table 2 and of the PyTorch reproduction's, in
      percent (None where they report none);
    - `training_documents`: the rows of the dataset's training split that training read (its
      training and validation splits together); `word_vectors`: the pretrained vectors and
      their coverage;
    - `table2_parameters`: the recurrent layer's weights as Table 2 counts them (no biases) at
      this entry's sizes, `paper_parameters`: the same at the paper's sizes (the number Table 2
      prints), `total_parameters`: every weight of the model, embedding and classifier
      included; `parameters`: the run's whole count;
    - `command`: how it was trained; `seed`; `versions`: the libraries it was trained with;
      `storage`: how its weights are stored.

    A language model's (`task` "language_model") are listed in its family's `info`
    (`kasm_keras.models.kernel_lm.family`): its measured perplexities beside Table 3's,
    parameters, state sizes, epochs, training minutes and recipe; a time-series classifier's
    (`task` "time_series") in `kasm_keras.models.time_series_classifier.family`.

    Args:
        name: a zoo name, e.g. "ag_news/rkm_cifg_1gram".
        zoo_dir: a local zoo directory (with its own `registry.json`, or a copy of the
            package's entries); None for `$KASM_KERAS_ZOO_DIR`, the checkout's `zoo/`, and
            the package's registry.

    Returns:
        A dict, as listed above.

    Raises:
        ZooError: the zoo has no entry `name`; for a name the zoo knows, the message says
            how to make it.

    Examples:
        >>> from kasm_keras import zoo
        >>> entry = zoo.info("ag_news/rkm_cifg_1gram")
        >>> entry["variant"], entry["ngram"], entry["paper_accuracy"]
        ('rkm_cifg', 1, 92.29)
    """
    entries = registry(zoo_dir)
    if name not in entries:
        raise naming.no_entry(name, entries)
    where = f"{registry_path(zoo_dir)}: entry {name!r}"
    family = task_family.of_entry(entries[name])
    return {"name": name, **family.info(dict(entries[name].get("metadata", {})), where)}


def cache_root(cache_dir=None):
    """The folder downloaded entries are kept in.

    Args:
        cache_dir: a folder of one's own, or None for the Keras cache.

    Returns:
        `cache_dir`, else `kasm_keras/zoo` in the Keras cache (`$KERAS_HOME`, else
            ~/.keras), as `keras.utils.get_file` uses it.

    Examples:
        >>> from kasm_keras import zoo
        >>> zoo.cache_root("my_cache")
        'my_cache'
    """
    if cache_dir:
        return cache_dir
    return os.path.join(os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras")),
                        "kasm_keras", "zoo")


def _verify(directory, files, where):
    for file_name, digest in files.items():
        path = inside(directory, file_name, where, "files")
        if not os.path.isfile(path):
            raise ZooError(f"{path}: missing; the zoo entry is incomplete")
        actual = file_digest(path)
        if actual != digest:
            raise ZooError(f"{path}: sha256 {actual} differs from the registry's {digest}; the "
                           "file is corrupt or was changed")


def preset_files(entry):
    """The files a registry record must list: its task's preset files.

    Args:
        entry: a record of `registry`.

    Returns:
        The file names, a tuple.

    Examples:
        >>> from kasm_keras import zoo
        >>> "task.weights.h5" in zoo.preset_files(zoo.registry()["ptb/rkm_lstm"])
        False
    """
    return task_family.of_entry(entry).preset_files


def max_entry_bytes(entry):
    """The most bytes an entry of a registry record's task may have.

    It caps each of the entry's downloads, so a wrong or hostile server cannot fill the disk.

    Args:
        entry: a record of `registry`.

    Returns:
        The number of bytes, an int.

    Examples:
        >>> from kasm_keras import zoo
        >>> zoo.max_entry_bytes(zoo.registry()["ag_news/rkm_cifg_1gram"]) == zoo.MAX_ENTRY_BYTES
        True
    """
    return task_family.of_entry(entry).max_entry_bytes


def entry_dir(name, zoo_dir=None, cache_dir=None):
    """An entry's local directory, its files verified against the registry's digests.

    The entry is read from a local zoo when one holds it; otherwise what is missing is
    downloaded into the cache, each file checked against its sha256 digest.

    Args:
        name: a zoo name, e.g. "ag_news/rkm_cifg_1gram".
        zoo_dir: a local zoo directory (with its own `registry.json`, or a copy of the
            package's entries); None for `$KASM_KERAS_ZOO_DIR`, the checkout's `zoo/`, and
            the package's registry.
        cache_dir: where downloaded entries are kept; None for the Keras cache
            (`$KERAS_HOME`, else ~/.keras).

    Returns:
        The directory, a keras-hub preset directory.

    Raises:
        ZooError: no entry `name`, a file missing or changed, or a failed download.

    Examples:
        >>> from kasm_keras import zoo
        >>> directory = zoo.entry_dir("ag_news/rkm_cifg_1gram")  # .../ag_news/rkm_cifg_1gram
    """
    entries = registry(zoo_dir)
    if name not in entries:
        raise naming.no_entry(name, entries)
    entry = entries[name]
    expected = preset_files(entry)
    if sorted(entry["files"]) != sorted(expected):
        raise ZooError(f"zoo entry {name!r} lists {sorted(entry['files'])}, expected "
                       f"{sorted(expected)}")
    where = f"{registry_path(zoo_dir)}: entry {name!r}"
    for local in local_dirs(zoo_dir):
        directory = inside(local, entry["path"], where, "path")
        if os.path.isdir(directory):
            _verify(directory, entry["files"], where)
            _check_preset_paths(directory, entry["files"])
            return directory
    directory = inside(cache_root(cache_dir), entry["path"], where, "path")
    base = entry.get("url")
    if os.environ.get(URL_VARIABLE):
        base = f"{os.environ[URL_VARIABLE].rstrip('/')}/{entry['path']}"
    local_copy = (f"to use a local copy, pass zoo_dir= (a tool's --zoo_dir) or set "
                  f"${records.ZOO_DIR_VARIABLE} to a folder holding {entry['path']}/; to fetch "
                  f"from a mirror, set ${URL_VARIABLE}")
    if not base:
        raise ZooError(f"zoo entry {name!r} is in no local zoo "
                       f"({', '.join(local_dirs(zoo_dir)) or 'none'}) and has no url to fetch it "
                       f"from; {local_copy}")
    paths = {f: inside(directory, f, where, "files") for f in entry["files"]}
    made = {d for path in paths.values() for d in missing_folders(os.path.dirname(path))}
    try:
        try:
            for file_name, digest in entry["files"].items():
                fetch(f"{base.rstrip('/')}/{file_name}", paths[file_name], f"sha256:{digest}",
                      max_bytes=max_entry_bytes(entry))
        except DownloadError as error:
            raise ZooError(f"zoo entry {name!r}: its files are in no local zoo "
                           f"({', '.join(local_dirs(zoo_dir)) or 'none'}) nor in the cache "
                           f"{directory}, and downloading them failed ({error}); "
                           f"{local_copy}") from None
    except BaseException:  # a full disk, a stopping signal: no empty folder stays either
        remove_empty(made)
        raise
    _verify(directory, entry["files"], where)
    _check_preset_paths(directory, entry["files"])
    return directory


def _check_preset_paths(directory, files):
    """A verified preset's configs name no file outside it: keras-hub joins a config's
    `config_file` to the folder a model is saved to, and a tokenizer's `vocabulary` given as a
    string is a file it reads (ours is the asset assets/tokenizer/vocabulary.txt, the config's
    null). ZooError naming the config file and the field otherwise."""
    for file_name in files:
        if not file_name.endswith(".json") or file_name == "metadata.json":
            continue
        path = os.path.join(directory, file_name)
        for key, value in _json_items(read_json(path)):
            if key == "config_file" and (relative_path_problem(value) or "/" in value):
                raise ZooError(f"{path}: field \"config_file\" {value!r} is not a plain file "
                               "name; refused: a preset's files stay inside its folder")
            if key == "vocabulary" and value is not None:
                raise ZooError(f"{path}: field \"vocabulary\" is {value!r}; refused: a "
                               "preset's vocabulary is its asset assets/tokenizer/vocabulary.txt")


def _json_items(value):
    """Every (key, value) pair of a JSON value, nested ones included."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from _json_items(item)
    elif isinstance(value, list):
        for item in value:
            yield from _json_items(item)


def missing_folders(folder):
    """The folders that making `folder` would create, so a failed write can remove them.

    Args:
        folder: a folder path.

    Returns:
        `folder` and those of its parents that do not exist, absolute, deepest first; empty
            when `folder` exists.

    Examples:
        >>> from kasm_keras.zoo import store
        >>> store.missing_folders("/tmp/new_zoo/ag_news")
        ['/tmp/new_zoo/ag_news', '/tmp/new_zoo']
    """
    missing = []
    folder = os.path.abspath(folder)
    while not os.path.lexists(folder) and os.path.dirname(folder) != folder:
        missing.append(folder)
        folder = os.path.dirname(folder)
    return missing


def remove_empty(folders):
    """Removes those of `folders` that are empty, deepest first: undoes `missing_folders`.

    Args:
        folders: the folders a failed write made (`missing_folders`); those not empty, or
            gone, are left alone.

    Examples:
        >>> import os
        >>> from kasm_keras.zoo import store
        >>> made = store.missing_folders("/tmp/new_zoo/ag_news")
        >>> os.makedirs("/tmp/new_zoo/ag_news")
        >>> store.remove_empty(made)
        >>> os.path.exists("/tmp/new_zoo")
        False
    """
    for folder in sorted(folders, key=len, reverse=True):
        with contextlib.suppress(OSError):
            os.rmdir(folder)


def _load_entry(name, directory, zoo_dir=None):
    """The model of a verified entry directory, by its registry record's family."""
    return task_family.of_entry(registry(zoo_dir)[name]).load_preset(directory)


def _is_preset_handle(name):
    """Whether `name` is a keras-hub preset handle (a local preset directory, `hf://...`,
    `kaggle://...`) rather than a zoo name."""
    return name.startswith(HANDLE_SCHEMES) or os.path.isdir(name)


def _load_handle(handle):
    """The task of a keras-hub preset (a directory, `hf://`, `kaggle://`) that holds one of
    the families' models, loaded by keras-hub (the class its task.json names)."""
    from keras_hub.src.utils import preset_utils

    try:
        cls = preset_utils.check_config_class(
            preset_utils.load_json(handle, preset_utils.TASK_CONFIG_FILE))
        model = cls.from_preset(handle)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ZooError(f"{handle}: not a loadable keras-hub preset of a kasm_keras model "
                       f"({type(error).__name__}: {error})") from error
    if task_family.of_model(model) is None:
        raise ZooError(f"{handle}: a {type(model).__name__}, not a kasm_keras model")
    return model


def load(name, zoo_dir=None, cache_dir=None):
    """A zoo entry as a keras-hub task, its files verified before anything is deserialised.

    Args:
        name: a zoo name (see `names`), or a keras-hub preset handle (a local preset
            directory, `hf://...`, `kaggle://...`), which keras-hub loads.
        zoo_dir: a local zoo directory (with its own `registry.json`, or a copy of the
            package's entries); None for `$KASM_KERAS_ZOO_DIR`, the checkout's `zoo/`, and
            the package's registry.
        cache_dir: where downloaded entries are kept; None for the Keras cache
            (`$KERAS_HOME`, else ~/.keras).

    Returns:
        A `KernelTextClassifier` (raw text in; `classify` gives class names) for Table 2's
            names, a `KernelCausalLM` with its preprocessor (`generate`, `score`, `perplexity`)
            for Table 3's, a `TimeSeriesClassifier` (`classify` of a list of
            `[length, channels]` arrays) for the time-series names.

    Raises:
        ZooError: no entry `name` (the message says how to make it), or a file missing or
            changed.

    Examples:
        >>> from kasm_keras import zoo
        >>> classifier = zoo.load("ag_news/rkm_cifg_1gram")
        >>> classifier.classify(["Oil prices rose as markets opened"])
        ['Business']
    """
    if name not in registry(zoo_dir) and task_family.of_name(name) is None and \
            _is_preset_handle(name):
        return _load_handle(name)
    model = _load_entry(name, entry_dir(name, zoo_dir, cache_dir), zoo_dir)
    model.zoo_name = name
    return model


def load_model(model_dir=None, zoo_name=None, zoo_dir=None):
    """A trained model of any family, from a tools/train.py run or a zoo entry, as the tools
    load it.

    Args:
        model_dir: a finished tools/train.py run's directory (its `best.keras` is loaded).
        zoo_name: a zoo name. Give exactly one of `model_dir` and `zoo_name`.
        zoo_dir: a local zoo directory (with its own `registry.json`, or a copy of the
            package's entries); None for `$KASM_KERAS_ZOO_DIR`, the checkout's `zoo/`, and
            the package's registry.

    Returns:
        The model, with `.info` telling how it was trained: the run's settings, or the
            entry's metadata (whose "training" holds the run's settings); a zoo entry's also
            has `.zoo_name`.

    Raises:
        ZooError: neither or both given, a run that is not finished, or as `load`.

    Examples:
        >>> from kasm_keras import zoo
        >>> lm = zoo.load_model(zoo_name="ptb/rkm_lstm")
        >>> type(lm).__name__
        'KernelCausalLM'
    """
    if (model_dir is None) == (zoo_name is None):
        raise ZooError("give exactly one of --model_dir and --zoo")
    if model_dir is not None:
        return runs.load_run(model_dir)
    directory = entry_dir(zoo_name, zoo_dir)
    model = _load_entry(zoo_name, directory, zoo_dir)
    model.zoo_name = zoo_name
    model.info = read_json(os.path.join(directory, "metadata.json")).get("kasm_keras", {})
    return model
