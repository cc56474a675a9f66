"""Evaluates a trained model (a --model_dir or a --zoo entry) on a dataset split, or on text.

python tools/evaluate.py --model_dir=runs/ag_news/rkm_cifg_1gram --data_dir=../shared/data
python tools/evaluate.py --zoo=ag_news/rkm_cifg_1gram --text="Stocks rallied on Friday"
python tools/evaluate.py --zoo=ptb/rkm_lstm --dataset=ptb --split=test --data_dir=../shared/data
python tools/evaluate.py --zoo=ptb/rkm_lstm --text="the company said it expects higher sales"
python tools/evaluate.py --zoo=japanese_vowels/rkm_lstm_3gram [--data_dir=DIR]
python tools/evaluate.py --cv=leave_one_group_out --zoo=japanese_vowels/rkm_lstm_3gram \
    --dataset=ts_files --data_dir=DIR --groups=groups.csv --group_column=animal [--cv_dir=DIR]

A classifier: accuracy, per-class precision/recall/F1 and the confusion matrix; --text classifies
(a header row, then class, probability and text for each, tab-separated).
A time-series classifier (a japanese_vowels/... entry or a time-series run) the same, on its
data set's split (the test file, or the validation cases the run held out of the training file).

--cv=leave_one_group_out cross-validates a time-series recipe as the paper's Table 4 did across
animals: the recipe is the settings of --model_dir's run (its config.json) or of the --zoo
entry's training, the data --dataset's training file (<Problem>_TRAIN.ts; default the recipe's
data set) and --groups a CSV file with a header row and one row per case of that file, in its
order, whose --group_column column names each case's group. One fold per group: trained from
scratch on every other group's cases (its validation cases carved from those, stratified by
class) by the same recipe and loop as tools/train.py, into <cv_dir>/fold_<i>_<group>/, and
tested on the held-out group's cases, so a group is never on both sides. A finished fold is read
back and an interrupted one resumes, so the same command continues a killed cross-validation.
The report gives each fold's accuracy, their mean (the paper's mean leave-one-out accuracy) and
standard deviation, and the accuracy over every held-out case pooled; <cv_dir>/cv.json keeps it.

A language model: the perplexity over the whole split, the stream cut into --batch_size rows
and read in --bptt windows with the state carried from window to window (AWD-LSTM's evaluation,
`KernelCausalLM.perplexity`; by default the run's test_batch_size, or eval_batch_size for the
other splits, and its bptt); --json prints dataset, split, perplexity, cross_entropy (nats per
token), tokens, batch_size and bptt. --text scores each sentence from a fresh state: its
log-likelihood (natural log, its words and the closing <eos>), tokens and perplexity (a header
row, then perplexity, log_likelihood, tokens and text for each, tab-separated).
"""

import contextlib
import json
import os
import sys

from absl import app, flags

from kasm_keras.cli import tool_support
from kasm_keras import zoo
from kasm_keras.data import classification_data, datasets, language_model_data
from kasm_keras.data import time_series_data
from kasm_keras.models import task_family
from kasm_keras.training import time_series
from kasm_keras.training.checkpoints import CheckpointError
from kasm_keras.training.task import TrainingError
from kasm_keras.utils import download, files

FLAGS = flags.FLAGS
ERRORS = (zoo.ZooError, CheckpointError, classification_data.DataError, download.DownloadError,
          download.UnsafeArchiveError, TrainingError)


