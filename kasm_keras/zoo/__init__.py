"""Pretrained models in one line: `kasm_keras.zoo.load("ag_news/rkm_cifg_1gram")` (a document
classifier of the paper's Table 2), `kasm_keras.zoo.load("ptb/rkm_lstm")` (a language model of its
Table 3) or `kasm_keras.zoo.load("japanese_vowels/rkm_lstm_3gram")` (a multichannel time-series
classifier, its Table 4 task on public data).

Every entry is a keras-hub preset directory (`config.json`, `task.json`, `preprocessor.json`,
`tokenizer.json`, `assets/tokenizer/vocabulary.txt`, `model.weights.h5`, `metadata.json`, and for
a classifier `task.weights.h5`: a language model's softmax is its embedding, so its task has no
weights of its own). The registry, `registry.json` beside this file, ships inside the package: each
entry's files with their sha256 digests and the address they can be fetched from. Files are read
from a local zoo directory when there is one (the `zoo_dir` argument, `$KASM_KERAS_ZOO_DIR`, or
the checkout's `zoo/`); otherwise they are downloaded into the Keras cache, each written
atomically and checked against its digest (each download within a deadline and capped at the
entry's largest size). Every path a registry gives (an entry's path, its file names) is joined
through `inside`: it stays inside its folder, symbolic links resolved, or the load is refused.
Every file is verified before anything is deserialised, and deserialisation runs in Keras' safe
mode: loading runs nothing from an entry. Publishing (`install_entry`) writes the new entry and
registry beside the old ones and switches both in only once both are whole.

To keep entries small, weights are stored as float16, and the embedding's rarer rows as int8
with one float16 scale each (`compact_weights`; a language model keeps every embedding row and
its cells' matrices as int8); loading restores float32 variables.
Publishing re-measures the stored entry on the test split and refuses it when it moved by more
than `MAX_ACCURACY_CHANGE` (a classifier's accuracy) or `MAX_PERPLEXITY_CHANGE` (a language
model's perplexity, relative) from the trained model's.

Names: Table 2's cells, `<dataset>/<variant>_<n>gram` for its four datasets, the seven variants
of `kasm_keras.VARIANTS` and n in {1, 3} (`classification_names`), and Table 3's,
`<corpus>/<variant>` for PTB and WikiText-2 and its four variants (`language_model_names`);
`known_names` lists both. `names` lists the published ones, `unpublished_names` the rest; asking
for an unpublished one (`load`, `info`, `entry_dir`, `from_preset`) raises a `ZooError` with the
two commands that make it from the dataset's official archive. The language models' code is in
`kasm_keras.zoo.language_models`, the time-series classifiers' (`<dataset>/<variant>_<n>gram`
of `time_series_names`, stored as trained, without a tokenizer) in `kasm_keras.zoo.time_series`.

Accuracies: the files written when training and publishing (a run's metrics.json, an entry's
metadata.json, the registry) hold fractions, as Keras reports them; `info` gives every accuracy
in percent, as the paper does (`test_accuracy`, `paper_accuracy`, `pytorch_accuracy`).
"""

import contextlib
import json
import os
import re
import shutil
import tempfile

import h5py
import keras
import numpy as np

from kasm_keras.layers import int8_storage
from kasm_keras.utils.download import (
    DownloadError, fetch, is_http, join_inside, relative_path_problem)
from kasm_keras.utils.files import (
    DiskFullError, atomic_path, file_digest, preparing, seal_directory, temporary_folder,
    write_text, writing)

# An entry's task, recorded in its metadata ("task"); entries without one are classifiers.
CLASSIFICATION = "classification"
LANGUAGE_MODEL = "language_model"
TIME_SERIES = "time_series"
TASKS = (CLASSIFICATION, LANGUAGE_MODEL, TIME_SERIES)

REGISTRY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "registry.json")
CHECKOUT_ZOO = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "zoo")
ZOO_DIR_VARIABLE = "KASM_KERAS_ZOO_DIR"
URL_VARIABLE = "KASM_KERAS_ZOO_URL"  # a mirror: files are fetched from <it>/<entry path>/<file>
# Where published files are served: <DEFAULT_URL>/<entry path>/<file>; the registry records it.
DEFAULT_URL = "https://github.com/kasm-keras/kasm-keras/releases/download/zoo-v1"
NAME = re.compile(r"^[a-z0-9_]+/[a-z0-9_]+$")
MAX_ACCURACY_CHANGE = 0.0005  # 0.05 points
MAX_ENTRY_BYTES = 3_500_000  # a classifier; 28 of them must stay within 80 MB together (a test)
# Embedding rows stored in float16; int8 for the rarer rest. Measured on ag_news/rkm_lstm_1gram's
# test split: int8 for every row changed 8 of 7,600 predictions (-0.05 points), int8 past the
# first 4,096 rows changed 2 (+0.00).
EXACT_EMBEDDING_ROWS = 4096
# Table 2's datasets; with the variants and n-gram widths they make every name the zoo knows.
DATASETS = ("ag_news", "dbpedia", "yahoo", "yelp")
NGRAMS = (1, 3)
# Datasets whose data was not available where the zoo's entries were trained (only subsets of
# AG News and DBpedia were): their entries wait for someone with the official archive.
WITHOUT_DATA = ("yahoo", "yelp")
PRESET_FILES = ("config.json", "metadata.json", "model.weights.h5", "task.json",
                "task.weights.h5", "preprocessor.json", "tokenizer.json",
                "assets/tokenizer/vocabulary.txt")
