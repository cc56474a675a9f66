"""What differs between the model families' tasks, in one object per family, and the registry
that finds a family by its name, a zoo entry, a model, a dataset or a training run.

The zoo, the tools and the training loop ask the family (`of_entry(entry).load_preset(...)`,
`of_model(model).export_saved_model(...)`) and never which task it is: a new task is a new
folder under `kasm_keras/models/` with its `family.py`, plus one line in
`kasm_keras/models/families.py`. A family knows its model and its data; it does not import the
zoo or training (the zoo passes it what it needs).
"""

import importlib


class ZooError(ValueError):
    """A zoo entry, name or registry record that cannot be used; tools print it as one line."""


class TaskFamily:
    """A model family's task as the zoo and the tools see it. Subclasses fill in the class
    attributes and the methods their task has; the defaults suit a family without zoo names."""

    #: The task an entry's metadata records ("task"), e.g. "classification".
    name = None
    #: What one model of the family is, for messages: "document classifier".
    description = None
    #: What the family's datasets are, for messages: "a classification dataset".
    data_kind = None
    #: The files of an entry's keras-hub preset, each listed with its digest in the registry.
    preset_files = ()
    #: The most bytes an entry may have (a cap on each of its downloads too).
    max_entry_bytes = 0
    #: The metadata the registry keeps of an entry (what `info` reads without downloading).
    summary_keys = ()
    #: Datasets of the family's names whose data was not available where the zoo's entries were
    #: trained: their entries wait for someone with the official archive.
    without_data = ()
    #: What a finished run's metrics.json must hold to be published.
    metrics_keys = ()
    #: The README table a finished run's metrics are a row of (`benchmarks/reporting`).
    report_table = None
    #: The options of `export_saved_model` besides the model and the folder.
    export_options = ()
    #: What the task's `explain` reads, for the explain tool: "text" (documents), "prompt"
    #: (text whose next word is explained) or "series" (`[length, channels]` arrays).
    explains = None

    def task_class(self):
        """The family's keras-hub task class."""
        raise NotImplementedError

    def names(self):
        """Every zoo name of the family, published or not, in its paper table's order."""
        return []

    def parse_name(self, name):
        """The parts of a zoo name of the family (a tuple), else None."""
        return None

    def run_name(self, metrics):
        """The zoo name of the cell a finished run (its metrics.json) trained."""
        raise NotImplementedError

    def train_command(self, name, run):
        """The tools/train.py command that trains entry `name` into the folder `run`."""
        raise NotImplementedError

    def owns_dataset(self, dataset):
        """Whether the family trains on `dataset`."""
        return False

    def owns_run(self, metrics):
        """Whether a finished run's metrics.json is one of the family's."""
        return False

    def owns_model(self, model):
        return isinstance(model, self.task_class())

    def info(self, metadata, where):
        """An entry's `info` fields from its registry metadata; `where` names the record in a
        ZooError for a damaged one."""
        return dict(metadata)

    def summary(self, metadata):
        """What the registry keeps of an entry's metadata."""
        return {k: metadata[k] for k in self.summary_keys if k in metadata}

    def summary_line(self, name, info):
        """`tools/zoo.py list`'s line for a published entry (KeyError, TypeError or
        ValueError for a record that lacks a field)."""
        raise NotImplementedError

    def unpublished_lines(self, names, width):
        """`tools/zoo.py list`'s lines for the family's names without an entry (`names`), in a
        column `width` wide."""
        raise NotImplementedError

    def verify(self, name, info, model, data_dirs, cache_dir, splits):
        """(`tools/zoo.py verify --data_dir`'s line, whether it failed) for entry `name`
        (`info`, its loaded `model`): its recorded test result measured again from the stored
        files. `data_dirs`: {"data_dir", "time_series_data_dir"}, where the test splits are;
        `splits`: the splits read so far, by what the family keys them with (read once)."""
        raise NotImplementedError

    def load_preset(self, directory):
        """The family's task from a verified preset directory, in safe mode; a ZooError naming
        every file that does not fit the others."""
        raise NotImplementedError

    def publication(self, model_dir, model, metrics, data_dir=None, cache_dir=None):
        """(metadata, evaluate, reference) to publish the best model `model` of the finished
        run in `model_dir` (`metrics`: its metrics.json): the entry's metadata, `evaluate(stored)`
        measuring the stored entry on the test split (read from `data_dir`, or downloaded) and
        the run's own result it must match (`stage`)."""
        raise NotImplementedError

    def stage(self, model, name, folder, metadata, evaluate=None, reference=None):
        """Writes entry `name` of `model` into `folder` and loads it back (`load_preset`);
        measured with `evaluate` and refused when it moved from `reference`; returns (the
        files' sha256 digests, the registry's summary)."""
        raise NotImplementedError

    def export_saved_model(self, model, folder, **options):
        """Writes `model` as a TensorFlow SavedModel (serving signatures) into `folder`."""
        raise NotImplementedError


