"""What differs between the model families' tasks, in one object per family, and the registry
that finds a family by its name, a zoo entry, a model, a dataset or a training run.

The zoo, the tools and the training loop ask the family (`of_entry(entry).load_preset(...)`,
`of_model(model).export_saved_model(...)`) and never which task it is: a new task is a new
folder under `kasm_keras/models/` with its `family.py`, plus one line in
`kasm_keras/models/families.py` and, if tools/train.py trains it, its entry in
`kasm_keras.training.tasks.TRAINING`. A family knows its model and its data; it does not import
the zoo or training (the zoo passes it what it needs).
"""

import collections
import importlib


class ZooError(ValueError):
    """A zoo entry, name or registry record that cannot be used; tools print it as one line.

    Examples:
        >>> from kasm_keras.models import task_family
        >>> try:
        ...     task_family.get("translation")
        ... except task_family.ZooError as error:
        ...     print(str(error).split(", not ")[1].split(";")[0])
        'translation'
    """


class TaskFamily:
    """A model family's task as the zoo and the tools see it. Subclasses fill in the class
    attributes and the methods their task has; the defaults suit a family without zoo names.

    The zoo and the tools ask a family (found with `get`, `of_entry`, `of_model`, ...) rather
    than which task a model is, so a new task needs no change outside its own folder but its
    registrations (`kasm_keras/models/families.py`, and `kasm_keras.training.tasks.TRAINING` for
    its training).

    Examples:
        >>> from kasm_keras.models import task_family
        >>> family = task_family.get("classification")
        >>> family.description, family.parse_name("ag_news/rkm_cifg_1gram")
        ('document classifier', ('ag_news', 'rkm_cifg', 1))
        >>> family.owns_dataset("ag_news"), family.owns_dataset("ptb")
        (True, False)
    """

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
    #: The options of `export_saved_model` besides the model and the folder (each a flag of
    #: tools/export.py): {option: the flag's help text}.
    export_options = {}
    #: What the task's `explain` reads: "text" (documents), "prompt" (text whose next word is
    #: explained) or "series" (`[length, channels]` arrays); the explain tool's flags for it
    #: are `explain_flags`.
    explains = None

    def task_class(self):
        """The family's keras-hub task class.

        Returns:
            The `keras_hub.models.Task` subclass whose instances are the family's models.
        """
        raise NotImplementedError

    def names(self):
        """Every zoo name of the family, published or not, in its paper table's order.

        Returns:
            A list of names (str); empty for a family without zoo names.
        """
        return []

    def parse_name(self, name):
        """The parts of a zoo name of the family.

        Args:
            name: A zoo name, e.g. "ag_news/rkm_cifg_1gram".

        Returns:
            A tuple of the name's parts (dataset first) when `name` is one of `names()`, else
            None.
        """
        return None

    def run_name(self, metrics):
        """The zoo name of the cell a finished run trained.

        Args:
            metrics: The run's metrics.json, as a dict.

        Returns:
            The zoo name (str).
        """
        raise NotImplementedError

    def train_command(self, name, run):
        """The tools/train.py command that trains an entry, for messages about missing ones.

        Args:
            name: A zoo name of the family.
            run: The run folder the command writes (`--model_dir`).

        Returns:
            The command line (str).
        """
        raise NotImplementedError

    def owns_dataset(self, dataset):
        """Whether the family trains on a dataset.

        Args:
            dataset: A dataset's name, e.g. "ag_news" or "ptb".

        Returns:
            bool.
        """
        return False

    def owns_run(self, metrics):
        """Whether a finished run is one of the family's.

        Args:
            metrics: The run's metrics.json, as a dict.

        Returns:
            bool.
        """
        return False

    def owns_model(self, model):
        """Whether a model is one of the family's (an instance of its `task_class()`).

        Args:
            model: Any object.

        Returns:
            bool.
        """
        return isinstance(model, self.task_class())

    def info(self, metadata, where):
        """An entry's `info` fields (see `kasm_keras.zoo.info`) from its registry metadata.

        Args:
            metadata: The entry's metadata, as the registry keeps it.
            where: What names the record in a ZooError, e.g. "registry.json: ag_news/...".

        Returns:
            A new dict of the fields, numbers checked and derived fields added.

        Raises:
            ZooError: A field is damaged (e.g. a number that is not one).
        """
        return dict(metadata)

    def summary(self, metadata):
        """What the registry keeps of an entry's metadata: its `summary_keys`.

        Args:
            metadata: The entry's whole metadata.

        Returns:
            A new dict of the `summary_keys` that `metadata` has.
        """
        return {k: metadata[k] for k in self.summary_keys if k in metadata}

    def summary_line(self, name, info):
        """`tools/zoo.py list`'s line for a published entry.

        Args:
            name: The entry's zoo name.
            info: Its `info` fields.

        Returns:
            The line (str), indented by two spaces.

        Raises:
            KeyError, TypeError, ValueError: The record lacks a field or has a damaged one.
        """
        raise NotImplementedError

    def unpublished_lines(self, names, width):
        """`tools/zoo.py list`'s lines for the family's names without an entry.

        Args:
            names: The unpublished zoo names of the family.
            width: The width of the first column (the dataset's).

        Returns:
            A list of lines (str), grouped by dataset.
        """
        raise NotImplementedError

    def verify(self, name, info, model, data_dirs, cache_dir, splits):
        """Measures an entry's recorded test result again from its stored files.

        Args:
            name: The entry's zoo name.
            info: Its `info` fields (the recorded result among them).
            model: The entry, loaded.
            data_dirs: {"data_dir": ..., and each family's `data_dir_flags` by name}: where the
                test splits are (None: downloaded into `cache_dir`).
            cache_dir: Where downloads go.
            splits: A dict of the splits read so far, keyed as the family chooses; filled in,
                so that a split shared by several entries is read once.

        Returns:
            (line, failed): `tools/zoo.py verify --data_dir`'s line (str) and whether the
            result moved by more than the family allows (bool).
        """
        raise NotImplementedError

    def load_preset(self, directory):
        """The family's task from a verified preset directory, loaded in safe mode.

        Args:
            directory: A folder holding the entry's `preset_files`, digests verified.

        Returns:
            An instance of `task_class()` with its preprocessor and weights.

        Raises:
            ZooError: A file does not fit the others; the message names it.
        """
        raise NotImplementedError

    def publication(self, model_dir, model, metrics, data_dir=None, cache_dir=None):
        """What publishing a finished run's best model needs, for `stage`.

        Args:
            model_dir: The run's folder.
            model: Its best model.
            metrics: Its metrics.json, as a dict.
            data_dir: Where the test split is; None: downloaded.
            cache_dir: Where downloads go.

        Returns:
            (metadata, evaluate, reference): the entry's metadata, `evaluate(stored)` measuring
            the stored entry on the test split, and the run's own result the measurement must
            match.

        Raises:
            ZooError: The model does not fit the data (e.g. other classes).
        """
        raise NotImplementedError

    def stage(self, model, name, folder, metadata, evaluate=None, reference=None):
        """Writes an entry into a folder and loads it back (`load_preset`), so that what is
        published is what users will load.

        Args:
            model: The model to store.
            name: The entry's zoo name.
            folder: Where the preset's files are written.
            metadata: The entry's metadata (`publication`'s).
            evaluate: `evaluate(stored)` measures the stored entry; None: not measured.
            reference: The result `evaluate` must match; None: not compared.

        Returns:
            (files, summary): the files' sha256 digests by name and the registry's summary of
            the metadata.

        Raises:
            ZooError: Storage moved the result from `reference` by more than the family
                allows, or an entry is too large.
        """
        raise NotImplementedError

    def export_saved_model(self, model, folder, **options):
        """Writes a model as a TensorFlow SavedModel with serving signatures.

        Args:
            model: One of the family's models, with its preprocessor.
            folder: Where the SavedModel is written.
            **options: The family's `export_options`.
        """
        raise NotImplementedError

    # --- documentation: model cards and result pages ---
    #: How a model card shows an entry used from Python: code formatted with the entry's
    #: `info` and its `name` (`str.format_map`).
    card_usage = ""
    #: The explain tool's input flags that a model card shows, e.g. '--text="..."'.
    card_explain_input = ""
    #: The `info` field of the paper's number for the headline metric (`test_metric`).
    headline_paper_metric = None
    #: The headline metric's label, formatted with its value: "test accuracy {:.2f}%".
    headline_label = "{}"
    #: What the paper's number is of, where not this entry's cell: " (Table 4: ...)".
    headline_paper_note = ""

    def card_measured(self, info, seed_noise):
        """What an entry's model card says it measured and trained on.

        Args:
            info: The entry's `info`.
            seed_noise: What the seeds of the entry's cell measured, as words (the classifier's
                card shows it).

        Returns:
            (rows, data): rows of (metric, this entry, paper, PyTorch reproduction), each a
            str, and what the entry was trained on (str).
        """
        raise NotImplementedError

    @staticmethod
    def card_number(value):
        """A number as a model card shows it: two decimals, or empty when there is none.

        Args:
            value: A number, or None.

        Returns:
            The text (str).

        Examples:
            >>> from kasm_keras.models import task_family
            >>> task_family.TaskFamily.card_number(91.234), task_family.TaskFamily.card_number(None)
            ('91.23', '')
        """
        return "" if value is None else f"{value:.2f}"


    # --- tools: train, generate, export, explain, zoo ---
    #: Whether the family's models generate text (`tools/generate.py` takes them).
    generates = False
    #: The shape of the family's zoo names, for messages: "<corpus>/<variant>".
    name_form = None
    #: The explain tool's flags that give the family's inputs (`ToolFlag`s), the first the one
    #: its messages name.
    explain_flags = ()
    #: Of `explain_flags`' names, those one of which gives inputs to explain.
    explain_needs = ()
    #: `tools/zoo.py verify`'s flags (`ToolFlag`s) for where the family's test data is, besides
    #: --data_dir; `verify` finds them in its `data_dirs`.
    data_dir_flags = ()
    #: The settings of a run's config.json that make its recipe: runs that differ only in their
    #: seed measure the seed noise.
    recipe_keys = ()
    #: The validation result of a run's metrics.json that chooses among its seeds.
    selection_metric = "val_accuracy"
    #: The test result `run_summary` keeps, and a model card's headline metric.
    test_metric = "test_accuracy"
    #: Whether lower results are better (perplexity) rather than higher (accuracy).
    lower_is_better = False

    def explain_inputs(self, given):
        """What the explain tool explains, from its flags.

        Args:
            given: {flag name: value} of `explain_flags` (None: not given).

        Returns:
            (sources, inputs, options): how each input is shown, the inputs of the model's
            `explain` and its keyword arguments.

        Raises:
            ValueError: An input cannot be read; the message names the flag or file.
        """
        raise NotImplementedError

    def run_summary(self, metrics, config):
        """What the zoo keeps of a finished run that was not published (another seed of a
        published entry, so that the seed noise stays known).

        Args:
            metrics: The run's metrics.json, as a dict.
            config: Its config.json, as a dict.

        Returns:
            A dict: "name", "seed", the `selection_metric` and `test_metric`, "steps",
            "command" and "recipe" (`recipe_keys` of config.json, with the validation split's
            seed).

        Raises:
            KeyError, TypeError, ValueError: The files lack a value or hold a damaged one.

        Examples:
            >>> from kasm_keras.models import task_family
            >>> summary = task_family.get("language_model").run_summary(
            ...     {"dataset": "ptb", "model": "lstm", "val_perplexity": 90.0,
            ...      "test_perplexity": 87.5, "steps": 10}, {"seed": 2, "bptt": 70})
            >>> summary["name"], summary["val_perplexity"], summary["recipe"]
            ('ptb/lstm', 90.0, {'bptt': 70, 'split_seed': 2})
        """
        return {"name": self.run_name(metrics), "seed": int(config["seed"]),
                self.selection_metric: float(metrics[self.selection_metric]),
                self.test_metric: float(metrics[self.test_metric]),
                "steps": int(metrics["steps"]), "command": metrics.get("command"),
                "recipe": {**{k: config[k] for k in self.recipe_keys if k in config},
                           "split_seed": split_seed(config)}}

    def selection_key(self, summary):
        """How a run's seed ranks among its entry's seeds: the best validation result first,
        on a tie the lowest seed (the test split plays no part in the choice).

        Args:
            summary: A `run_summary`.

        Returns:
            A key that sorts the run to choose first.

        Examples:
            >>> from kasm_keras.models import task_family
            >>> family = task_family.get("classification")
            >>> family.selection_key({"seed": 1, "val_accuracy": 0.9})
            (-0.9, 1)
        """
        value = summary[self.selection_metric]
        return (value if self.lower_is_better else -value, summary["seed"])
    # --- evaluation and data description (kasm-evaluate, kasm-data) ---
    #: The options of kasm-evaluate that a model of the family takes, of "text", "batch_size"
    #: and "bptt".
    evaluate_options = ()
    #: How kasm-evaluate refuses another of those options: "--NAME " followed by this.
    evaluate_refusal = "does not apply to this model"
    #: The options of kasm-data that describing the family's data takes (besides --dataset,
    #: --data_dir, --cache_dir and --json).
    data_options = ()
    #: How kasm-data refuses another option: "--NAME ", this, then ", not to --dataset=NAME".
    data_refusal = "does not apply"
    #: What messages call one of the family's datasets after its name: "the ptb corpus".
    data_noun = "dataset"

    def dataset_names(self):
        """Every dataset the family trains on and evaluates (`owns_dataset`), in the order the
        tools list them.

        Returns:
            A tuple of names (str).
        """
        return ()

    def refused_evaluate_option(self, given):
        """Why kasm-evaluate refuses an option for a model of the family.

        Args:
            given: The evaluation options given (of "text", "batch_size", "bptt"), in that
                order.

        Returns:
            The message (str) for the first option the family does not take, else None.
        """
        name = next((n for n in given if n not in self.evaluate_options), None)
        return None if name is None else f"--{name} {self.evaluate_refusal}"

    def evaluate(self, model, request):
        """Measures a model of the family on a split of a dataset, or on texts (kasm-evaluate).

        Args:
            model: One of the family's models.
            request: A `kasm_keras.models.evaluation.EvaluationRequest`: the dataset, split or
                texts, where the data is.

        Returns:
            The report: a dict for a split, a list of one dict per text for texts; JSON-ready,
            `format_evaluation` writes it as text.

        Raises:
            ZooError: The request does not fit the model (another family's dataset, other
                classes); the message is one line.
        """
        raise NotImplementedError

    def format_evaluation(self, report):
        """An `evaluate` report as kasm-evaluate prints it.

        Args:
            report: What `evaluate` returned.

        Returns:
            The text (str), lines joined by newlines.
        """
        raise NotImplementedError

    def refused_data_option(self, given, dataset):
        """Why kasm-data refuses an option for a dataset of the family.

        Args:
            given: The options given, in kasm-data's order.
            dataset: The dataset's name, for the message.

        Returns:
            The message (str) for the first option the family does not take, else None.
        """
        name = next((n for n in given if n not in self.data_options), None)
        return (None if name is None
                else f"--{name} {self.data_refusal}, not to --dataset={dataset}")

    def describe_data(self, dataset, data_dir=None, cache_dir=None, options=None,
                      downloading=None):
        """What one of the family's datasets holds, measured (kasm-data).

        Args:
            dataset: The dataset's name.
            data_dir: Where its files are; None: downloaded into `cache_dir`.
            cache_dir: Where downloads and prepared data go.
            options: {name: value} of kasm-data's `data_options` (None: the default).
            downloading: `downloading(what)` gives a context manager around reading data that
                may be downloaded; None: none.

        Returns:
            The report, a JSON-ready dict; `format_data_report` writes it as text.
        """
        raise NotImplementedError

    def format_data_report(self, report):
        """A `describe_data` report as kasm-data prints it.

        Args:
            report: What `describe_data` returned.

        Returns:
            The text (str): a title line, then the table.
        """
        raise NotImplementedError