# A language model's preset: its task (the tied softmax) has no weights beyond the backbone's.
LM_PRESET_FILES = tuple(f for f in PRESET_FILES if f != "task.weights.h5")
# Table 3's corpora whose training split was not available where the zoo's entries were trained.
LM_WITHOUT_DATA = ("wikitext2",)
# The tools/train.py recipe (`kasm_keras.training.language_model.RECIPES`) the zoo's language
# models are trained with: a 2-layer model a 2-core CPU trains, not the paper's 24M parameters.
LM_RECIPE = "cpu"
# Publishing a language model: the most the stored entry's test perplexity may differ from the
# trained model's, relative (0.5%).
MAX_PERPLEXITY_CHANGE = 0.005
# A language model's entry: the cpu recipe on PTB (10,000 words, 400 + 650 + 400 wide) is 8.4M
# weights, 17 MB in float16 and 8.5 MB with its embedding and recurrent kernels as int8; on
# WikiText-2 (33,278 words) it would be 17.8 MB.
MAX_LM_ENTRY_BYTES = 20_000_000


class ZooError(ValueError):
    pass


def registry_path(zoo_dir=None):
    """An explicit zoo directory with its own registry (a private zoo, a test) overrides the
    package's."""
    if zoo_dir and not os.path.isdir(zoo_dir):
        raise ZooError(f"{zoo_dir}: no such zoo directory")
    if zoo_dir and os.path.exists(os.path.join(zoo_dir, "registry.json")):
        return os.path.join(zoo_dir, "registry.json")
    return REGISTRY


def registry(zoo_dir=None):
    """{name: {"path", "files": {file: sha256}, "url"?, "metadata"}} of every published entry."""
    path = registry_path(zoo_dir)
    try:
        with open(path, encoding="utf-8") as f:
            entries = json.load(f)
    except FileNotFoundError:
        raise ZooError(f"{path}: no zoo registry there") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ZooError(f"{path}: not a readable zoo registry ({error})") from None
    if not isinstance(entries, dict) or not all(isinstance(e, dict) and "files" in e
                                                for e in entries.values()):
        raise ZooError(f"{path}: not a zoo registry (expected an object of entries with files)")
    for name, entry in entries.items():
        _check_record(entry, f"{path}: entry {name!r}")
    return entries


def _check_record(entry, where):
    """A registry record's paths are plain relative paths (`relative_path_problem`) and its url
    an http(s) address; ZooError naming the registry, the entry and the field otherwise."""
    problem = relative_path_problem(entry.get("path"))
    if problem:
        raise ZooError(f"{where}: field \"path\" {entry.get('path')!r} {problem}; refused: an "
                       "entry's files stay inside its zoo folder")
    if not NAME.fullmatch(entry["path"]):
        raise ZooError(f"{where}: field \"path\" {entry['path']!r} is not an entry's folder "
                       "(<dataset>/<name>, as publishing writes it); refused: removing it "
                       "would delete other entries")
    if not isinstance(entry["files"], dict):
        raise ZooError(f"{where}: field \"files\" is not an object of file names and digests")
    for file_name in entry["files"]:
        problem = relative_path_problem(file_name)
        if problem:
            raise ZooError(f"{where}: field \"files\" names {file_name!r}, which {problem}; "
                           "refused: an entry's files stay inside its folder")
    if "url" in entry and not is_http(entry["url"]):
        raise ZooError(f"{where}: field \"url\" {entry['url']!r} is not an http:// or https:// "
                       "address")


def inside(folder, relative, where, field):
    """`folder`/`relative` for a path read from a registry (an entry's path, a file name): a
    ZooError naming `where` (the registry and entry) and `field` unless it is strictly inside
    `folder`, symbolic links resolved (`kasm_keras.utils.download.join_inside`). Every join of
    such a path goes through here."""
    try:
        return join_inside(folder, relative)
    except ValueError as error:
        raise ZooError(f"{where}: field \"{field}\" {error}; refused: an entry's files stay "
                       "inside its zoo folder") from None


def entry_task(entry):
    """The task of a registry record: its metadata's "task", classification when it has none
    (every entry published before the language models)."""
    return entry.get("metadata", {}).get("task", CLASSIFICATION)


def names(zoo_dir=None, task=None):
    """The published entries' names; with `task` (one of `TASKS`), those of that task only."""
    if task is not None and task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    entries = registry(zoo_dir)
    return sorted(name for name, entry in entries.items()
                  if task is None or entry_task(entry) == task)


def entry_name(dataset, variant, ngram):
    return f"{dataset}/{variant}_{ngram}gram"


def classification_names():
    """Every name of Table 2's cells, published or not, in the table's order: dataset, n-gram
    width, variant."""
    from kasm_keras.layers.variants import VARIANTS

    return [entry_name(d, v, n) for d in DATASETS for n in NGRAMS for v in VARIANTS]


def language_model_names():
    """Every name of Table 3's cells, `<corpus>/<variant>`, published or not, in the table's
    order (`kasm_keras.paper.TABLE3_PERPLEXITY`)."""
    from kasm_keras import paper

    return [f"{corpus}/{variant}" for corpus, cells in paper.TABLE3_PERPLEXITY.items()
            for variant in cells]


def time_series_names():
    """Every time-series name the zoo knows, `<dataset>/<variant>_<n>gram`, published or not
    (`kasm_keras.zoo.time_series.names`)."""
    from kasm_keras.zoo import time_series

    return time_series.names()


