"""Tables of measured results: the zoo's entries (and finished runs) beside the paper's Table 2
and the PyTorch reproduction's, and the paper's claims judged on them.

Seed runs: a cell of Table 2 may be trained with several seeds; the entry published is the one
with the best validation accuracy (`kasm_keras.zoo.best_run`), and the others are recorded in
`seed_runs.json` beside the registry (`kasm_keras/zoo/seed_runs.json` for the package's; a
private zoo's in its folder) by `python tools/results.py --seed_runs=GLOB`. Its format:

    {"about": "...", "runs": {"<dataset>/<variant>_<n>gram": [
        {"seed": 1, "val_accuracy": 0.8912, "test_accuracy": 0.9001, "steps": 3900,
         "training_documents": 26318, "run": "runs/zoo/...", "command": "python tools/train.py ...",
         "recipe": {...config.json's settings named by the family's recipe_keys...}}, ...]}}

with accuracies as fractions, as in metrics.json. A cell's accuracies over seeds are its
entry's (measured from the stored files) and those of its recorded runs with other seeds; a
recorded run whose recipe differs from the entry's is refused, naming the setting.
"""

import json
import math
import os

from benchmarks.reporting import claims
from kasm_keras import paper, zoo
from kasm_keras.utils.files import read_json, write_text

SEED_RUNS = "seed_runs.json"
ABOUT = ("Runs of the zoo's cells with other seeds than the published entry's, for the seed "
         "noise of tools/results.py's tables; written by `python tools/results.py "
         "--seed_runs=GLOB`. Accuracies are fractions, as in metrics.json.")


def _source(folder):
    """How the table names a run: relative to here when local, the URL otherwise."""
    return os.path.relpath(folder) if "://" not in folder else folder


def _entry_metadata(name, zoo_dir=None):
    """The entry's metadata.json (its kasm_keras part), read from its verified files."""
    metadata = read_json(os.path.join(zoo.entry_dir(name, zoo_dir), "metadata.json"))
    # keras-hub's metadata.json holds the entry's own under "kasm_keras".
    return metadata.get("kasm_keras", metadata)


def _known_names():
    """{field: the names a run's metrics.json may give it}."""
    from kasm_keras.layers import VARIANTS
    from kasm_keras.models import task_family

    return {"dataset": task_family.all_datasets(), "model": VARIANTS}


def _non_finite(value, field=""):
    """The first field (a dotted path) of `value` holding a number that is not finite."""
    if isinstance(value, float) and not math.isfinite(value):
        return field
    items = (value.items() if isinstance(value, dict)
             else enumerate(value) if isinstance(value, list) else ())
    for key, item in items:
        found = _non_finite(item, f"{field}.{key}" if field else str(key))
        if found:
            return found
    return None


def run_problem(metrics):
    """Why a run's metrics.json cannot be a row of a table, or None: a dataset or model that is
    none of the names this code knows (a table row, a README line, a path made from it would
    carry it), or a number that is NaN or infinite."""
    for field, names in _known_names().items():
        if field in metrics and metrics[field] not in names:
            return f"{field} {metrics[field]!r} is not one of {', '.join(names)}"
    field = _non_finite(metrics)
    if field:
        return f"{field} is {_at(metrics, field)}, not a finite number"
    text = metrics.get("word_vectors")  # the only free text a row shows
    if text is not None and (not isinstance(text, str) or any(c in text for c in "|\r\n")):
        return f"word_vectors {text!r} is not one line of text without '|'"
    return None


def _at(metrics, field):
    value = metrics
    for key in field.split("."):
        value = value[int(key) if isinstance(value, list) else key]
    return value


def run_metrics(runs_dir, warn):
    """[metrics.json with its "source"] of every finished run under `runs_dir` (a local or any
    tf.io.gfile path such as gs://...), classifiers and language models alike. A run with a
    `run_problem` is left out, and `warn` (a callable taking the message) told which file and
    field: no run is left out unsaid."""
    import tensorflow as tf

    if not tf.io.gfile.isdir(runs_dir):
        raise FileNotFoundError(f"--runs_dir={runs_dir}: no such folder")
    paths = sorted(f"{folder.rstrip('/')}/metrics.json" if "://" in folder
                   else os.path.join(folder, "metrics.json")
                   for folder, _, files in tf.io.gfile.walk(runs_dir) if "metrics.json" in files)
    found = []
    for path in paths:
        metrics, folder = read_json(path), os.path.dirname(path)
        problem = run_problem(metrics) if isinstance(metrics, dict) else None
        if any(c in folder for c in "|\r\n"):
            problem = "its folder's name holds a line break or '|', which a table row cannot"
        if problem:
            warn(f"{path if path.isprintable() else repr(path)}: {problem}; left out of the "
                 "tables")
            continue
        found.append({**metrics, "source": _source(folder)})
    return [m for m in found if m.get("test_evaluated") is not False]  # a recipe search's run


