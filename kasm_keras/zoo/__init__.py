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
than its family allows from the trained model's (a classifier's accuracy, a language model's
perplexity, relative).

Names: Table 2's cells, `<dataset>/<variant>_<n>gram` for its four datasets, the seven variants
of `kasm_keras.VARIANTS` and n in {1, 3} (`classification_names`), and Table 3's,
`<corpus>/<variant>` for PTB and WikiText-2 and its four variants (`language_model_names`);
`known_names` lists both. `names` lists the published ones, `unpublished_names` the rest; asking
for an unpublished one (`load`, `info`, `entry_dir`, `from_preset`) raises a `ZooError` with the
two commands that make it from the dataset's official archive. What differs between the tasks
(names, files, storage, `info`, publishing) is each model family's (`family.py` in its folder
under `kasm_keras/models/`, `kasm_keras.models.task_family`); `load` also takes a keras-hub
preset handle (a local preset directory, `hf://`, `kaggle://`).

The modules, one job each: `records` (the registry), `naming` (the names the zoo knows),
`store` (cache, download, verify, `info`, `load`), `publishing` (`publish`, `remove`), `runs`
(finished training runs: `best_run`, seed summaries), `presets` (the entries as the families'
keras-hub presets); this file only re-exports them.

Accuracies: the files written when training and publishing (a run's metrics.json, an entry's
metadata.json, the registry) hold fractions, as Keras reports them; `info` gives every accuracy
in percent, as the paper does (`test_accuracy`, `paper_accuracy`, `pytorch_accuracy`).
"""

from kasm_keras.models import task_family as _task_family
from kasm_keras.models.entry_storage import compact_weights
from kasm_keras.models.kernel_classifier.family import (
    DATASETS, NGRAMS, PRESET_FILES, split_texts)
from kasm_keras.models.kernel_classifier.family import FAMILY as _classifier
from kasm_keras.models.kernel_lm.family import FAMILY as _language_model
from kasm_keras.models.kernel_lm.family import MAX_PERPLEXITY_CHANGE
from kasm_keras.models.kernel_lm.family import PRESET_FILES as LM_PRESET_FILES
from kasm_keras.models.task_family import ZooError
from kasm_keras.models.cell_names import cell_name as entry_name
from kasm_keras.models.task_family import split_seed
from kasm_keras.models.cell_names import split_cell_name
from kasm_keras.models.time_series_classifier.family import FAMILY as _time_series
from kasm_keras.utils.files import file_digest
from kasm_keras.utils.download import is_http
from kasm_keras.zoo import naming, presets, publishing, records, runs, store
from kasm_keras.zoo.naming import (
    classification_names, known_names, language_model_names, make_commands, name_task,
    parse_language_model_name, parse_name, parse_time_series_name, time_series_names,
    unpublished_names)
from kasm_keras.zoo.publishing import (
    DEFAULT_URL, install_entry, publish, publish_run, publishing_dir, remove)
from kasm_keras.zoo.records import (
    NAME, REGISTRY, ZOO_DIR_VARIABLE, entry_task, inside, names, registry, registry_path)
from kasm_keras.zoo.runs import RECIPE_KEYS, best_run, load_run, run_summary
from kasm_keras.zoo.store import (
    URL_VARIABLE, cache_root, entry_dir, info, load, load_model, max_entry_bytes, preset_files)

# An entry's task (its family's name), recorded in its metadata ("task"); entries without one
# are classifiers.
CLASSIFICATION = _classifier.name
LANGUAGE_MODEL = _language_model.name
TIME_SERIES = _time_series.name
TASKS = _task_family.names()
WITHOUT_DATA = _classifier.without_data
LM_WITHOUT_DATA = _language_model.without_data
MAX_ENTRY_BYTES = _classifier.max_entry_bytes
MAX_LM_ENTRY_BYTES = _language_model.max_entry_bytes


__all__ = ["CLASSIFICATION", "DATASETS", "DEFAULT_URL", "LANGUAGE_MODEL", "LM_PRESET_FILES",
           "LM_WITHOUT_DATA", "MAX_ENTRY_BYTES", "MAX_LM_ENTRY_BYTES", "MAX_PERPLEXITY_CHANGE",
           "NAME", "NGRAMS", "PRESET_FILES", "RECIPE_KEYS", "REGISTRY", "TASKS", "TIME_SERIES",
           "URL_VARIABLE", "WITHOUT_DATA", "ZOO_DIR_VARIABLE", "ZooError", "best_run",
           "cache_root", "classification_names", "compact_weights", "entry_dir", "entry_name",
           "entry_task", "file_digest", "info", "inside", "install_entry", "is_http",
           "known_names", "language_model_names", "load", "load_model", "load_run",
           "make_commands", "max_entry_bytes", "name_task", "names", "naming",
           "parse_language_model_name", "parse_name", "parse_time_series_name", "preset_files",
           "presets", "publish", "publish_run", "publishing", "publishing_dir", "records", "registry",
           "registry_path", "remove", "run_summary", "runs", "split_cell_name", "split_seed",
           "split_texts", "store", "time_series_names", "unpublished_names"]