def known_names():
    """Every name the zoo knows, published or not: Table 2's cells (`classification_names`),
    then Table 3's (`language_model_names`), then the time-series ones (`time_series_names`)."""
    return classification_names() + language_model_names() + time_series_names()


def unpublished_names(zoo_dir=None):
    """The names the zoo knows (`known_names`) that it has no entry for (yet), in that order."""
    published = set(names(zoo_dir))
    return [name for name in known_names() if name not in published]


def parse_name(name):
    """(dataset, variant, ngram) of a name of Table 2's cells (`classification_names`), else
    None."""
    return split_cell_name(name) if name in classification_names() else None


def split_cell_name(name):
    """(dataset, variant, ngram) of a `<dataset>/<variant>_<n>gram` name (not checked)."""
    dataset, rest = name.split("/")
    variant, ngram = rest.rsplit("_", 1)
    return dataset, variant, int(ngram[:-len("gram")])


def parse_language_model_name(name):
    """(corpus, variant) of a name of Table 3's cells (`language_model_names`), else None."""
    if name not in language_model_names():
        return None
    corpus, variant = name.split("/")
    return corpus, variant


def parse_time_series_name(name):
    """(dataset, variant, ngram) of a time-series name (`time_series_names`), else None."""
    from kasm_keras.zoo import time_series

    return time_series.parse_name(name)


def name_task(name):
    """The task of a name the zoo knows ("classification", "language_model" or "time_series"),
    else None."""
    if parse_name(name) is not None:
        return CLASSIFICATION
    if parse_language_model_name(name) is not None:
        return LANGUAGE_MODEL
    if parse_time_series_name(name) is not None:
        return TIME_SERIES
    return None


def make_commands(name):
    """The commands that train and publish entry `name` from its dataset's official archive
    (tools/train.py downloads it when given no --data_dir)."""
    run = f"runs/{name}"
    publish_command = f"python tools/zoo.py publish --model_dir={run} --name={name}"
    if parse_language_model_name(name) is not None:
        corpus, variant = parse_language_model_name(name)
        return [f"python tools/train.py --model={variant} --dataset={corpus} "
                f"--recipe={LM_RECIPE} --model_dir={run}", publish_command]
    dataset, variant, ngram = parse_name(name) or parse_time_series_name(name)
    return [f"python tools/train.py --model={variant} --dataset={dataset} --ngram={ngram} "
            f"--model_dir={run}", publish_command]


def _no_entry(name, entries):
    """The error for a name that has no entry: how to make it when it is one of Table 2's or
    Table 3's cells, the available names otherwise."""
    if name_task(name) is None:
        return ZooError(f"No zoo entry {name!r}; available: "
                        f"{', '.join(sorted(entries)) or 'none'}")
    dataset = name.split("/")[0]
    without_data = dataset in (WITHOUT_DATA if parse_name(name) else LM_WITHOUT_DATA)
    why = (f"the {dataset} data was not available where the zoo's entries were trained"
           if without_data else "it has not been trained and published yet")
    commands = " &&\n  ".join(make_commands(name))  # one shell line where errors are one line
    return ZooError(f"zoo entry {name!r} is not published: {why}. To make it from the official "
                    f"archive (tools/train.py downloads it; --data_dir=DIR reads a local copy):"
                    f"\n  {commands}")


def _percent(value, what):
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ZooError(f"{what}: unreadable metadata (test_accuracy {value!r} is not a number); "
                       "the registry is damaged") from None
    return 100.0 * number


def info(name, zoo_dir=None):
    """The entry's metadata as a dict, from the registry (nothing is downloaded):

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

    A language model's (`task` "language_model") are listed in
    `kasm_keras.zoo.language_models.info_fields`: its measured perplexities beside Table 3's,
    parameters, state sizes, epochs, training minutes and recipe; a time-series classifier's
    (`task` "time_series") in `kasm_keras.zoo.time_series.info_fields`.

    A name of Table 2 or 3 without an entry raises a ZooError that says how to make it.
    """
    entries = registry(zoo_dir)
    if name not in entries:
        raise _no_entry(name, entries)
    metadata = dict(entries[name].get("metadata", {}))
    where = f"{registry_path(zoo_dir)}: entry {name!r}"
    if entry_task(entries[name]) == LANGUAGE_MODEL:
        from kasm_keras.zoo import language_models

        return {"name": name, **language_models.info_fields(metadata, where)}
    if entry_task(entries[name]) == TIME_SERIES:
        from kasm_keras.zoo import time_series

        return {"name": name, **time_series.info_fields(metadata, where)}
    if "test_accuracy" in metadata:
        metadata["test_accuracy"] = _percent(metadata["test_accuracy"], where)
    parameters = metadata.get("parameters")
    if isinstance(parameters, dict):
        metadata.setdefault("table2_parameters", parameters.get("table2"))
        metadata.setdefault("total_parameters", parameters.get("total"))
        metadata.setdefault("paper_parameters", parameters.get("table2_at_paper_sizes"))
    cell = (metadata.get("dataset"), metadata.get("variant"), metadata.get("ngram"))
    if None not in cell:
        from kasm_keras import paper

        metadata.setdefault("paper_accuracy", paper.table2_accuracy(*cell))
        metadata.setdefault("pytorch_accuracy", paper.pytorch_table2_accuracy(*cell))
    return {"name": name, **metadata}