class CellNames:
    """Mixin for a TaskFamily whose names are a grid of cells, `<dataset>/<variant>_<n>gram`:
    `datasets` x `ngrams` x `variants`, in that order."""

    datasets = ()
    variants = ()
    ngrams = ()

    def names(self):
        """Every cell's name, published or not: dataset, n-gram width, variant."""
        return [cell_name(d, v, n) for d in self.datasets for n in self.ngrams
                for v in self.variants]

    def parse_name(self, name):
        """(dataset, variant, ngram) of a cell's name (`names`), else None."""
        return split_cell_name(name) if name in self.names() else None

    def run_name(self, metrics):
        return cell_name(metrics["dataset"], metrics["model"], metrics["ngram"])

    def train_command(self, name, run):
        dataset, variant, ngram = self.parse_name(name)
        return (f"python tools/train.py --model={variant} --dataset={dataset} --ngram={ngram} "
                f"--model_dir={run}")

    def unpublished_lines(self, names, width):
        return cell_lines(names, self.variants, self.ngrams, self.without_data, width)


_FAMILIES = {}


def register(family):
    """Adds `family` (a TaskFamily) to the registry under its name; returns it."""
    if family.name in _FAMILIES and type(_FAMILIES[family.name]) is not type(family):
        raise ValueError(f"a task family named {family.name!r} is registered already")
    _FAMILIES[family.name] = family
    return family


def _registered():
    # The families register when kasm_keras.models.families is imported (once, by the first
    # question to the registry): the one place that lists them.
    importlib.import_module("kasm_keras.models.families")
    return _FAMILIES


def all_families():
    """The registered families, in their registration order."""
    return list(_registered().values())


def names():
    """The registered families' names (the tasks an entry's metadata may record)."""
    return tuple(_registered())


def get(name):
    """The family registered as `name`; a ZooError naming the known ones otherwise."""
    families = _registered()
    if name not in families:
        raise ZooError(f"a zoo entry's task is one of {tuple(families)}, not {name!r}; the "
                       "registry is damaged or newer than this kasm_keras")
    return families[name]


# An entry whose metadata records no task was published before the zoo held other tasks.
DEFAULT = "classification"


def of_metadata(metadata):
    """The family of an entry's metadata (its "task"), or of its `info`."""
    return get(metadata.get("task", DEFAULT))


def of_entry(entry):
    """The family of a registry record (its metadata's "task")."""
    return of_metadata(entry.get("metadata", {}))


def of_name(name):
    """The family whose zoo names include `name`, else None."""
    return next((f for f in all_families() if f.parse_name(name) is not None), None)


def of_model(model):
    """The family of a model (a task of one of the families), else None."""
    return next((f for f in all_families() if f.owns_model(model)), None)


def of_dataset(dataset):
    """The family that trains on `dataset`, else None."""
    return next((f for f in all_families() if f.owns_dataset(dataset)), None)


def of_run(metrics):
    """The family of a finished training run (its metrics.json), else None."""
    return next((f for f in all_families() if f.owns_run(metrics)), None)


def cell_name(dataset, variant, ngram):
    """The zoo name of a classifier's cell: `<dataset>/<variant>_<n>gram`."""
    return f"{dataset}/{variant}_{ngram}gram"


def split_cell_name(name):
    """(dataset, variant, ngram) of a `<dataset>/<variant>_<n>gram` name (not checked)."""
    dataset, rest = name.split("/")
    variant, ngram = rest.rsplit("_", 1)
    return dataset, variant, int(ngram[:-len("gram")])


def split_seed(training):
    """The validation split's seed of a run's settings (runs before --split_seed used --seed)."""
    return training.get("split_seed", training.get("seed", 0))


def cell_lines(names, variants, ngrams, without_data, width):
    """`tools/zoo.py list`'s lines for unpublished `<dataset>/<variant>_<n>gram` names: one per
    dataset whose every cell (`variants` x `ngrams`) is missing, else one per n-gram width;
    datasets in `without_data` say that their data was not available."""
    missing = {}
    for name in names:
        dataset, variant, ngram = split_cell_name(name)
        missing.setdefault(dataset, {}).setdefault(ngram, []).append(variant)
    lines = []
    for dataset, by_ngram in missing.items():
        note = " (its data was not available here)" if dataset in without_data else ""
        if sorted(by_ngram) == list(ngrams) and all(len(v) == len(variants)
                                                    for v in by_ngram.values()):
            lines.append(f"  {dataset:<{width}} every variant, "
                         f"{' and '.join(f'{n}gram' for n in ngrams)}{note}")
            continue
        for i, (ngram, shown) in enumerate(sorted(by_ngram.items())):
            shown = "every variant" if len(shown) == len(variants) else ", ".join(shown)
            lines.append(f"  {dataset if i == 0 else '':<{width}} {ngram}gram: {shown}"
                         f"{note if i == 0 else ''}")
    return lines


def accuracy_line(name, measured, recorded, max_change):
    """(`tools/zoo.py verify`'s line, whether it failed) for a re-measured test accuracy, in
    percent, that may differ from the recorded one by `max_change` points."""
    change = measured - recorded
    failed = abs(change) > max_change
    return (f"{'FAILED' if failed else 'ok':<8}{name}  test accuracy {measured:.2f}% (recorded "
            f"{recorded:.2f}%, {change:+.2f})"), failed
