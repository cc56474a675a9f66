"""The names the zoo knows, published or not: each family's grammar (Table 2's
`<dataset>/<variant>_<n>gram`, Table 3's `<corpus>/<variant>`, the time-series
`<dataset>/<variant>_<n>gram`), asked of the family, and what to say of a name without an entry:
the commands that make it from its dataset's official archive."""

from kasm_keras.models import task_family
from kasm_keras.models.task_family import ZooError
from kasm_keras.zoo import records


def family_names(task):
    """Every name of the family `task`, published or not, in its table's order."""
    return task_family.get(task).names()


def classification_names():
    """Every name of Table 2's cells, published or not, in the table's order: dataset, n-gram
    width, variant."""
    return family_names("classification")


def language_model_names():
    """Every name of Table 3's cells, `<corpus>/<variant>`, published or not, in the table's
    order (`kasm_keras.paper.TABLE3_PERPLEXITY`)."""
    return family_names("language_model")


def time_series_names():
    """Every time-series name the zoo knows, `<dataset>/<variant>_<n>gram`, published or not."""
    return family_names("time_series")


def known_names():
    """Every name the zoo knows, published or not: each family's in its registration order
    (Table 2's cells, then Table 3's, then the time-series ones)."""
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
    """(dataset, variant, ngram) of a name of Table 2's cells (`classification_names`), else
    None."""
    return task_family.get("classification").parse_name(name)


def parse_language_model_name(name):
    """(corpus, variant) of a name of Table 3's cells (`language_model_names`), else None."""
    return task_family.get("language_model").parse_name(name)


def parse_time_series_name(name):
    """(dataset, variant, ngram) of a time-series name (`time_series_names`), else None."""
    return task_family.get("time_series").parse_name(name)


def name_task(name):
    """The task (the family's name: "classification", "language_model", "time_series") of a
    name the zoo knows, else None."""
    family = task_family.of_name(name)
    return family.name if family else None


def make_commands(name):
    """The commands that train and publish entry `name` (a name the zoo knows) from its
    dataset's official archive (tools/train.py downloads it when given no --data_dir)."""
    run = f"runs/{name}"
    return [task_family.of_name(name).train_command(name, run),
            f"python tools/zoo.py publish --model_dir={run} --name={name}"]


def no_entry(name, entries):
    """The error for a name that has no entry: how to make it when it is a name the zoo knows,
    the available names otherwise."""
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