def _local_dirs(zoo_dir):
    if zoo_dir:
        return [zoo_dir]
    if os.environ.get(ZOO_DIR_VARIABLE):
        return [os.environ[ZOO_DIR_VARIABLE]]
    return [CHECKOUT_ZOO] if os.path.isdir(CHECKOUT_ZOO) else []


def cache_root(cache_dir=None):
    """The Keras cache (`$KERAS_HOME`, else ~/.keras), as `keras.utils.get_file` uses it."""
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
    """The files a registry record of its task must list."""
    task = entry_task(entry)
    if task not in TASKS:
        raise ZooError(f"a zoo entry's task is one of {TASKS}, not {task!r}; the registry is "
                       "damaged or newer than this kasm_keras")
    if task == TIME_SERIES:
        from kasm_keras.zoo import time_series

        return time_series.PRESET_FILES
    return LM_PRESET_FILES if task == LANGUAGE_MODEL else PRESET_FILES


def entry_dir(name, zoo_dir=None, cache_dir=None):
    """The entry's verified local directory, downloading what is missing into the cache."""
    entries = registry(zoo_dir)
    if name not in entries:
        raise _no_entry(name, entries)
    entry = entries[name]
    expected = preset_files(entry)
    if sorted(entry["files"]) != sorted(expected):
        raise ZooError(f"zoo entry {name!r} lists {sorted(entry['files'])}, expected "
                       f"{sorted(expected)}")
    where = f"{registry_path(zoo_dir)}: entry {name!r}"
    for local in _local_dirs(zoo_dir):
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
                  f"${ZOO_DIR_VARIABLE} to a folder holding {entry['path']}/; to fetch from a "
                  f"mirror, set ${URL_VARIABLE}")
    if not base:
        raise ZooError(f"zoo entry {name!r} is in no local zoo "
                       f"({', '.join(_local_dirs(zoo_dir)) or 'none'}) and has no url to fetch it "
                       f"from; {local_copy}")
    paths = {f: inside(directory, f, where, "files") for f in entry["files"]}
    made = {d for path in paths.values() for d in _missing_folders(os.path.dirname(path))}
    try:
        try:
            for file_name, digest in entry["files"].items():
                fetch(f"{base.rstrip('/')}/{file_name}", paths[file_name], f"sha256:{digest}",
                      max_bytes=max_entry_bytes(entry))
        except DownloadError as error:
            raise ZooError(f"zoo entry {name!r}: its files are in no local zoo "
                           f"({', '.join(_local_dirs(zoo_dir)) or 'none'}) nor in the cache "
                           f"{directory}, and downloading them failed ({error}); "
                           f"{local_copy}") from None
    except BaseException:  # a full disk, a stopping signal: no empty folder stays either
        _remove_empty(made)
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
        for key, value in _json_items(_read_json(path)):
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


def max_entry_bytes(entry):
    """The most bytes an entry of this registry record's task may have (a cap on each of its
    downloads)."""
    task = entry_task(entry)
    if task == TIME_SERIES:
        from kasm_keras.zoo import time_series

        return time_series.MAX_ENTRY_BYTES
    return MAX_LM_ENTRY_BYTES if task == LANGUAGE_MODEL else MAX_ENTRY_BYTES


def _missing_folders(folder):
    """`folder` and those of its parents that do not exist (yet)."""
    missing = []
    folder = os.path.abspath(folder)
    while not os.path.lexists(folder) and os.path.dirname(folder) != folder:
        missing.append(folder)
        folder = os.path.dirname(folder)
    return missing


def _remove_empty(folders):
    """Removes those of `folders` (made by a failed write) that are empty, deepest first."""
    for folder in sorted(folders, key=len, reverse=True):
        with contextlib.suppress(OSError):
            os.rmdir(folder)


def _check_consistent(classifier, directory):
    """Files that match their digests can still disagree with each other."""
    tokenizer = classifier.preprocessor.tokenizer
    if tokenizer.vocabulary_size() != classifier.backbone.vocabulary_size:
        raise ZooError(f"{directory}/assets/tokenizer/vocabulary.txt has "
                       f"{tokenizer.vocabulary_size()} tokens, config.json's embedding "
                       f"{classifier.backbone.vocabulary_size} rows")
    path = os.path.join(directory, "metadata.json")
    if os.path.exists(path):
        classes = _read_json(path).get("kasm_keras", {}).get("classes")
        if classes is not None and list(classes) != list(classifier.class_names or classes):
            raise ZooError(f"{path} names the classes {classes}, task.json "
                           f"{classifier.class_names}")


def load_preset(directory):
    """A `KernelTextClassifier` from a verified preset directory, in safe mode; every file that
    does not fit the others is named."""
    from kasm_keras.models.kernel_classifier import KernelTextClassifier

    classifier = task_from_preset(
        KernelTextClassifier, directory, "the configs (task.json, config.json, "
        "preprocessor.json, tokenizer.json) or the vocabulary", "kasm_keras classifier")
    _check_consistent(classifier, directory)
    return load_task_weights(classifier, directory)


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
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Skipping nested container", category=UserWarning)
        return load()


def load_task_weights(task, directory):
    """Loads a preset's `task.weights.h5` and `model.weights.h5` into `task` (a classifier of
    either family, made from the preset's configs); returns it. Weights that do not fit the
    configs, or leave a layer without its weights, are named."""
    for file_name, load_weights in (("task.weights.h5", task.load_task_weights),
                                    ("model.weights.h5", task.backbone.load_weights)):
        path = os.path.join(directory, file_name)
        try:
            every_weight(lambda: load_weights(path))
        except Exception as error:  # h5py and Keras raise many types for arrays that do not fit
            raise ZooError(f"{path} does not fit the model of task.json and config.json "
                           f"({type(error).__name__}: {error})") from error
    return task


