"""Evaluates a trained model (a --model_dir or a --zoo entry) on a dataset split, or on text.

python tools/evaluate.py --model_dir=runs/ag_news/rkm_cifg_1gram --data_dir=../shared/data
python tools/evaluate.py --zoo=ag_news/rkm_cifg_1gram --text="Stocks rallied on Friday"
python tools/evaluate.py --zoo=ptb/rkm_lstm --dataset=ptb --split=test --data_dir=../shared/data
python tools/evaluate.py --zoo=ptb/rkm_lstm --text="the company said it expects higher sales"
python tools/evaluate.py --zoo=japanese_vowels/rkm_lstm_3gram [--data_dir=DIR]
python tools/evaluate.py --cv=leave_one_group_out --zoo=japanese_vowels/rkm_lstm_3gram \
    --dataset=ts_files --data_dir=DIR --groups=groups.csv --group_column=animal [--cv_dir=DIR]
python tools/evaluate.py --cv=stratified_kfold --folds=5 --model_dir=RUN [--cv_dir=DIR]

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

--cv=stratified_kfold --folds=K chooses a recipe on a small data set without its test file: the
training file's cases, class by class, are dealt into K folds by a keyed hash of --seed (else
the recipe's seed; the same folds on every machine), each trained on the other K-1 (its
validation cases carved from those) into <cv_dir>/fold_<i>_of_<K>/ and tested on its own. The
report adds each fold's best epoch and their median, the length of the final fit on every
training case that tools/train.py --refit_from_cv=<cv_dir> trains.

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
from kasm_keras.data import classification_data
from kasm_keras.models import evaluation, task_family
from kasm_keras.training import tasks
from kasm_keras.training.checkpoints import CheckpointError
from kasm_keras.training.task import TrainingError
from kasm_keras.utils import download, files

FLAGS = flags.FLAGS
ERRORS = (zoo.ZooError, CheckpointError, classification_data.DataError, download.DownloadError,
          download.UnsafeArchiveError, TrainingError)


def _default_folds():
    """The k-fold methods' default k, as the tasks that cross-validate give it."""
    return ", ".join(sorted({str(t.cross_validate.folds) for t in tasks.TRAINING.values()
                             if t.cross_validate and t.cross_validate.folds}))


def define_flags(flag_values=FLAGS):
    kw = {"flag_values": flag_values}
    flags.DEFINE_string("model_dir", None, "A finished tools/train.py run.", **kw)
    flags.DEFINE_string("zoo", None, "A zoo entry name, e.g. ag_news/rkm_cifg_1gram.", **kw)
    tool_support.define_zoo_dir(flag_values)
    flags.DEFINE_enum("dataset", None, task_family.all_datasets(), "Dataset, a language "
                      "model's corpus or a time series data set (default: the model's own).",
                      **kw)
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
    flags.DEFINE_enum("cv", None, list(tasks.cross_validation_methods()), "Cross-validate the "
                      "time-series recipe of --model_dir or --zoo instead of evaluating its "
                      "model: one fold per group of --groups, or --folds stratified folds.", **kw)
    flags.DEFINE_integer("folds", None, "--cv=stratified_kfold: the number of folds (default "
                         f"{_default_folds()}).", lower_bound=2, **kw)
    flags.DEFINE_string("groups", None, "--cv: a CSV file with a header row, then one row per "
                        "case of the training .ts file, in its order.", **kw)
    flags.DEFINE_string("group_column", "group", "--cv: the column of --groups that names each "
                        "case's group (an animal, a subject).", **kw)
    flags.DEFINE_integer("seed", None, "--cv: the seed that deals the folds and starts each "
                         "fold's training, in place of the recipe's (one cross-validation per "
                         "seed measures the seed noise).", **kw)
    flags.DEFINE_string("cv_dir", None, "--cv: where each fold's run goes, <cv_dir>/fold_<i>_"
                        "<group>/ (stratified: fold_<i>_of_<K>/), and cv.json (default "
                        "runs/<dataset>/<model>_<n>gram_<cv>[_seed<seed>], one folder per "
                        "method and seed).", **kw)
    tool_support.existing_folder(flag_values, "model_dir", "training run folder")
    tool_support.utf8_text(flag_values, "text")
    flags.register_validator(
        "groups", lambda path: path is None or os.path.isfile(path),
        "no such file (the CSV of each training case's group)", flag_values=flag_values)
    tool_support.not_a_file(flag_values, "cv_dir")
    tool_support.existing_folder(flag_values, "data_dir")
    tool_support.not_a_file(flag_values, "cache_dir")
    tool_support.one_model(flag_values)


def _refuse(names, why):
    for name in names:
        if FLAGS[name].present:
            raise app.UsageError(f"--{name} {why}")