_FAMILIES = {}


def register(family):
    """Adds a family to the registry under its name (a family's module calls it once).

    Args:
        family: A TaskFamily instance.

    Returns:
        `family`, so that a module can write `FAMILY = register(MyFamily())`.

    Raises:
        ValueError: Another class of family is registered under the same name.

    Examples:
        >>> from kasm_keras.models import task_family
        >>> family = task_family.get("classification")
        >>> task_family.register(family) is family  # registering again is harmless
        True
    """
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
    """The registered families, in their registration order.

    Returns:
        A list of TaskFamily instances.

    Examples:
        >>> from kasm_keras.models import task_family
        >>> [family.name for family in task_family.all_families()]
        ['classification', 'language_model', 'time_series']
    """
    return list(_registered().values())


def names():
    """The registered families' names (the tasks an entry's metadata may record).

    Returns:
        A tuple of str.

    Examples:
        >>> from kasm_keras.models import task_family
        >>> task_family.names()
        ('classification', 'language_model', 'time_series')
    """
    return tuple(_registered())


def get(name):
    """The family registered under a name.

    Args:
        name: A task, e.g. "language_model".

    Returns:
        The TaskFamily.

    Raises:
        ZooError: No family has that name; the message names the known ones.

    Examples:
        >>> from kasm_keras.models import task_family
        >>> task_family.get("language_model").description
        'language model'
    """
    families = _registered()
    if name not in families:
        raise ZooError(f"a zoo entry's task is one of {tuple(families)}, not {name!r}; the "
                       "registry is damaged or newer than this kasm_keras")
    return families[name]