def _load_entry(name, directory, zoo_dir=None):
    """The model of a verified entry directory, by the registry's task for `name`."""
    task = entry_task(registry(zoo_dir)[name])
    if task == LANGUAGE_MODEL:
        from kasm_keras.zoo import language_models

        return language_models.load_preset(directory)
    if task == TIME_SERIES:
        from kasm_keras.zoo import time_series

        return time_series.load_preset(directory)
    return load_preset(directory)


def load(name, zoo_dir=None, cache_dir=None):
    """The entry as a keras-hub task: a `KernelTextClassifier` (raw text in; `classify` gives
    class names) for Table 2's names, a `KernelCausalLM` with its preprocessor (`generate`,
    `score`, `perplexity`) for Table 3's, a `TimeSeriesClassifier` (`classify` of a list of
    `[length, channels]` arrays) for the time-series names."""
    model = _load_entry(name, entry_dir(name, zoo_dir, cache_dir), zoo_dir)
    model.zoo_name = name
    return model


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


def _entry_bytes(directory, files=PRESET_FILES):
    return sum(os.path.getsize(os.path.join(directory, f)) for f in files)


def save_entry(classifier, directory, metadata):
    """Writes `classifier` as a compact float32 preset with softmax outputs and `metadata` merged into
    keras-hub's metadata.json under "kasm_keras"."""
    if classifier.preprocessor is None:
        raise ZooError("a zoo entry needs the classifier's preprocessor (its vocabulary)")
    # float32 whatever the training precision: every entry is stored and loads the same way.
    stored = classifier.rebuilt(activation="softmax", dtype="float32")
    stored.save_to_preset(directory)
    for weights in ("model.weights.h5", "task.weights.h5"):
        compact_weights(os.path.join(directory, weights))
    _write_metadata(directory, metadata)


def _write_metadata(directory, metadata):
    """keras-hub's metadata.json with ours under "kasm_keras" (replaced if already there)."""
    path = os.path.join(directory, "metadata.json")
    write_text(path, json.dumps({**_read_json(path), "kasm_keras": metadata}, indent=2) + "\n")


def _registry_file(zoo_dir):
    """The registry that publishing into `zoo_dir` writes: the package's for the checkout's zoo
    (whose registry ships in the package), else the folder's own registry.json (made for a new
    private zoo)."""
    own = os.path.join(zoo_dir, "registry.json") if zoo_dir else REGISTRY
    if not zoo_dir or (not os.path.exists(own) and
                       os.path.abspath(zoo_dir) == os.path.abspath(CHECKOUT_ZOO)):
        return REGISTRY
    return own


def _entries_to_extend(zoo_dir):
    """The records a new entry of `zoo_dir` joins: those of the registry it writes
    (`_registry_file`). A folder without a registry of its own starts from none of the
    package's records but those whose files it holds (a local copy of package entries): a
    private zoo lists what it can load, not the package's entries without their files."""
    path = _registry_file(zoo_dir)
    if path == REGISTRY or os.path.exists(path):
        return registry(zoo_dir) if path != REGISTRY else registry()
    held = {}
    for name, entry in registry().items():
        try:
            folder = inside(zoo_dir, entry["path"], REGISTRY, "path")
        except ZooError:
            continue
        if all(os.path.isfile(os.path.join(folder, f)) for f in entry["files"]):
            held[name] = entry
    return held


def _write_registry(entries, zoo_dir):
    write_text(_registry_file(zoo_dir), json.dumps(entries, indent=2, sort_keys=True) + "\n")


def publish(classifier, name, metadata, evaluate=None, zoo_dir=None, url=DEFAULT_URL,
            reference_accuracy=None, storage=None):
    """Stores a trained `KernelTextClassifier` as entry `name` and records it in the registry.

    `evaluate(classifier) -> accuracy` measures the stored entry on the test split; its result
    is recorded as `test_accuracy`, and with `reference_accuracy` (the trained model's) the
    entry is refused when the compact storage moved it by more than MAX_ACCURACY_CHANGE.
    `storage` stores another family's classifier, as `kasm_keras.zoo.time_series.publish`
    does: {"save", "load", "files", "max_bytes", "max_change", "summary", "change"}.
    """
    if not NAME.match(name):
        raise ZooError(f"zoo entry names look like <dataset>/<variant>_<n>gram, got {name!r}")
    how = storage or {"save": save_entry, "load": load_preset, "files": PRESET_FILES,
                      "max_bytes": MAX_ENTRY_BYTES, "max_change": MAX_ACCURACY_CHANGE,
                      "summary": lambda m: _summary(name, m), "change": "compact storage moved it"}

    def stage(tmp):
        how["save"](classifier, tmp, metadata)
        stored = how["load"](tmp)
        measured = metadata
        if evaluate is not None:
            accuracy = float(evaluate(stored))
            if reference_accuracy is not None and \
                    abs(accuracy - reference_accuracy) > how["max_change"]:
                raise ZooError(f"{name}: the stored entry scores {accuracy:.4%} on test, the "
                               f"trained model {reference_accuracy:.4%}; {how['change']}")
            measured = {**metadata, "test_accuracy": accuracy}
            _write_metadata(tmp, measured)
        size = _entry_bytes(tmp, how["files"])
        if size > how["max_bytes"]:
            raise ZooError(f"{name}: {size:,} bytes, over the zoo's {how['max_bytes']:,} per entry")
        files = {f: file_digest(os.path.join(tmp, f)) for f in how["files"]}
        return files, how["summary"](measured)

    return install_entry(name, zoo_dir, stage, url)