def define_flags(flag_values=FLAGS):
    kw = {"flag_values": flag_values}
    flags.DEFINE_string("model_dir", None, "A finished tools/train.py run.", **kw)
    flags.DEFINE_string("zoo", None, "A zoo entry name, e.g. ag_news/rkm_cifg_1gram.", **kw)
    tool_support.define_zoo_dir(flag_values)
    flags.DEFINE_enum("dataset", None, datasets.CLASSIFICATION + tuple(language_model_data.CORPORA)
                      + time_series_data.NAMES, "Dataset, a language model's corpus or a time "
                      "series data set (default: the model's own).", **kw)
    flags.DEFINE_string("data_dir", None, "Local copy of the dataset; without it the archive is "
                        "downloaded (a time-series --model_dir: the folder its run read, when it "
                        "is still there).", **kw)
    flags.DEFINE_string("cache_dir", None, "Prepared data cache (default ~/.cache/kasm_keras).",
                        **kw)
    flags.DEFINE_enum("split", "test", ["train", "validation", "valid", "test"], "Split to "
                      "evaluate (validation and valid are the same split).", **kw)
    flags.DEFINE_multi_string("text", None, "Classify this text (a language model: score this "
                              "sentence) instead of a split (repeatable), UTF-8.", **kw)
    flags.DEFINE_integer("batch_size", None, "Language model: rows the split's stream is cut "
                         "into (default: the run's test_batch_size for test, eval_batch_size "
                         "otherwise).", lower_bound=1, **kw)
    flags.DEFINE_integer("bptt", None, "Language model: the window the stream is read in, the "
                         "state carried across windows (default: the run's bptt).",
                         lower_bound=1, **kw)
    flags.DEFINE_bool("json", False, "Print one JSON object to stdout instead of a table.", **kw)
    flags.DEFINE_enum("cv", None, list(time_series.CV_METHODS), "Cross-validate the time-series "
                      "recipe of --model_dir or --zoo instead of evaluating its model: one fold "
                      "per group of --groups.", **kw)
    flags.DEFINE_string("groups", None, "--cv: a CSV file with a header row, then one row per "
                        "case of the training .ts file, in its order.", **kw)
    flags.DEFINE_string("group_column", "group", "--cv: the column of --groups that names each "
                        "case's group (an animal, a subject).", **kw)
    flags.DEFINE_string("cv_dir", None, "--cv: where each fold's run goes, <cv_dir>/fold_<i>_"
                        "<group>/, and cv.json (default runs/<dataset>/<model>_<n>gram_cv).", **kw)
    tool_support.existing_folder(flag_values, "model_dir", "training run folder")
    tool_support.utf8_text(flag_values, "text")
    flags.register_validator(
        "groups", lambda path: path is None or os.path.isfile(path),
        "no such file (the CSV of each training case's group)", flag_values=flag_values)
    tool_support.not_a_file(flag_values, "cv_dir")
    tool_support.existing_folder(flag_values, "data_dir")
    tool_support.not_a_file(flag_values, "cache_dir")
    tool_support.one_model(flag_values)


