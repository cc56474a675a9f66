"""The program `python tools/results.py` runs: its flags (`define_flags`) and `main`.

Prints the measured accuracies beside the paper's Table 2 and the PyTorch reproduction's, and
the paper's claims judged on them, from the zoo's registry (and finished runs); then the language
models' perplexities beside Table 3's, and whether the paper's ordering of the cells holds; then
the time-series classifiers' accuracies beside their goals and Table 4's (another data set).

Its usage (what `--help` prints) is tools/results.py's docstring.
"""

import glob
import os
import sys

from absl import app, flags

from benchmarks.reporting import language_models, readme, results, time_series, zoo_cards
from kasm_keras import zoo
from kasm_keras.cli import tool_support

FLAGS = flags.FLAGS
ERRORS = (zoo.ZooError,)


def define_flags(flag_values=FLAGS):
    kw = {"flag_values": flag_values}
    flags.DEFINE_string("runs_dir", None, "Also include finished runs under this folder (local "
                        "or any tf.io.gfile path, e.g. gs://...).", **kw)
    flags.DEFINE_list("seed_runs", None, "Finished runs (folders or globs, comma-separated) of "
                      "the zoo's cells with other seeds: recorded in seed_runs.json beside the "
                      "registry, for the seed noise of the tables.", **kw)
    tool_support.define_zoo_dir(flag_values, "the entries")
    flags.DEFINE_bool("update_readme", False, "Replace the README's zoo summary (from the "
                      "registry; not with --runs_dir).", **kw)
    tool_support.existing_folder(flag_values, "runs_dir")


def table(metrics, seeds=None):
    """The results table; one metrics.json that lacks what the table shows is named."""
    for m in metrics:
        try:
            results.markdown_table([m])
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            what = f"no {error.args[0]!r}" if isinstance(error, KeyError) else repr(error)
            source = m.get("source", "?")
            where = source if source.startswith("zoo: ") else f"{source}/metrics.json"
            tool_support.fail(f"{where}: not a finished tools/train.py run's metrics ({what})")
    return results.markdown_table(metrics, seeds)


def language_model_table(runs, zoo_dir=None):
    """The language models' block: the README's (from the registry) with finished runs' rows
    (`runs`, their metrics.json) added; a metrics.json that lacks what the table shows is
    named."""
    for m in runs:
        try:
            language_models.markdown_table([language_models.row_from_metrics(m, m["source"])])
        except (KeyError, TypeError, ValueError) as error:
            what = f"no {error.args[0]!r}" if isinstance(error, KeyError) else repr(error)
            tool_support.fail(f"{m.get('source', '?')}/metrics.json: not a finished "
                              f"tools/train.py language model run's metrics ({what})")
    return language_models.block(zoo_dir, [(m, m["source"]) for m in runs])


def seed_run_folders(patterns):
    """The finished run folders the patterns name; an unfinished one is skipped, on stderr."""
    folders = sorted({folder for pattern in patterns
                      for folder in (glob.glob(pattern) or [pattern])})
    if not folders:
        tool_support.fail(f"--seed_runs={','.join(patterns)}: no such folders")
    finished = []
    for folder in folders:
        if not os.path.isdir(folder):
            tool_support.fail(f"--seed_runs: {folder}: no such folder")
        if os.path.exists(os.path.join(folder, "metrics.json")):
            finished.append(folder)
        else:
            print(f"skipped {folder}: not finished (no metrics.json)", file=sys.stderr)
    return finished


# The tables the program prints, in order; the documentation's pages show them and the recipes.
PRINTED = ("results", "claims", "language_models", "time_series")


def tables(zoo_dir=None, seed_runs=None, runs_dir=None):
    """({block name: text}, warnings): the tables the program prints (`PRINTED`) and the
    "language_model_recipes" block, from the registry at `zoo_dir`, the seed runs `seed_runs`
    ({name: [run summary]}; the recorded ones by default) and the finished runs under
    `runs_dir` (none in the documentation's). Without `runs_dir` these are the tables the
    documentation's pages show (benchmarks/docs_site.py). A run that lacks what its table shows ends the program naming
    its metrics.json."""
    accuracies, warnings = results.seed_accuracies(zoo_dir, seed_runs)
    warnings += results.seed_accuracies(zoo_dir, seed_runs, task=zoo.TIME_SERIES)[1]
    try:
        runs_metrics = results.run_metrics(runs_dir, warn=warnings.append) if runs_dir else []
        metrics = results.collect(zoo_dir=zoo_dir, runs=runs_metrics)
        lm_runs = [m for m in runs_metrics if results.run_table(m) == "language_models"]
    except ValueError as error:  # a metrics.json that is not JSON, named by kasm_keras.utils.files
        tool_support.fail(error)
    blocks = {
        "results": table(metrics, {name: [v for _, v, _ in values]
                                   for name, values in accuracies.items()}),
        "claims": results.claims_table(accuracies),
        "language_models": language_model_table(lm_runs, zoo_dir),
        "time_series": time_series.readme_block(zoo_dir, seed_runs),
        "language_model_recipes": language_models.recipes_block(),
    }
    return blocks, warnings


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    if FLAGS.update_readme and FLAGS.runs_dir:
        raise app.UsageError("--update_readme takes the tables from the registry alone; leave "
                             "out --runs_dir")
    runs = results.read_seed_runs(FLAGS.zoo_dir)
    if FLAGS.seed_runs:
        runs = results.add_seed_runs(runs, seed_run_folders(FLAGS.seed_runs))
    # Every check runs before anything is written.
    blocks, warnings = tables(FLAGS.zoo_dir, runs, FLAGS.runs_dir)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if FLAGS.seed_runs:
        results.write_seed_runs(runs, FLAGS.zoo_dir)
    print("\n\n".join(blocks[name] for name in PRINTED))
    if FLAGS.update_readme:
        readme.replace_block("zoo", zoo_cards.summary_block(FLAGS.zoo_dir))