def run_table(metrics):
    """The table a finished run's metrics.json is a row of, as its family names it
    (`report_table`): "language_models" (`benchmarks.reporting.language_models`),
    "time_series" (`benchmarks.reporting.time_series`) or "results" (a classifier's)."""
    from kasm_keras.models import task_family

    family = task_family.of_run(metrics) or task_family.get(task_family.DEFAULT)
    return family.report_table


def collect(zoo_dir=None, runs=()):
    """Metrics of the zoo's classifiers and of the classifier runs among `runs` (`run_metrics`'
    list), as a list of dicts. The language models, entries and runs, are
    `benchmarks.reporting.language_models`' table, the time-series classifiers
    `benchmarks.reporting.time_series`'."""
    found = []
    for name in zoo.names(zoo_dir, task=zoo.CLASSIFICATION):
        metadata = _entry_metadata(name, zoo_dir)
        # The entry's test accuracy is the one measured from its stored files.
        found.append({**metadata["metrics"], "test_accuracy": metadata["test_accuracy"],
                      "source": f"zoo: {name}"})
    found += [m for m in runs if run_table(m) == "results"]
    return found


# ------------------------------------------------------------------ seed runs

def seed_runs_path(zoo_dir=None):
    return os.path.join(os.path.dirname(zoo.registry_path(zoo_dir)), SEED_RUNS)


def read_seed_runs(zoo_dir=None):
    """{name: [run summary]} of the recorded seed runs ({} when none are)."""
    path = seed_runs_path(zoo_dir)
    if not os.path.exists(path):
        return {}
    try:
        data = read_json(path)
    except ValueError as error:
        raise zoo.ZooError(str(error)) from None
    runs = data.get("runs") if isinstance(data, dict) else None
    if not isinstance(runs, dict) or not all(
            isinstance(r, list) and all(isinstance(x, dict) and {"seed", "test_accuracy"} <= set(x)
                                        and {"val_accuracy", "cv_accuracy"} & set(x)
                                        for x in r) for r in runs.values()):
        raise zoo.ZooError(f"{path}: not a seed-runs file (expected {{\"runs\": {{name: [{{seed, "
                           "val_accuracy or cv_accuracy, test_accuracy, ...}]}}})")
    return runs


def add_seed_runs(runs, model_dirs):
    """`runs` with the summaries of the finished runs `model_dirs` added (a run of a name and
    seed already recorded replaces it)."""
    runs = {name: list(records) for name, records in runs.items()}
    for model_dir in model_dirs:
        summary = zoo.run_summary(model_dir)
        name = summary.pop("name")
        summary["run"] = _source(model_dir)
        records = [r for r in runs.get(name, []) if r["seed"] != summary["seed"]]
        runs[name] = sorted(records + [summary], key=lambda r: r["seed"])
    return dict(sorted(runs.items()))


def write_seed_runs(runs, zoo_dir=None):
    write_text(seed_runs_path(zoo_dir),
               json.dumps({"about": ABOUT, "runs": runs}, indent=2, sort_keys=True) + "\n")