# An entry whose metadata records no task was published before the zoo held other tasks.
DEFAULT = "classification"


def of_metadata(metadata):
    """The family of an entry's metadata or `info` (its "task"; none: classification).

    Args:
        metadata: A dict with an optional "task".

    Returns:
        The TaskFamily.

    Raises:
        ZooError: The task is not a registered family's.

    Examples:
        >>> import kasm_keras
        >>> from kasm_keras.models import task_family
        >>> task_family.of_metadata(kasm_keras.zoo.info("ag_news/rkm_cifg_1gram")).name
        'classification'
    """
    return get(metadata.get("task", DEFAULT))


def of_entry(entry):
    """The family of a registry record (its metadata's "task").

    Args:
        entry: A record of the registry, a dict with an optional "metadata".

    Returns:
        The TaskFamily.

    Raises:
        ZooError: The task is not a registered family's.

    Examples:
        >>> from kasm_keras.models import task_family
        >>> task_family.of_entry({"metadata": {"task": "language_model"}}).name
        'language_model'
    """
    return of_metadata(entry.get("metadata", {}))


def of_name(name):
    """The family whose zoo names include a name.

    Args:
        name: A zoo name.

    Returns:
        The TaskFamily, or None when no family has that name.

    Examples:
        >>> from kasm_keras.models import task_family
        >>> task_family.of_name("ptb/rkm_lstm").name, task_family.of_name("nowhere/lstm")
        ('language_model', None)
    """
    return next((f for f in all_families() if f.parse_name(name) is not None), None)


