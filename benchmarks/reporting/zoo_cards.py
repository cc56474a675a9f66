"""The zoo's model cards (one page per registry entry) and the README's one-line-per-dataset
summary, from the registry and seed_runs.json alone."""

import re

from kasm_keras import zoo
from kasm_keras.models import task_family
from benchmarks.reporting import results


def page_path(name):
    """The card's page under the site's docs folder."""
    return f"zoo/{name}.md"


def _seeds(name, accuracies):
    values = [v for _, v, _ in accuracies.get(name, [])]
    if len(values) < 2:
        return "one seed (no seed noise measured for this cell)"
    mean, sd = results.mean_sd(values)
    return f"{mean:.2f} ± {sd:.2f} over {len(values)} seeds"


def _model_dir(command):
    """The run folder a training command writes (its default when the command names none)."""
    found = re.search(r"--model_dir=(\S+)", command)
    return found[1] if found else "RUN"


def model_card(name, accuracies, zoo_dir=None):
    """One entry's card, as Markdown: task, data, command, metrics beside the paper's and the
    PyTorch reproduction's, seed noise, files and digests, and how to use it."""
    info = zoo.info(name, zoo_dir)
    entry = zoo.registry(zoo_dir)[name]
    task = zoo.entry_task(entry)  # as recorded: a private entry's name need not tell
    family = task_family.get(task)
    rows, data = family.card_measured(info, _seeds(name, accuracies))
    ngram = f", {info['ngram']}-gram" if info.get("ngram") else ""
    lines = [
        f"# {name}", "",
        f"**Task**: {task.replace('_', ' ')}. **Cell**: `{info['variant']}`{ngram} "
        f"(see [the cells](../../cells.md)).", "",
        f"**Trained on** {data}.", "",
        f"**Seed** {info.get('seed')}; **stored as** {info.get('storage')}.", "",
        "## Made by", "", "```", info["command"],
        f"python tools/zoo.py publish --model_dir={_model_dir(info['command'])} --name={name}",
        "```", "",
        "## Measured", "",
        "| metric | this entry | paper | PyTorch reproduction |", "|---|---|---|---|",
        *[f"| {m} | {a} | {b} | {c} |" for m, a, b, c in rows], "",
        "## Files", "",
        f"Fetched from `{entry['url']}/<file>` (or a local zoo) and checked against these "
        "sha256 digests before anything is read:", "",
        "| file | sha256 |", "|---|---|",
        *[f"| `{f}` | `{digest}` |" for f, digest in sorted(entry["files"].items())], "",
        "## Use it", "",
        "```python", "import kasm_keras", "import numpy as np", "",
        family.card_usage.format_map({**info, "name": name}), "```", "", "```",
        f"python tools/evaluate.py --zoo={name}",
        f"python tools/explain.py --zoo={name} {family.card_explain_input} --html=page.html",
        f"python tools/export.py --zoo={name} --export_dir=BASE", "```", ""]
    return "\n".join(lines)


def _headline(name, zoo_dir=None):
    """(value, paper's value, label) of an entry's headline metric."""
    info = zoo.info(name, zoo_dir)
    family = task_family.get(zoo.name_task(name))
    value, reference = info[family.test_metric], info.get(family.headline_paper_metric)
    return value, "" if reference is None else f"{reference:.2f}{family.headline_paper_note}", \
        family.headline_label.format(value)


def summary_block(zoo_dir=None):
    """The README's zoo summary: one line per dataset, its best entry beside the paper's same
    cell (the time series' paper number is Table 4's, on other data)."""
    lines = ["| dataset | entries | best entry | measured | paper's (same cell) |",
             "|---|---|---|---|---|"]
    by_dataset = {}
    for name in zoo.names(zoo_dir):
        by_dataset.setdefault(name.split("/")[0], []).append(name)
    for dataset, names in by_dataset.items():
        lowest = task_family.get(zoo.name_task(names[0])).lower_is_better
        best = sorted(names, key=lambda n: _headline(n, zoo_dir)[0], reverse=not lowest)[0]
        _, reference, label = _headline(best, zoo_dir)
        lines.append(f"| {dataset} | {len(names)} | `{best}` | {label} | {reference} |")
    return "\n".join(lines)


def entries_block(zoo_dir=None):
    """The zoo page's list of cards: a line per entry with its measured metric."""
    lines = ["| entry | task | measured | paper's |", "|---|---|---|---|"]
    for name in zoo.names(zoo_dir):
        _, reference, label = _headline(name, zoo_dir)
        lines.append(f"| [{name}]({name}.md) | {zoo.name_task(name).replace('_', ' ')} | "
                     f"{label} | {reference} |")
    return "\n".join(lines)
