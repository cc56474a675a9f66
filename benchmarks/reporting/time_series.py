"""The time-series classifiers' table: the zoo's JapaneseVowels entries (`kasm_keras.zoo.
time_series`), each beside its goal and beside the paper's Table 4 number for its variant, which
is on another data set (mouse local field potentials, not public) and stands there for context.
Each entry's accuracy over seeds comes from the recorded seed runs (`results.seed_accuracies`).
"""

from benchmarks.reporting import results
from kasm_keras import paper, zoo
from kasm_keras.models.time_series_classifier import family as time_series


def entries(zoo_dir=None):
    """{name: info} of the published time-series entries (from the registry alone)."""
    return {name: zoo.info(name, zoo_dir) for name in zoo.names(zoo_dir, task=zoo.TIME_SERIES)}


def _number(value, digits=2):
    return "" if value is None else f"{value:,.{digits}f}"


def chosen_by(info):
    """How an entry was chosen without the test split, for its row: a final fit's
    cross-validated accuracy (mean ± sd over its folds) or the validation accuracy."""
    cv = info.get("cross_validation")
    if cv:
        return (f"{cv['fold_count']}-fold CV {info['cv_accuracy']:.2f} ± "
                f"{100 * cv['sd_accuracy']:.2f}")
    value = info.get("val_accuracy")
    return "" if value is None else f"validation {value:.2f}"


def markdown_table(infos, seeds=None):
    """Every time-series name the zoo knows, measured where published; `seeds`, {name: [test
    accuracy in % of each seed]}, gives a row its mean ± standard deviation over seeds."""
    seeds = seeds or {}
    lines = ["| dataset | variant | n | test accuracy | mean ± sd over seeds | goal | goal met | "
             "chosen by (training file only) | paper's Table 4 (LFP, another data set) | "
             "training / validation / test cases | parameters (KernelRNN / total) | steps | "
             "minutes | source |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name in zoo.time_series_names():
        dataset, variant, ngram = zoo.parse_time_series_name(name)
        goal = 100 * time_series.GOALS[variant]
        lfp = _number(paper.table4_accuracy(variant))
        info = infos.get(name)
        if info is None:
            lines.append(f"| {dataset} | `{variant}` | {ngram} |  |  | {goal:.0f} |  |  | {lfp} |"
                         "  |  |  |  | not published yet |")
            continue
        met = "met" if info["test_accuracy"] >= goal else "**not met**"
        parameters = info.get("parameters") or {}
        cases = " / ".join(f"{info.get(k, 0):,}" for k in (
            "training_cases", "validation_cases", "test_cases"))
        lines.append(
            f"| {dataset} | `{variant}` | {ngram} | {_number(info['test_accuracy'])} | "
            f"{results.over_seeds(seeds.get(name))} | {goal:.0f} | {met} | {chosen_by(info)} | "
            f"{lfp} | {cases} | "
            f"{parameters.get('kernel_rnn', 0):,} / {parameters.get('total', 0):,} | "
            f"{info.get('steps', 0):,} | {_number(info.get('training_minutes'), 1)} | "
            f"zoo: {name} |")
    return "\n".join(lines)


def goals_statement(infos):
    published = [i for i in infos.values() if i.get("variant") in time_series.GOALS]
    met = [i for i in published if i["test_accuracy"] >= 100 * time_series.GOALS[i["variant"]]]
    by_goal = {}
    for variant, goal in time_series.GOALS.items():
        by_goal.setdefault(goal, []).append(f"`{variant}`")
    goals = "; ".join(f"{100 * g:.0f}% for {', '.join(v)}" for g, v in sorted(by_goal.items()))
    return (f"Goals (test accuracy on JapaneseVowels, `kasm_keras/models/time_series_classifier/family.py`: {goals}): "
            f"met by {len(met)} of the {len(published)} published entries "
            f"({len(zoo.time_series_names())} names).")


def references():
    """The paper's whole Table 4, and what it measured."""
    cells = ", ".join(f"`{v}` {a:.2f}" for v, a in paper.TABLE4_ACCURACY.items())
    return (f"The paper's Table 4 is on {paper.TABLE4_DATA}: {cells} (its LSTM row is "
            "\"n-gram LSTM\"). Those recordings are not public, so the zoo's entries are trained "
            "on JapaneseVowels (UEA; 12 channels, 9 speakers) instead: the column shows the "
            "paper's number for the same variant for context only; the two data sets do not "
            "compare.")


def readme_block(zoo_dir=None, seed_runs=None):
    """The "time_series" table of the time-series guide, from the registry and the seed runs
    (`seed_runs`, {name: [run summary]}; the recorded ones by default)."""
    infos = entries(zoo_dir)
    accuracies, _ = results.seed_accuracies(zoo_dir, seed_runs, task=zoo.TIME_SERIES)
    seeds = {name: [v for _, v, _ in values] for name, values in accuracies.items()}
    return "\n".join([markdown_table(infos, seeds), "", goals_statement(infos), "",
                      references()])