def of_model(model):
    """The family of a model (a task of one of the families).

    Args:
        model: Any object.

    Returns:
        The TaskFamily, or None when `model` is no family's.

    Examples:
        >>> import kasm_keras
        >>> from kasm_keras.models import task_family
        >>> task_family.of_model(kasm_keras.zoo.load("ag_news/rkm_cifg_1gram")).name
        'classification'
        >>> print(task_family.of_model("a string"))
        None
    """
    return next((f for f in all_families() if f.owns_model(model)), None)


def of_dataset(dataset):
    """The family that trains on a dataset.

    Args:
        dataset: A dataset's name.

    Returns:
        The TaskFamily, or None when no family trains on it.

    Examples:
        >>> from kasm_keras.models import task_family
        >>> task_family.of_dataset("ag_news").name
        'classification'
    """
    return next((f for f in all_families() if f.owns_dataset(dataset)), None)


def of_run(metrics):
    """The family of a finished training run.

    Args:
        metrics: The run's metrics.json, as a dict.

    Returns:
        The TaskFamily, or None when the run is no family's.

    Examples:
        >>> from kasm_keras.models import task_family
        >>> task_family.of_run({"dataset": "ptb", "test_perplexity": 90.0}).name
        'language_model'
    """
    return next((f for f in all_families() if f.owns_run(metrics)), None)