def _cell(text):
    """`text` as one tab-separated cell: its tabs and line breaks written as \\t, \\n, \\r."""
    return text.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def format_report(report):
    classes = report["classes"]
    unit = "cases" if "cases" in report else "documents"
    lines = [f"{report['dataset']} {report['split']}: accuracy {report['accuracy']:.4f} "
             f"on {report[unit]:,} {unit}", "",
             f"  {'class':<24}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
    for name, s in report["per_class"].items():
        lines.append(f"  {name:<24}{s['precision']:>10.4f}{s['recall']:>10.4f}{s['f1']:>10.4f}"
                     f"{s['support']:>10,}")
    width = max(8, max(len(c) for c in classes) + 2)
    lines += ["", "  confusion matrix (rows: true class, columns: predicted)",
              "  " + " " * 24 + "".join(f"{c[:width - 2]:>{width}}" for c in classes)]
    for name, row in zip(classes, report["confusion_matrix"]):
        lines.append(f"  {name:<24}" + "".join(f"{n:>{width},}" for n in row))
    return "\n".join(lines)


def format_language_model_report(report):
    return (f"{report['dataset']} {report['split']}: perplexity {report['perplexity']:.2f} "
            f"(cross-entropy {report['cross_entropy']:.4f} nats) over {report['tokens']:,} "
            f"tokens, {report['batch_size']} rows, windows of {report['bptt']}")


def evaluate_language_model(lm):
    """Perplexity over a split (or --text's sentences' scores), printed."""
    from kasm_keras.models.kernel_lm import family as language_models

    if FLAGS.text:
        for name in ("batch_size", "bptt"):
            if FLAGS[name].present:
                raise app.UsageError(f"--{name} applies to a split's perplexity, not to --text "
                                     "(each sentence is scored from a fresh state)")
        scores = lm.score_texts(FLAGS.text)
        results = [{"text": t, "log_likelihood": float(ll), "tokens": int(n),
                    "perplexity": float(p)}
                   for t, ll, n, p in zip(FLAGS.text, scores["log_likelihood"], scores["tokens"],
                                          scores["perplexity"])]
        if FLAGS.json:
            print(json.dumps(results))
            return
        print("perplexity\tlog_likelihood\ttokens\ttext")
        for r in results:
            print(f"{r['perplexity']:.2f}\t{r['log_likelihood']:.4f}\t{r['tokens']}\t"
                  f"{_cell(r['text'])}")
        return
    info = lm.info if isinstance(lm.info, dict) else {}
    run = info.get("training", info)
    dataset = FLAGS.dataset or run.get("dataset")
    source = (f"{FLAGS.model_dir}/config.json" if FLAGS.model_dir
              else f"the zoo entry {FLAGS.zoo}'s metadata")
    if FLAGS.dataset and dataset not in language_model_data.CORPORA:
        tool_support.fail(f"--dataset={dataset} is {_kind(dataset)}, but "
                          f"{tool_support.model_source(FLAGS.model_dir, FLAGS.zoo)} is a language "
                          f"model (corpora: {', '.join(language_model_data.CORPORA)})")
    if dataset not in language_model_data.CORPORA:
        tool_support.fail(f"{source} names no language-model corpus this tool knows "
                          f"({dataset!r}); pass --dataset")
    split = "valid" if FLAGS.split in ("valid", "validation") else FLAGS.split
    batch_size = FLAGS.batch_size or int(run.get("test_batch_size" if split == "test"
                                                 else "eval_batch_size", 1 if split == "test"
                                                 else 10))
    bptt = FLAGS.bptt or int(run.get("bptt", 70))
    with tool_support.download_hint(f"the {dataset} corpus"):
        ids = language_models.split_ids(lm, dataset, FLAGS.data_dir, FLAGS.cache_dir, split)
    try:
        scores = language_models.measure(lm, ids, batch_size, bptt)
    except ValueError as error:  # a split too short for --batch_size rows
        tool_support.fail(f"--dataset={dataset} --split={FLAGS.split}: {error}")
    report = {"dataset": dataset, "split": split, "perplexity": scores["perplexity"],
              "cross_entropy": scores["cross_entropy"], "tokens": scores["tokens"],
              "batch_size": batch_size, "bptt": bptt}
    print(json.dumps(report) if FLAGS.json else format_language_model_report(report))


def _refuse(names, why):
    for name in names:
        if FLAGS[name].present:
            raise app.UsageError(f"--{name} {why}")


def evaluate_time_series(classifier):
    """Accuracy, per-class scores and the confusion matrix over a split of the classifier's
    data set (the validation cases as its run held them out), printed."""
    from kasm_keras.models.time_series_classifier import family as zoo_time_series

    _refuse(("text", "batch_size", "bptt"), "applies to text models, not to a time-series "
            "classifier")
    info = classifier.info if isinstance(classifier.info, dict) else {}
    run = info.get("training", info)
    if run.get("fold"):
        tool_support.fail(f"{tool_support.model_source(FLAGS.model_dir, FLAGS.zoo)} is one fold of "
                          f"a cross-validation (group {run['fold'].get('group')!r}): its test "
                          "cases are that group's, its validation cases part of the others'; "
                          "its accuracy is in its metrics.json and the cross-validation's cv.json")
    dataset = FLAGS.dataset or run.get("dataset")
    if dataset not in time_series_data.NAMES:
        tool_support.fail(f"--dataset={dataset} is not a time-series data set, but "
                          f"{tool_support.model_source(FLAGS.model_dir, FLAGS.zoo)} is a "
                          f"time-series classifier (data sets: {', '.join(time_series_data.NAMES)})")
    split = "validation" if FLAGS.split == "valid" else FLAGS.split
    with tool_support.download_hint(f"the {dataset} data set"):
        classes, series, labels = zoo_time_series.split_cases(
            dataset, split, run_data_dir(run), FLAGS.cache_dir, run, classifier)
    if list(classes) != list(classifier.class_names or classes):
        tool_support.fail(f"the model predicts {classifier.class_names}, but {dataset} has "
                          f"classes {list(classes)}")
    if series and series[0].shape[1] != classifier.channels:
        tool_support.fail(f"{dataset} has {series[0].shape[1]} channels, the model takes "
                          f"{classifier.channels}")
    report = {"dataset": dataset, "split": split,
              **classifier.classification_report(series, labels)}
    print(json.dumps(report) if FLAGS.json else format_report(report))


def run_data_dir(run):
    """--data_dir, else (for a --model_dir) the folder the run read when it is still there; a zoo
    entry's data is downloaded without --data_dir."""
    if FLAGS.data_dir is not None or FLAGS.model_dir is None:
        return FLAGS.data_dir
    folder = run.get("data_dir")
    return folder if folder and os.path.isdir(folder) else None


def format_cv_report(report):
    lines = [f"{report['dataset']}: leave-one-group-out over {len(report['folds'])} groups "
             f"({report['group_column']} of {report['groups_file']}), {report['model']} "
             f"{report['ngram']}-gram", "",
             f"  {'group':<24}{'test cases':>12}{'accuracy':>10}  model_dir"]
    for fold in report["folds"]:
        lines.append(f"  {fold['group']:<24}{fold['test_cases']:>12,}"
                     f"{fold['test_accuracy']:>10.4f}  {fold['model_dir']}")
    sd = report["sd_accuracy"]
    lines += ["", f"  mean accuracy {report['mean_accuracy']:.4f}"
              + (f" (sd {sd:.4f} over folds)" if sd is not None else "")
              + f"; pooled over every held-out case {report['pooled_accuracy']:.4f}"]
    return "\n".join(lines)


def recipe(model_dir, zoo_name):
    """The tools/train.py settings (config.json) of a time-series run or zoo entry."""
    if model_dir is not None:
        path = f"{model_dir}/config.json"
        try:
            settings = files.read_json(path)
        except (OSError, ValueError) as error:
            tool_support.fail(f"{path}: {error}")
    else:
        with tool_support.download_hint(f"the zoo entry {zoo_name}", "--zoo_dir"):
            directory = zoo.entry_dir(zoo_name, FLAGS.zoo_dir)
        path = f"{directory}/metadata.json"
        settings = files.read_json(path).get("kasm_keras", {}).get("training", {})
    if not isinstance(settings, dict) or settings.get("dataset") not in time_series_data.NAMES:
        tool_support.fail(f"{path}: not a time-series run's settings; --cv cross-validates a "
                          "time-series recipe")
    return settings


def cross_validate():
    import dataclasses

    _refuse(("text", "batch_size", "bptt", "split"), "does not apply to --cv (each fold tests "
            "on its held-out group)")
    if FLAGS.groups is None:
        raise app.UsageError("--cv needs --groups, the CSV file of each training case's group")
    settings = recipe(FLAGS.model_dir, FLAGS.zoo)
    fields = {f.name for f in dataclasses.fields(time_series.TimeSeriesConfig)}
    values = {k: v for k, v in settings.items() if k in fields}
    dataset = FLAGS.dataset or values["dataset"]
    if dataset not in time_series_data.NAMES:
        tool_support.fail(f"--dataset={dataset} is not a time-series data set "
                          f"({', '.join(time_series_data.NAMES)})")
    values.update(dataset=dataset, cache_dir=FLAGS.cache_dir,
                  data_dir=run_data_dir(settings) if dataset == settings["dataset"]
                  else FLAGS.data_dir)
    cv_dir = FLAGS.cv_dir or f"runs/{dataset}/{values['model']}_{values['ngram']}gram_cv"
    values["model_dir"] = cv_dir
    config = time_series.TimeSeriesConfig(**values)
    # Training's progress goes to stderr; stdout is the report.
    with contextlib.redirect_stdout(sys.stderr), \
            tool_support.download_hint(f"the {dataset} data set"):
        report = time_series.cross_validate(config, FLAGS.groups, FLAGS.group_column, cv_dir,
                                            command=[os.path.basename(sys.executable)] + sys.argv)
    print(json.dumps(report) if FLAGS.json else format_cv_report(report))


def _kind(dataset):
    """What `dataset` is, as the family that trains on it says ("a classification dataset")."""
    family = task_family.of_dataset(dataset)
    return family.data_kind if family else "no dataset this tool knows"


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    if FLAGS.cv:
        return cross_validate()
    _refuse(("groups", "group_column", "cv_dir"), "applies to --cv only")
    model = tool_support.load_model(FLAGS.model_dir, FLAGS.zoo, FLAGS.zoo_dir)
    return EVALUATE[task_family.of_model(model).name](model)


def evaluate_classifier(classifier):
    """Accuracy, per-class scores and the confusion matrix over a split of the classifier's
    dataset (or --text's class probabilities), printed."""
    for name in ("batch_size", "bptt"):
        if FLAGS[name].present:
            raise app.UsageError(f"--{name} applies to a language model, not to a classifier")
    classes = list(classifier.class_names or [str(i) for i in range(classifier.num_classes)])
    if FLAGS.text:
        probabilities = classifier.probabilities(FLAGS.text)
        results = [{"text": t, "class_name": classes[p.argmax()],
                    "probabilities": dict(zip(classes, p.round(6).tolist()))}
                   for t, p in zip(FLAGS.text, probabilities)]
        if FLAGS.json:
            print(json.dumps(results))
            return
        print("class\tprobability\ttext")
        for r in results:
            print(f"{r['class_name']}\t{r['probabilities'][r['class_name']]:.3f}\t"
                  f"{_cell(r['text'])}")
        return
    info = classifier.info if isinstance(classifier.info, dict) else {}
    run = info.get("training", info)
    dataset = FLAGS.dataset or run.get("dataset")
    if FLAGS.dataset and dataset not in datasets.CLASSIFICATION:
        tool_support.fail(f"--dataset={dataset} is {_kind(dataset)}, but "
                          f"{tool_support.model_source(FLAGS.model_dir, FLAGS.zoo)} is a "
                          "document classifier")
    if dataset not in datasets.CLASSIFICATION:
        source = (f"{FLAGS.model_dir}/config.json" if FLAGS.model_dir
                  else f"the zoo entry {FLAGS.zoo}'s metadata")
        tool_support.fail(f"{source} names no dataset this tool knows ({dataset!r}); pass "
                          "--dataset")
    split = "validation" if FLAGS.split == "valid" else FLAGS.split
    # TFDS prints progress; stdout is the report.
    with contextlib.redirect_stdout(sys.stderr), \
            tool_support.download_hint(f"the {dataset} dataset"):
        data_classes, texts, labels = zoo.split_texts(
            dataset, split, FLAGS.data_dir, FLAGS.cache_dir,
            run.get("validation_fraction", 0.05), zoo.split_seed(run))
        if classifier.class_names and list(data_classes) != classes:
            tool_support.fail(f"the model predicts {classes}, but {dataset} has "
                              f"classes {list(data_classes)}")
        report = {"dataset": dataset, "split": split,
                  **classifier.classification_report(texts, labels)}
    print(json.dumps(report) if FLAGS.json else format_report(report))


# How this tool evaluates a model of each family (by the family's name).
EVALUATE = {"classification": evaluate_classifier, "language_model": evaluate_language_model,
            "time_series": evaluate_time_series}


def run():
    """`kasm-evaluate`: this program on the command line (`python tools/evaluate.py` runs it too)."""
    tool_support.run_program(sys.modules[__name__])


if __name__ == "__main__":
    run()
