"""The names the zoo knows, published or not: each family's grammar (Table 2's
`<dataset>/<variant>_<n>gram`, Table 3's `<corpus>/<variant>`, the time-series
`<dataset>/<variant>_<n>gram`), asked of the family, and what to say of a name without an entry:
the commands that make it from its dataset's official archive."""

from kasm_keras.models import task_family
from kasm_keras.models.task_family import ZooError
from kasm_keras.zoo import records


def _family_names(task):
    """Every name of the family `task`, published or not, in its table's order."""
    return task_family.get(task).names()


def classification_names():
    """Every name of Table 2's cells, `<dataset>/<variant>_<n>gram`, published or not.

    Returns:
        The names, a list in the table's order: dataset, n-gram width, variant.

    Examples:
        >>> from kasm_keras import zoo
        >>> zoo.classification_names()[:2]
        ['ag_news/lstm_1gram', 'ag_news/rkm_lstm_1gram']
    """
    return _family_names("classification")


def language_model_names():
    """Every name of Table 3's cells, `<corpus>/<variant>`, published or not.

    Returns:
        The names, a list in the table's order (`kasm_keras.paper.TABLE3_PERPLEXITY`).

    Examples:
        >>> from kasm_keras import zoo
        >>> zoo.language_model_names()[:2]
        ['ptb/lstm', 'ptb/rkm_lstm']
    """
    return _family_names("language_model")


def time_series_names():
    """Every time-series name the zoo knows, `<dataset>/<variant>_<n>gram`, published or not.

    Returns:
        The names, a list: dataset, n-gram width, variant.

    Examples:
        >>> from kasm_keras import zoo
        >>> zoo.time_series_names()[:2]
        ['japanese_vowels/lstm_1gram', 'japanese_vowels/rkm_lstm_1gram']
    """
    return _family_names("time_series")


def known_names():
    """Every name the zoo knows, published or not, of every family.

    Returns:
        The names, a list: Table 2's cells, then Table 3's, then the time-series ones, each
            in its table's order.

    Examples:
        >>> from kasm_keras import zoo
        >>> len(zoo.known_names()) == len(zoo.classification_names()) + len(
        ...     zoo.language_model_names()) + len(zoo.time_series_names())
        True
    """
    return [name for family in task_family.all_families() for name in family.names()]


def unpublished_names(zoo_dir=None):
    """The names the zoo knows (`known_names`) that it has no entry for yet.

    `load` and `info` on one of them raise a `ZooError` that says how to make it.

    Args:
        zoo_dir: a local zoo directory (with its own `registry.json`, or a copy of the
            package's entries); None for `$KASM_KERAS_ZOO_DIR`, the checkout's `zoo/`, and
            the package's registry.

    Returns:
        The names, in `known_names`' order.

    Examples:
        >>> from kasm_keras import zoo
        >>> set(zoo.unpublished_names()) & set(zoo.names())
        set()
    """
    published = set(records.names(zoo_dir))
    return [name for name in known_names() if name not in published]


def parse_name(name):
    """Splits a name of Table 2's cells (`classification_names`) into its parts.

    Args:
        name: a zoo name, e.g. "ag_news/rkm_cifg_1gram".

    Returns:
        (dataset, variant, ngram), or None when `name` is no name of Table 2's cells.

    Examples:
        >>> from kasm_keras import zoo
        >>> zoo.parse_name("ag_news/rkm_cifg_1gram")
        ('ag_news', 'rkm_cifg', 1)
        >>> zoo.parse_name("ptb/rkm_lstm") is None
        True
    """
    return task_family.get("classification").parse_name(name)


def parse_language_model_name(name):
    """Splits a name of Table 3's cells (`language_model_names`) into its parts.

    Args:
        name: a zoo name, e.g. "ptb/rkm_lstm".

    Returns:
        (corpus, variant), or None when `name` is no name of Table 3's cells.

    Examples:
        >>> from kasm_keras import zoo
        >>> zoo.parse_language_model_name("ptb/rkm_lstm")
        ('ptb', 'rkm_lstm')
    """
    return task_family.get("language_model").parse_name(name)


def parse_time_series_name(name):
    """Splits a time-series name (`time_series_names`) into its parts.

    Args:
        name: a zoo name, e.g. "japanese_vowels/rkm_lstm_3gram".

    Returns:
        (dataset, variant, ngram), or None when `name` is no time-series name.

    Examples:
        >>> from kasm_keras import zoo
        >>> zoo.parse_time_series_name("japanese_vowels/rkm_lstm_3gram")
        ('japanese_vowels', 'rkm_lstm', 3)
    """
    return task_family.get("time_series").parse_name(name)


def name_task(name):
    """The task of a name the zoo knows, published or not.

    Args:
        name: a zoo name, e.g. "ptb/rkm_lstm".

    Returns:
        The family's name ("classification", "language_model", "time_series"), or None when
            the zoo does not know `name`.

    Examples:
        >>> from kasm_keras import zoo
        >>> zoo.name_task("ptb/rkm_lstm")
        'language_model'
    """
    family = task_family.of_name(name)
    return family.name if family else None


def make_commands(name):
    """The commands that train and publish entry `name` from its dataset's official archive.

    tools/train.py downloads the archive when given no --data_dir.

    Args:
        name: a name the zoo knows (`known_names`).

    Returns:
        Two shell commands, a list: the training run, then its publishing.

    Examples:
        >>> from kasm_keras import zoo
        >>> train, publish = zoo.make_commands("ag_news/rkm_cifg_1gram")
        >>> publish.split()[2:]
        ['publish', '--model_dir=runs/ag_news/rkm_cifg_1gram', '--name=ag_news/rkm_cifg_1gram']
    """
    run = f"runs/{name}"
    return [task_family.of_name(name).train_command(name, run),
            f"python tools/zoo.py publish --model_dir={run} --name={name}"]


def no_entry(name, entries):
    """The error to raise for a name that has no entry.

    Args:
        name: the name asked for.
        entries: the registry's records (`registry`), whose names are listed when the zoo
            does not know `name`.

    Returns:
        A `ZooError`: for a name the zoo knows, saying why it has no entry and the commands
            that make it (`make_commands`); otherwise listing the available names.

    Examples:
        >>> from kasm_keras.zoo import naming
        >>> str(naming.no_entry("ag_news/nope", {}))
        "No zoo entry 'ag_news/nope'; available: none"
    """
    family = task_family.of_name(name)
    if family is None:
        return ZooError(f"No zoo entry {name!r}; available: "
                        f"{', '.join(sorted(entries)) or 'none'}")
    dataset = name.split("/")[0]
    why = (f"the {dataset} data was not available where the zoo's entries were trained"
           if dataset in family.without_data else "it has not been trained and published yet")
    commands = " &&\n  ".join(make_commands(name))  # one shell line where errors are one line
    return ZooError(f"zoo entry {name!r} is not published: {why}. To make it from the official "
                    f"archive (tools/train.py downloads it; --data_dir=DIR reads a local copy):"
                    f"\n  {commands}")