def split_seed(training):
    """The seed that drew a run's validation split.

    Args:
        training: The run's settings (its config.json); "split_seed", else "seed", else 0.

    Returns:
        int.

    Examples:
        >>> from kasm_keras.models import task_family
        >>> task_family.split_seed({"seed": 3}), task_family.split_seed({"split_seed": 1})
        (3, 1)
    """
    return training.get("split_seed", training.get("seed", 0))


# --- tools: train, generate, export, explain, zoo ---
class ToolFlag(collections.namedtuple("ToolFlag", "name kind help default check")):
    """A command-line flag a family declares for a tool (`TaskFamily.explain_flags`,
    `data_dir_flags`): the tool defines it with absl's `DEFINE_<kind>`.

    Attributes:
        name: The flag's name.
        kind: absl's kind: "string", "multi_string", "list", ...
        help: Its help text.
        default: Its default (None: none), or a function of no arguments that gives it when
            the flag is defined.
        check: The tool's validator: None, "utf8" (text), "folder" (an existing folder) or
            "indices" (integers >= 0).

    Examples:
        >>> from kasm_keras.models.task_family import ToolFlag
        >>> ToolFlag("series", "string", "A .ts file.").kind
        'string'
    """

    __slots__ = ()

    def __new__(cls, name, kind, help, default=None, check=None):
        return super().__new__(cls, name, kind, help, default, check)


