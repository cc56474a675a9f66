"""The zoo's model cards (one page per registry entry) and the README's one-line-per-dataset
summary, from the registry and seed_runs.json alone."""

import re

from kasm_keras import paper, zoo
from benchmarks.reporting import results

# How each task's entry is loaded, explained and fine-tuned, and what it reads.
USAGE = {
    zoo.CLASSIFICATION: (
        "classifier = kasm_keras.zoo.load(\"{name}\")  # a KernelTextClassifier\n"
        "classifier.classify([\"Oil prices rose as markets opened\"])\n"
        "classifier.explain([\"Oil prices rose as markets opened\"])  # each token's share\n"
        "classifier.fit(texts, labels, epochs=1)  # fine-tunes"),
    zoo.LANGUAGE_MODEL: (
        "lm = kasm_keras.zoo.load(\"{name}\")  # a KernelCausalLM\n"
        "lm.generate(\"the company said\", max_length=30)\n"
        "lm.score_texts([\"the company said it expects higher sales\"])\n"
        "lm.explain(\"the company said\")  # each word's share of the next word's logit\n"
        "lm.fit(token_windows, epochs=1)  # fine-tunes"),
    zoo.TIME_SERIES: (
        "model = kasm_keras.zoo.load(\"{name}\")  # a TimeSeriesClassifier\n"
        "model.classify([np.random.randn(20, {channels})])\n"
        "model.explain([np.random.randn(20, {channels})])  # each step's and channel's share\n"
        "model.fit(series, labels, epochs=1)  # fine-tunes"),
}
# What tools/explain.py reads for each task's entry.
EXPLAIN_INPUT = {zoo.CLASSIFICATION: "--text=\"Oil prices rose as markets opened\"",
                 zoo.LANGUAGE_MODEL: "--prompt=\"the company said\"",
                 zoo.TIME_SERIES: "--series=CASES.ts --cases=0"}


def page_path(name):
    """The card's page under the site's docs folder."""
    return f"zoo/{name}.md"


def _percent(value):
    return "" if value is None else f"{value:.2f}"


def _seeds(name, accuracies):
    values = [v for _, v, _ in accuracies.get(name, [])]
    if len(values) < 2:
        return "one seed (no seed noise measured for this cell)"
    mean, sd = results.mean_sd(values)
    return f"{mean:.2f} ± {sd:.2f} over {len(values)} seeds"


def _language_model(name, info, accuracies):
    tokens = info.get("corpus_tokens", {})
    rows = [("test perplexity", f"{info['test_perplexity']:.2f}",
             _percent(info.get("paper_perplexity")), _percent(info.get("pytorch_perplexity"))),
            ("validation perplexity", f"{info['val_perplexity']:.2f}",
             _percent(info.get("paper_valid_perplexity")), "")]
    data = (f"{info['dataset']}: {tokens.get('train', 0):,} training tokens, "
            f"{info.get('epochs', 0):.0f} epochs ({info.get('steps', 0):,} steps)")
    return rows, data


def _time_series(name, info, accuracies):
    rows = [("test accuracy (%)", _percent(info["test_accuracy"]),
             f"{_percent(info.get('paper_lfp_accuracy'))} (Table 4, {paper.TABLE4_DATA})", ""),
            ("validation accuracy (%)", _percent(info.get("val_accuracy")), "", "")]
    data = (f"{info['dataset']}: {info['training_cases']} training, "
            f"{info['validation_cases']} validation and {info['test_cases']} test cases")
    return rows, data


def _classification(name, info, accuracies):
    rows = [("test accuracy (%)", _percent(info["test_accuracy"]),
             _percent(info.get("paper_accuracy")), _percent(info.get("pytorch_accuracy"))),
            ("seed noise", _seeds(name, accuracies), "", "")]
    data = (f"{info['dataset']}: {info['training_documents']:,} training documents (training "
            f"and validation; the paper used the full split); word vectors "
            f"{info.get('word_vectors', 'none')}")
    return rows, data


# Each task's card rows (metric, this entry, paper, reproduction) and what it was trained on.
MEASURED = {zoo.CLASSIFICATION: _classification, zoo.LANGUAGE_MODEL: _language_model,
            zoo.TIME_SERIES: _time_series}

# Each task's headline metric: (zoo.info field, lower is better, the paper's field, label, what
# the paper's number is of).
HEADLINE = {zoo.CLASSIFICATION: ("test_accuracy", False, "paper_accuracy", "test accuracy {:.2f}%",
                                 ""),
            zoo.LANGUAGE_MODEL: ("test_perplexity", True, "paper_perplexity",
                                 "test perplexity {:.2f}", ""),
            zoo.TIME_SERIES: ("test_accuracy", False, "paper_lfp_accuracy",
                              "test accuracy {:.2f}%", " (Table 4: LFP, other data)")}


def _model_dir(command):
    """The run folder a training command writes (its default when the command names none)."""
    found = re.search(r"--model_dir=(\S+)", command)
    return found[1] if found else "RUN"


def model_card(name, accuracies, zoo_dir=None):
    """One entry's card, as Markdown: task, data, command, metrics beside the paper's and the
    PyTorch reproduction's, seed noise, files and digests, and how to use it."""
    info = zoo.info(name, zoo_dir)
    entry = zoo.registry(zoo_dir)[name]
    task = zoo.name_task(name)
    rows, data = MEASURED[task](name, info, accuracies)
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
        USAGE[task].format(name=name, channels=info.get("channels", 1)), "```", "", "```",
        f"python tools/evaluate.py --zoo={name}",
        f"python tools/explain.py --zoo={name} {EXPLAIN_INPUT[task]} --html=page.html",
        f"python tools/export.py --zoo={name} --export_dir=BASE", "```", ""]
    return "\n".join(lines)


def _headline(name, zoo_dir=None):
    """(value, paper's value, label) of an entry's headline metric."""
    info = zoo.info(name, zoo_dir)
    field, _, paper_field, label, of = HEADLINE[zoo.name_task(name)]
    reference = info.get(paper_field)
    return info[field], "" if reference is None else f"{reference:.2f}{of}", label.format(
        info[field])


def summary_block(zoo_dir=None):
    """The README's zoo summary: one line per dataset, its best entry beside the paper's same
    cell (the time series' paper number is Table 4's, on other data)."""
    lines = ["| dataset | entries | best entry | measured | paper's (same cell) |",
             "|---|---|---|---|---|"]
    by_dataset = {}
    for name in zoo.names(zoo_dir):
        by_dataset.setdefault(name.split("/")[0], []).append(name)
    for dataset, names in by_dataset.items():
        lowest = HEADLINE[zoo.name_task(names[0])][1]
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