def format_cv_report(report):
    if report["cv"] == "leave_one_group_out":
        title, key = (f"leave-one-group-out over {len(report['folds'])} groups "
                      f"({report['group_column']} of {report['groups_file']})"), "group"
    else:
        title, key = (f"stratified {report['fold_count']}-fold (seed {report['fold_seed']}) of "
                      f"{report['train_file']}"), "fold"
    lines = [f"{report['dataset']}: {title}, {report['model']} {report['ngram']}-gram", "",
             f"  {key:<24}{'test cases':>12}{'accuracy':>10}{'best epoch':>12}  model_dir"]
    for fold in report["folds"]:
        lines.append(f"  {fold[key]:<24}{fold['test_cases']:>12,}"
                     f"{fold['test_accuracy']:>10.4f}{fold.get('best_epoch', float('nan')):>12g}"
                     f"  {fold['model_dir']}")
    sd = report["sd_accuracy"]
    lines += ["", f"  mean accuracy {report['mean_accuracy']:.4f}"
              + (f" (sd {sd:.4f} over folds)" if sd is not None else "")
              + f"; pooled over every held-out case {report['pooled_accuracy']:.4f}"]
    if "median_best_epoch" in report:
        lines.append(f"  median best epoch {report['median_best_epoch']:g} (a final fit: "
                     "tools/train.py --refit_from_cv=<cv_dir>)")
    return "\n".join(lines)


def recipe(model_dir, zoo_name):
    """The tools/train.py settings (config.json) of a run or zoo entry whose task
    cross-validates: (settings, its family, its `tasks.Training`)."""
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
    dataset = settings.get("dataset") if isinstance(settings, dict) else None
    family = task_family.of_dataset(dataset) if isinstance(dataset, str) else None
    training = tasks.TRAINING[family.name] if family else None
    if training is None or training.cross_validate is None:
        what = " or ".join(t.cross_validate.what for t in tasks.TRAINING.values()
                           if t.cross_validate)
        tool_support.fail(f"{path}: not {what} run's settings; --cv cross-validates {what} "
                          "recipe")
    return settings, family, training


def cross_validate():
    import dataclasses

    _refuse(("text", "batch_size", "bptt", "split"), "does not apply to --cv (each fold tests "
            "on its held-out cases)")
    if FLAGS.cv == "leave_one_group_out":
        _refuse(("folds",), "applies to --cv=stratified_kfold only")
        if FLAGS.groups is None:
            raise app.UsageError("--cv=leave_one_group_out needs --groups, the CSV file of each "
                                 "training case's group")
    else:
        _refuse(("groups", "group_column"), "applies to --cv=leave_one_group_out only")
    settings, family, training = recipe(FLAGS.model_dir, FLAGS.zoo)
    fields = {f.name for f in dataclasses.fields(training.config)}
    values = {k: v for k, v in settings.items() if k in fields}
    dataset = FLAGS.dataset or values["dataset"]
    if task_family.of_dataset(dataset) is not family:
        tool_support.fail(f"--dataset={dataset} is not {family.data_kind} "
                          f"({', '.join(family.dataset_names())})")
    values.update(dataset=dataset, cache_dir=FLAGS.cache_dir,
                  data_dir=evaluation.run_data_dir(settings, FLAGS.data_dir,
                                                    FLAGS.model_dir is not None)
                  if dataset == settings["dataset"] else FLAGS.data_dir)
    seed = "" if FLAGS.seed is None else f"_seed{FLAGS.seed}"
    cv_dir = FLAGS.cv_dir or f"runs/{family.run_name(values)}_{FLAGS.cv}{seed}"
    values["model_dir"] = cv_dir
    if FLAGS.seed is not None:
        values["seed"] = FLAGS.seed
    config = training.config(**values)
    # Training's progress goes to stderr; stdout is the report.
    with contextlib.redirect_stdout(sys.stderr), \
            tool_support.download_hint(f"the {dataset} {family.data_noun}"):
        report = training.cross_validate.run(
            config, FLAGS.cv, cv_dir, groups_path=FLAGS.groups, group_column=FLAGS.group_column,
            folds=FLAGS.folds or training.cross_validate.folds,
            command=[os.path.basename(sys.executable)] + sys.argv)
    print(json.dumps(report) if FLAGS.json else format_cv_report(report))


# The options of kasm-evaluate that apply to some families' models only, in the order they are
# checked.
EVALUATE_OPTIONS = ("text", "batch_size", "bptt")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    if FLAGS.cv:
        return cross_validate()
    _refuse(("groups", "group_column", "cv_dir", "folds", "seed"), "applies to --cv only")
    model = tool_support.load_model(FLAGS.model_dir, FLAGS.zoo, FLAGS.zoo_dir)
    family = task_family.of_model(model)
    refusal = family.refused_evaluate_option([name for name in EVALUATE_OPTIONS
                                              if FLAGS[name].present])
    if refusal:
        raise app.UsageError(refusal)
    request = evaluation.EvaluationRequest(
        model_name=tool_support.model_source(FLAGS.model_dir, FLAGS.zoo),
        settings_name=(f"{FLAGS.model_dir}/config.json" if FLAGS.model_dir
                       else f"the zoo entry {FLAGS.zoo}'s metadata"),
        dataset=FLAGS.dataset, split=FLAGS.split, texts=FLAGS.text, data_dir=FLAGS.data_dir,
        cache_dir=FLAGS.cache_dir, batch_size=FLAGS.batch_size, bptt=FLAGS.bptt,
        run_data=FLAGS.model_dir is not None, downloading=tool_support.download_hint)
    # Reading data may print progress (TFDS does); stdout is the report.
    with contextlib.redirect_stdout(sys.stderr):
        report = family.evaluate(model, request)
    print(json.dumps(report) if FLAGS.json else family.format_evaluation(report))


def run():
    """`kasm-evaluate`: this program on the command line (`python tools/evaluate.py` runs it too)."""
    tool_support.run_program(sys.modules[__name__])


if __name__ == "__main__":
    run()