def publishing_dir(zoo_dir=None):
    """The zoo folder a new entry is written into: `zoo_dir`, else $KASM_KERAS_ZOO_DIR, else
    this checkout's zoo/."""
    return zoo_dir or (_local_dirs(None) or [CHECKOUT_ZOO])[0]


def install_entry(name, zoo_dir, stage, url=DEFAULT_URL):
    """Writes entry `name` into the zoo folder `zoo_dir` (`publishing_dir`) and its record into
    the zoo's registry, so that an entry published before stays loadable, byte for byte, until
    the new one is whole; returns the entry's folder.

    `stage(folder)` writes the entry's files into `folder`, a scratch folder in the system's
    temporary folder (`$TMPDIR`), and returns (their digests, the registry's summary: what
    `info` reads): HDF5 writing onto a full disk can crash the process, so the zoo's disk is
    only written here, by plain copies into a folder beside the entry's place. Then, holding
    the zoo's lock (`files.preparing` on the zoo folder: two publishes at once each
    keep the other's record), the registry is read again, the new one written beside it and
    read back; only then are both switched in by renames, the folder first. A failure or a
    stopping signal (Ctrl-C) before the registry's rename puts the old folder back. A failure
    leaves nothing behind; a file that cannot be written is named (a full disk: a
    DiskFullError naming the file).

    One window remains: a process killed outright (SIGKILL, power loss) between the folder's
    renames and the registry's leaves the new folder, or no folder, where the registry still
    lists the old entry (the old one is in a temporary folder beside it, removed by the next
    publish); the entry then fails its digest check, or is missing from the zoo folder, until
    it is published again."""
    url = _checked_url(url)
    zoo_dir = publishing_dir(zoo_dir)
    final = inside(zoo_dir, name, f"publishing into {zoo_dir}", "name")
    parent = os.path.dirname(final)
    registry_file = _registry_file(zoo_dir)
    _entries_to_extend(zoo_dir)  # a damaged registry is refused before any work
    made = _missing_folders(parent)
    done = False
    try:
        with contextlib.ExitStack() as folders:
            try:
                scratch = folders.enter_context(temporary_folder(
                    os.path.join(tempfile.gettempdir(), "kasm_keras-entry")))
                files, summary = stage(scratch)
            except OSError as error:
                raise ZooError(f"{tempfile.gettempdir()}: could not write the new entry there "
                               f"({error}); the zoo is unchanged") from error
            try:
                os.makedirs(parent, exist_ok=True)
                staging = folders.enter_context(temporary_folder(final))
                old = folders.enter_context(temporary_folder(final))  # where the old one goes
            except OSError as error:
                raise ZooError(f"{final}: could not make the new entry's folder ({error}); the "
                               "zoo is unchanged") from error
            _copy_files(scratch, staging, final)
            with preparing(zoo_dir):  # read, change and write the registry alone
                entries = _entries_to_extend(zoo_dir)
                entries[name] = {"path": name, "files": files, "metadata": summary}
                if url:
                    entries[name]["url"] = f"{url.rstrip('/')}/{name}"
                text = json.dumps(entries, indent=2, sort_keys=True) + "\n"
                _switch(registry_file, text, staging, old, final)
        done = True
    finally:
        if not done:
            _remove_empty(made)
    return final


def _switch(registry_file, text, staging, old, final):
    """Renames the entry's folder `final` to `old` (an empty folder), `staging` to `final`, and
    the registry written aside (`text`) to `registry_file`. Any failure or stopping signal
    before the registry's rename puts the folders back as they were; where they are is read
    from the folders themselves, so a signal between a rename and the next line is no gap."""
    had_old = os.path.lexists(final)
    done = False
    try:
        try:
            with atomic_path(registry_file) as aside:
                _write_aside(aside, text, registry_file)
                if had_old:
                    os.rename(final, old)
                os.rename(staging, final)
        except DiskFullError:
            raise
        except OSError as error:
            if not (_holds(registry_file, text) and not os.path.lexists(staging)):
                raise ZooError(f"{registry_file}: could not switch in the new registry and "
                               f"entry {final} ({error}); the zoo is unchanged") from error
            # else the registry is in place and only a late fsync failed
        done = True
    finally:
        if not done and not _holds(registry_file, text):
            if not os.path.lexists(staging) and os.path.lexists(final):
                os.rename(final, staging)  # the new folder goes back to be removed
            if had_old and not os.path.lexists(final):
                os.rename(old, final)


def _copy_files(source, target, final):
    """Copies the files of folder `source` into folder `target` and fsyncs them; a full disk is
    a DiskFullError naming the file as `final`/<file> (where it is going), another failure a
    ZooError naming it."""
    for root, _, names in os.walk(source):
        relative = os.path.relpath(root, source)
        for file_name in names:
            name = os.path.normpath(os.path.join(relative, file_name))
            destination = os.path.join(target, name)
            try:
                with writing(os.path.join(final, name)):
                    os.makedirs(os.path.dirname(destination), exist_ok=True)
                    with open(os.path.join(root, file_name), "rb") as src, \
                            open(destination, "wb") as dst:
                        shutil.copyfileobj(src, dst)
            except DiskFullError:
                raise
            except OSError as error:
                raise ZooError(f"{os.path.join(final, name)}: could not write the new entry's "
                               f"file ({error.strerror or error}); the zoo is unchanged"
                               ) from error
    try:
        with writing(final):
            seal_directory(target, fsync_files=True)
    except DiskFullError:
        raise
    except OSError as error:
        raise ZooError(f"{final}: could not write the new entry ({error.strerror or error}); "
                       "the zoo is unchanged") from error