def name_forms():
    """The shapes of the registered families' zoo names, for messages.

    Returns:
        A str naming each shape and the families whose names have it.

    Examples:
        >>> from kasm_keras.models import task_family
        >>> task_family.name_forms().split(" or <")[1]
        'corpus>/<variant> (a language model)'
    """
    forms = {}
    for family in all_families():
        if family.name_form:
            forms.setdefault(family.name_form, []).append(f"a {family.description}")
    return " or ".join(f"{form} ({' or '.join(whose)})" for form, whose in forms.items())


def all_datasets():
    """Every dataset of the registered families (`TaskFamily.dataset_names`), in their
    registration order: the tools' `--dataset` choices.

    Returns:
        A tuple of names (str).

    Examples:
        >>> from kasm_keras.models import task_family
        >>> task_family.all_datasets()[:4], "ptb" in task_family.all_datasets()
        (('ag_news', 'dbpedia', 'yahoo', 'yelp'), True)
    """
    return tuple(name for family in all_families() for name in family.dataset_names())


def data_kind(dataset):
    """What a dataset is, as the family that trains on it says, for messages.

    Args:
        dataset: A dataset's name.

    Returns:
        str, e.g. "a classification dataset"; "no dataset this tool knows" for none.

    Examples:
        >>> from kasm_keras.models import task_family
        >>> task_family.data_kind("ptb"), task_family.data_kind("mnist")
        ('a language-model corpus', 'no dataset this tool knows')
    """
    family = of_dataset(dataset)
    return family.data_kind if family else "no dataset this tool knows"