def seed_accuracies(zoo_dir=None, runs=None, task=zoo.CLASSIFICATION):
    """({name: [(seed, test accuracy in %, source)]} of every published entry of `task` (a
    family's name, of a family measured by accuracy), the entry's own seed first, and warnings
    (a recorded seed that its family's `selection_key` chooses before the published one). A
    recorded run trained otherwise than the entry raises a ZooError."""
    from kasm_keras.models import task_family

    family = task_family.get(task)
    runs = read_seed_runs(zoo_dir) if runs is None else runs
    found, warnings = {}, []
    for name in zoo.names(zoo_dir, task=task):
        metadata = _entry_metadata(name, zoo_dir)
        training = metadata.get("training", {})
        seed = metadata.get("seed", training.get("seed"))
        accuracies = [(seed, 100 * float(metadata["test_accuracy"]), f"zoo: {name}")]
        published = family.selection_key(family.run_summary(metadata["metrics"], training)) \
            if "metrics" in metadata and "seed" in training else None
        for record in runs.get(name, []):
            if record["seed"] == seed:
                continue
            where = f"{seed_runs_path(zoo_dir)}: {name} seed {record['seed']} ({record.get('run')})"
            for key, value in record.get("recipe", {}).items():
                if key in training and training[key] != value:
                    raise zoo.ZooError(f"{where}: trained with {key}={value!r}, the published "
                                       f"entry with {training[key]!r}; not a seed of the same cell")
            documents = record.get("training_documents")
            if documents is not None and documents != metadata.get("training_documents"):
                raise zoo.ZooError(f"{where}: {documents:,} training documents, the published "
                                   f"entry {metadata.get('training_documents')}")
            chosen = family.selection_key(record)[0]
            if published is not None and chosen < published[0]:
                warnings.append(f"{where} is chosen before the published seed {seed} by its "
                                f"{'cross-validated' if 'cv_accuracy' in record else 'validation'}"
                                f" accuracy ({-100 * chosen:.2f}%, the published "
                                f"{-100 * published[0]:.2f}%): publish it instead")
            accuracies.append((record["seed"], 100 * float(record["test_accuracy"]),
                               record.get("run", "")))
        found[name] = accuracies
    return found, warnings


def mean_sd(values):
    """Mean and sample standard deviation (None for one value)."""
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, None
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def over_seeds(values):
    """A table cell of a cell's test accuracies over its seeds (in %): "mean ± sd (k seeds)",
    "1 seed", or empty for none."""
    if not values:
        return ""
    if len(values) < 2:
        return "1 seed"
    mean, sd = mean_sd(values)
    return f"{mean:.2f} ± {sd:.2f} ({len(values)} seeds)"


# ------------------------------------------------------------------ tables

def _number(value):
    return "" if value is None else f"{value:.2f}"


def _difference(ours, reference):
    return "" if reference is None else f"{ours - reference:+.2f}"


def markdown_table(metrics, seeds=None):
    """The results table. `seeds`, {name: [test accuracy in % of each seed]}, gives a zoo row its
    mean ± standard deviation over seeds; the differences to the paper's and the PyTorch
    reproduction's single numbers are of that mean (of the row's accuracy without seeds)."""
    seeds = seeds or {}
    lines = ["| dataset | variant | n | test accuracy | mean ± sd over seeds | paper | "
             "PyTorch reproduction | vs paper | vs PyTorch | validation | training documents | "
             "word vectors | steps | minutes | source |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for m in sorted(metrics, key=lambda m: (m["dataset"], m["model"], m["ngram"], m["source"])):
        cell = (m["dataset"], m["model"], m["ngram"])
        reported, reproduced = paper.table2_accuracy(*cell), paper.pytorch_table2_accuracy(*cell)
        ours = 100 * m["test_accuracy"]
        values = seeds.get(m["source"][len("zoo: "):]) if m["source"].startswith("zoo: ") else None
        compared = mean_sd(values)[0] if values and len(values) > 1 else ours
        vectors = f"{m['parameters']['embedding_dim']}d " + (
            m["word_vectors"].split(":")[0] if m.get("word_vectors") else "random")
        lines.append(
            f"| {m['dataset']} | `{m['model']}` | {m['ngram']} | {ours:.2f} | "
            f"{over_seeds(values)} | "
            f"{_number(reported)} | {_number(reproduced)} | {_difference(compared, reported)} | "
            f"{_difference(compared, reproduced)} | "
            f"{100 * m['val_accuracy']:.2f} | "
            f"{m['splits']['train'] + m['splits']['validation']:,} | "
            f"{vectors} | {m['steps']:,} | {m['train_seconds'] / 60:.1f} | {m['source']} |")
    return "\n".join(lines)


def cells_by_dataset(accuracies):
    """{dataset: {(variant, ngram): [accuracy in %]}} from `seed_accuracies`' first result."""
    cells = {}
    for name, values in accuracies.items():
        parsed = zoo.parse_name(name)
        if parsed is None:  # a private zoo's entry outside Table 2
            continue
        dataset, variant, ngram = parsed
        cells.setdefault(dataset, {})[(variant, ngram)] = [v for _, v, _ in values]
    return cells


def claims_table(accuracies):
    """The claims for the datasets with published entries (none can be judged on the others)."""
    cells = cells_by_dataset(accuracies)
    return claims.markdown_table(cells, [d for d in zoo.DATASETS if d in cells],
                                 paper.TABLE2_ACCURACY, paper.PYTORCH_TABLE2_ACCURACY)