def _write_aside(path, text, registry_file):
    """Writes the new registry `text` to `path` (beside `registry_file`, in `atomic_path`'s
    block: a full disk is a DiskFullError naming `registry_file`) and reads it back."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    with open(path, encoding="utf-8") as f:
        if f.read() != text:
            raise ZooError(f"{registry_file}: the new registry did not read back as written; "
                           "the zoo is unchanged")


def _holds(path, text):
    """Whether the file at `path` holds `text`."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read() == text
    except (OSError, UnicodeDecodeError):
        return False


def _checked_url(url):
    """`url` (where an entry's files are served), refused unless an http(s) address."""
    if url and not is_http(url):
        raise ZooError(f"url {url!r}: an entry's files are served from an http:// or https:// "
                       "address")
    return url


def _summary(name, metadata):
    """What `info` returns without downloading the entry."""
    keys = ("dataset", "variant", "ngram", "classes", "test_accuracy", "paper_accuracy",
            "pytorch_accuracy", "training_documents", "word_vectors", "parameters", "command", "seed", "versions",
            "storage")
    return {k: metadata[k] for k in keys if k in metadata}


def remove(name, zoo_dir=None):
    """Deletes an entry's files and its registry record (holding the zoo's lock, as
    publishing does)."""
    entries = registry(zoo_dir)
    entry = entries.pop(name, None)
    if entry is None:
        raise ZooError(f"No zoo entry {name!r}")
    where = f"{registry_path(zoo_dir)}: entry {name!r}"
    folders = [inside(local, entry["path"], where, "path") for local in _local_dirs(zoo_dir)]
    with preparing(publishing_dir(zoo_dir)):
        entries = registry(zoo_dir)
        entries.pop(name, None)
        _write_registry(entries, zoo_dir)
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise ZooError(f"{path}: missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ZooError(f"{path}: unreadable ({error})") from None


def load_run(model_dir):
    """The best model of a finished tools/train.py run (a classifier or a language model), in
    safe mode; `.info` holds the run's settings (`config.json`)."""
    from kasm_keras.training.checkpoints import CheckpointError, verify_digest

    best = os.path.join(model_dir, "best.keras")
    config = _read_json(os.path.join(model_dir, "config.json"))
    if not os.path.exists(best):
        raise ZooError(f"{model_dir} is not a finished training run; missing: {best}")
    try:
        verify_digest(best)
    except CheckpointError as error:
        raise ZooError(str(error)) from error
    try:
        classifier = keras.models.load_model(best, safe_mode=True)
    except Exception as error:  # a corrupt zip or h5 surfaces as many exception types
        raise ZooError(f"{best}: not a loadable Keras model ({type(error).__name__}: {error})") from error
    classifier.info = config
    return classifier


def load_model(model_dir=None, zoo_name=None, zoo_dir=None):
    """A trained model (a classifier or a language model) from a tools/train.py run or a zoo
    entry (exactly one of them). `.info` holds how it was trained: the run's settings, or the
    entry's metadata (whose "training" holds the run's settings)."""
    if (model_dir is None) == (zoo_name is None):
        raise ZooError("give exactly one of --model_dir and --zoo")
    if model_dir is not None:
        return load_run(model_dir)
    directory = entry_dir(zoo_name, zoo_dir)
    model = _load_entry(zoo_name, directory, zoo_dir)
    model.zoo_name = zoo_name
    model.info = _read_json(os.path.join(directory, "metadata.json")).get("kasm_keras", {})
    return model


# The name the tools used before the zoo held language models; it loads either.
load_classifier = load_model


def split_seed(training):
    """The validation split's seed of a run's settings (runs before --split_seed used --seed)."""
    return training.get("split_seed", training.get("seed", 0))


def split_texts(dataset, split="test", data_dir=None, cache_dir=None, validation_fraction=0.05,
                seed=0):
    """(texts, labels) of a classification split, read from the canonical files."""
    from kasm_keras.data import datasets

    data = datasets.load_classification(dataset, data_dir, cache_dir=cache_dir,
                                        validation_fraction=validation_fraction, seed=seed)
    texts, labels = [], []
    for text, label in data.texts(split).as_numpy_iterator():
        texts.append(text)
        labels.append(label)
    return data.classes, texts, np.asarray(labels, np.int64)


def entry_metadata(metrics, training, classes):
    """An entry's metadata from the training run's metrics.json and settings (config.json)."""
    from kasm_keras import paper

    return {
        "dataset": metrics["dataset"], "variant": metrics["model"], "ngram": metrics["ngram"],
        "classes": list(classes),
        "paper_accuracy": paper.table2_accuracy(metrics["dataset"], metrics["model"],
                                                metrics["ngram"]),
        "pytorch_accuracy": paper.pytorch_table2_accuracy(metrics["dataset"], metrics["model"],
                                                          metrics["ngram"]),
        "training_documents": metrics["splits"]["train"] + metrics["splits"]["validation"],
        "word_vectors": metrics.get("word_vectors"),
        "parameters": metrics["parameters"],
        "command": metrics["command"], "seed": training.get("seed"),
        "versions": metrics["versions"],
        "storage": "float16 weights, int8 embedding rows with a float16 scale each",
        "metrics": metrics, "training": training,
    }


# The settings of config.json that make a run's recipe (with the validation split's seed):
# runs of one cell that differ only in their seed (and where they were written, how fast they
# ran) measure the seed noise.
RECIPE_KEYS = ("model", "dataset", "ngram", "ngram_padding", "units", "layer_norm", "learn_sigmas",
               "epochs", "max_steps", "batch_size", "learning_rate", "dropout", "max_length",
               "embeddings", "embedding_dim", "train_embeddings", "max_vocabulary", "min_count",
               "validation_fraction", "eval_every")


def run_summary(model_dir):
    """What the zoo keeps of a finished tools/train.py run that was not published (another seed
    of a published cell): its name, seed, validation and test accuracy (fractions), steps, the
    training documents and its recipe (`RECIPE_KEYS` of config.json)."""
    metrics_path = os.path.join(model_dir, "metrics.json")
    metrics = _read_json(metrics_path)
    config = _read_json(os.path.join(model_dir, "config.json"))
    try:
        name = entry_name(metrics["dataset"], metrics["model"], metrics["ngram"])
        summary = {"name": name, "seed": int(config["seed"]),
                   "val_accuracy": float(metrics["val_accuracy"]),
                   "test_accuracy": float(metrics["test_accuracy"]),
                   "steps": int(metrics["steps"]),
                   "training_documents": int(metrics["splits"]["train"]
                                             + metrics["splits"]["validation"]),
                   "run": model_dir, "command": metrics.get("command"),
                   "recipe": {**{k: config[k] for k in RECIPE_KEYS if k in config},
                              "split_seed": split_seed(config)}}
    except (KeyError, TypeError, ValueError) as error:
        what = f"no {error.args[0]!r}" if isinstance(error, KeyError) else str(error)
        raise ZooError(f"{model_dir}: not a finished tools/train.py run (metrics.json or "
                       f"config.json: {what})") from None
    return summary


def best_run(model_dirs):
    """Of finished runs of one cell that differ in their seed, the one to publish: the best
    validation accuracy (on a tie, the lowest seed). The test split plays no part in the choice."""
    if not model_dirs:
        raise ZooError("no runs to choose from")
    summaries = [run_summary(d) for d in model_dirs]
    cells = sorted({s["name"] for s in summaries})
    if len(cells) > 1:
        raise ZooError(f"the runs are of different cells ({', '.join(cells)}); the best seed is "
                       "chosen among runs of one cell")
    return min(summaries, key=lambda s: (-s["val_accuracy"], s["seed"]))["run"]


def publish_run(model_dir, name, data_dir=None, cache_dir=None, zoo_dir=None, url=DEFAULT_URL):
    """Publishes the best model of a finished tools/train.py run as entry `name`: stored
    compactly, its test accuracy (a language model: its test perplexity) measured again from the
    stored files (the test split read from `data_dir`, or downloaded) and checked against the
    run's."""
    if not NAME.match(name):
        raise ZooError(f"zoo entry names look like <dataset>/<variant>_<n>gram (a classifier) or "
                       f"<corpus>/<variant> (a language model), got {name!r}")
    metrics = _read_json(os.path.join(model_dir, "metrics.json"))
    if metrics.get("test_evaluated") is False:
        raise ZooError(f"{model_dir} was trained with --notest (a recipe search's run): its test "
                       "split was never evaluated, so it has no result to publish; train the "
                       "chosen recipe again without --notest")
    from kasm_keras.zoo import language_models

    from kasm_keras.zoo import time_series

    if time_series.is_time_series_run(metrics):
        return time_series.publish_run(model_dir, name, metrics, data_dir=data_dir,
                                       cache_dir=cache_dir, zoo_dir=zoo_dir, url=url)
    if language_models.is_language_model_run(metrics):
        return language_models.publish_run(model_dir, name, metrics, data_dir=data_dir,
                                           cache_dir=cache_dir, zoo_dir=zoo_dir, url=url)
    missing = [k for k in ("dataset", "model", "ngram", "splits", "parameters", "command",
                           "versions", "test_accuracy") if k not in metrics]
    if missing:
        raise ZooError(f"{os.path.join(model_dir, 'metrics.json')} lacks {', '.join(missing)}; "
                       "not the metrics of a finished tools/train.py run")
    trained = entry_name(metrics["dataset"], metrics["model"], metrics["ngram"])
    if name_task(name) is not None and name != trained:  # a name of Table 2 or 3: its own cell
        raise ZooError(f"{model_dir} trained {trained}, not {name}")
    classifier = load_run(model_dir)
    training = classifier.info
    classes, texts, labels = split_texts(
        training["dataset"], "test", data_dir, cache_dir,
        training.get("validation_fraction", 0.05), split_seed(training))
    if classifier.class_names and list(classifier.class_names) != list(classes):
        raise ZooError(f"{model_dir} predicts {classifier.class_names}, the data has {classes}")
    return publish(classifier, name, entry_metadata(metrics, training, classes),
                   evaluate=lambda c: c.classification_report(texts, labels)["accuracy"],
                   zoo_dir=zoo_dir, url=url, reference_accuracy=metrics["test_accuracy"])
