"""Trains one of the paper's models: the task follows from the dataset.

python tools/train.py --model=rkm_lstm --dataset=ag_news [--ngram=3] [--data_dir=DIR] [--model_dir=DIR]
python tools/train.py --model=rkm_lstm --dataset=ptb --data_dir=DIR [--recipe=cpu]
python tools/train.py --model=rkm_lstm --dataset=japanese_vowels [--ngram=3] [--data_dir=DIR]

ag_news, dbpedia, yahoo and yelp train the document classifier of the paper's Table 2; ptb and
wikitext2 the language model of its Table 3 (AWD-LSTM with kernel cells; --recipe picks the
paper's settings, awd_lstm, or the smaller cpu ones; any flag given explicitly wins);
japanese_vowels, basic_motions and ts_files (your own UEA/UCR .ts files in --data_dir) the
multichannel time-series classifier of its Table 4 task. A flag of another task is refused.

A small time-series data set chooses its recipe by cross-validation (tools/evaluate.py
--cv=stratified_kfold --folds=5 --cv_dir=CV) rather than on a validation split carved from a
few hundred cases; --refit_from_cv=CV then trains the same recipe on every training case, with
no validation split, for the folds' median best epoch, keeps the last model and reads the test
file once, at the end.

Running the same command again resumes from the last checkpoint in --model_dir, exactly: a run
killed at any moment and run again ends with the weights of an uninterrupted one.
--model_dir may be a gs:// path.

One run per --model_dir: a second one started while the first is running is refused at once,
naming the first one's pid (a lock on <model_dir>/.lock, which a killed run does not leave
behind; local paths only: on gs:// make sure yourself that one trainer uses a model_dir).
Every flag is checked before any data is read or any file written, and a run that fails before
its first checkpoint leaves nothing in a --model_dir it found new.

A run says where it writes when it starts, and where its best model and metrics are when it
ends. Stopped by a signal (Ctrl-C's SIGINT, SIGTERM, SIGHUP), it ends with one line naming the
checkpoint it resumes from and the command that resumes it, exit status 128 + the signal's
number; a full disk ends it with one `error:` line naming the file being written, the
checkpoints already there intact.
"""

import dataclasses
import os
import shlex
import sys
import typing

from absl import app, flags

from kasm_keras.cli import tool_support
from kasm_keras import training
from kasm_keras.models import task_family
from kasm_keras.training import checkpoints, tasks
from kasm_keras.data import classification_data, word_vectors
from kasm_keras.layers.kernel_cell import NGRAM_PADDINGS
from kasm_keras.layers.variants import VARIANTS
from kasm_keras.utils import download, files

FLAGS = flags.FLAGS
ERRORS = (training.TrainingError, classification_data.DataError, word_vectors.WordVectorsError,
          download.DownloadError, download.UnsafeArchiveError)


def _defaults(name):
    """[(the task as flags' help names it, its default)] of each task whose config has a field
    `name`, in `tasks.TRAINING`'s order."""
    return [(t.named, f.default) for t in tasks.TRAINING.values()
            for f in dataclasses.fields(t.config) if f.name == name]


def _shared(name):
    """The default of field `name` in every task that has it (None where they differ)."""
    values = [value for _, value in _defaults(name)]
    return values[0] if all(value == values[0] for value in values) else None


def _per_task(name, none=None):
    """"(default 10.0 for a classifier, 500.0 for a language model, ...)": each task's default
    of field `name` (`none` says what None means), tasks in a row with one default together."""
    groups = []
    for named, value in _defaults(name):
        shown = none if value is None else value
        if groups and groups[-1][0] == shown:
            groups[-1][1].append(named)
        else:
            groups.append((shown, [named]))
    return "(default " + ", ".join(f"{v} for {' and '.join(n)}" for v, n in groups) + ")"


def _kind(field):
    """absl's DEFINE_ function for a config field's type (`int | None`: an integer flag)."""
    kinds = [k for k in typing.get_args(field.type) or (field.type,) if k is not type(None)]
    return {bool: flags.DEFINE_bool, int: flags.DEFINE_integer, float: flags.DEFINE_float,
            str: flags.DEFINE_string}[kinds[0]]


def define_task_flags(flag_values=FLAGS):
    """The flags of the settings only one task has, each from its `tasks.Training`: a config
    field of `flag_help` is a flag of its name, type and default (None where a recipe sets it:
    the recipe's value then applies), and `recipes` make --recipe."""
    kw = {"flag_values": flag_values}
    for task in tasks.TRAINING.values():
        recipe_fields = set().union(*task.recipes.values()) if task.recipes else set()
        for field in dataclasses.fields(task.config):
            if field.name in task.flag_help and field.name not in flag_values:
                _kind(field)(field.name, None if field.name in recipe_fields else field.default,
                             task.flag_help[field.name], **kw)
    recipes = [t for t in tasks.TRAINING.values() if t.recipes]
    if recipes:
        flags.DEFINE_enum("recipe", next(iter(recipes[0].recipes)),
                          list(dict.fromkeys(r for t in recipes for r in t.recipes)),
                          recipes[0].recipe_help, **kw)
    missing = sorted({n for t in tasks.TRAINING.values() for n in _fields(t.config)}
                     - set(flag_values))
    if missing:  # a task's setting without a flag: its Training's flag_help lacks it
        raise ValueError(f"no tools/train.py flag for the settings {', '.join(missing)}")


def define_flags(flag_values=FLAGS):
    """The flags, in `flag_values`; the task's config checks their values (for library users
    too). The settings several tasks share are defined here, each task's own from its
    `tasks.Training` (`define_task_flags`)."""
    kw = {"flag_values": flag_values}
    flags.DEFINE_enum("model", None, VARIANTS, "Kernel cell variant.", **kw)
    flags.DEFINE_enum("dataset", None, task_family.all_datasets(), "Classification dataset, "
                      "language-model corpus or time-series data set (ts_files: your own .ts "
                      "files in --data_dir).", **kw)
    flags.DEFINE_string("data_dir", None, "Local copy of the dataset (see tools/data.py); "
                        "without it the official archive is downloaded (a time series: the "
                        "pinned sktime wheel, whose .ts files are extracted).", **kw)
    flags.DEFINE_string("model_dir", None, "Where checkpoints, logs, the best model and "
                        "metrics.json go (default runs/<dataset>/<model>_<n>gram, "
                        "runs/<corpus>/<model> for a language model).", **kw)
    flags.DEFINE_string("cache_dir", None, "Prepared and tokenised data, downloads (default "
                        "~/.cache/kasm_keras).", **kw)
    flags.DEFINE_bool("layer_norm", _shared("layer_norm"), "Layer-normalise c_t.", **kw)
    flags.DEFINE_float("epochs", None, "Passes over the training split (unless --max_steps) "
                       f"{_per_task('epochs')}.", **kw)
    flags.DEFINE_integer("max_steps", None, "Training steps; overrides --epochs.", **kw)
    flags.DEFINE_integer("batch_size", None, f"Global batch size {_per_task('batch_size')}.",
                         **kw)
    flags.DEFINE_float("learning_rate", None, "Adam's (classifiers) or SGD's (language model) "
                       f"learning rate {_per_task('learning_rate')}.", **kw)
    flags.DEFINE_float("dropout", None, "Classifiers: dropout before and after the hidden "
                       "layer. Language model: locked dropout on the last layer's outputs "
                       f"{_per_task('dropout')}.", **kw)
    flags.DEFINE_integer("embedding_dim", None, "Embedding size (classifier: with "
                         f"--embeddings=none) {_per_task('embedding_dim')}.", **kw)
    flags.DEFINE_integer("seed", _shared("seed"), "Seed of the initialisation, dropout and "
                         "shuffling.", **kw)
    flags.DEFINE_integer("eval_every", None, "Validate and checkpoint every N steps "
                         f"{_per_task('eval_every', none='once per epoch')}.", **kw)
    flags.DEFINE_integer("log_every", _shared("log_every"), "Progress bar, NaN check and "
                         "TensorBoard every N steps.", **kw)
    flags.DEFINE_enum("jit_compile", _shared("jit_compile"), ["auto", "true", "false"],
                      "XLA for the training step; auto turns it on where it helps.", **kw)
    flags.DEFINE_enum("precision", None, list(training.PRECISIONS),
                      "auto: mixed_bfloat16 where this machine multiplies bfloat16 fast (a "
                      "measured check; GPUs of compute capability >= 8), float32 elsewhere. Gates, "
                      "cell state and layer norm stay float32, and so do the saved weights "
                      f"{_per_task('precision')}.", **kw)
    flags.DEFINE_enum("strategy", _shared("strategy"), training.STRATEGIES, "tf.distribute "
                      "strategy (a language model: default only).", **kw)
    flags.DEFINE_bool("test", _shared("test"), "Evaluate the test split once, at the end; "
                      "--notest for the runs of a recipe search, which must choose on the "
                      "validation split alone (such a run cannot be published).", **kw)
    flags.DEFINE_bool("deterministic", _shared("deterministic"), "Bit-for-bit repeatable "
                      "kernels, at some cost in speed: tf.config.experimental."
                      "enable_op_determinism(), and oneDNN's CPU kernels off "
                      "(TF_ENABLE_ONEDNN_OPTS=0), which on a busy machine are not repeatable.",
                      **kw)
    flags.DEFINE_integer("ngram", _shared("ngram"), "Input window width n.", **kw)
    flags.DEFINE_enum("ngram_padding", _shared("ngram_padding"), NGRAM_PADDINGS,
                      "causal, or same (centred).", **kw)
    flags.DEFINE_integer("units", None, "Hidden size d, and the width of the classifier's "
                         f"hidden layer {_per_task('units')}.", **kw)
    flags.DEFINE_bool("learn_sigmas", _shared("learn_sigmas"), "Learn sigma_i and sigma_f.",
                      **kw)
    flags.DEFINE_float("validation_fraction", None, "Share of train held out, in (0, 1) (a "
                       "time series holds it out of each class, and may take 0: no validation, "
                       "the last model kept, for a final fit of a length fixed beforehand, "
                       "see --refit_from_cv) "
                       f"{_per_task('validation_fraction')}.", **kw)
    flags.DEFINE_integer("split_seed", _shared("split_seed"), "Seed of the validation split "
                         "(which training rows are held out); kept apart from --seed so that "
                         "runs with several seeds train and validate on the same rows.", **kw)
    flags.DEFINE_integer("cpu_devices", _shared("cpu_devices"), "Split the CPU into this many "
                         "logical devices, e.g. to run --strategy=mirrored without GPUs.", **kw)
    define_task_flags(flag_values)
    flags.mark_flags_as_required(["model", "dataset"], **kw)


def _fields(config_class):
    return {f.name for f in dataclasses.fields(config_class)} - {"model_dir"}


def config_from_flags(flag_values=FLAGS):
    """The config of the flags' task (which follows from --dataset); TrainingError (naming the
    flag) for a flag of another task, a value out of range, a path that is not a folder or word
    vectors that do not exist: nothing is read or written."""
    f = flag_values
    task = tasks.of_dataset(f.dataset)
    config_class = task.config
    own = _fields(config_class) | ({"recipe"} if task.recipes else set())
    everyone = tasks.TRAINING.values()
    given = [name for name in sorted(set().union(*map(_fields, (t.config for t in everyone)))
                                     | {"recipe"})
             if name not in own and f[name].present]
    if given:
        others = [t.what for t in everyone
                  if given[0] in _fields(t.config) | ({"recipe"} if t.recipes else set())]
        raise training.TrainingError(f"--{given[0]} applies to {' and '.join(others)}, not to "
                                     f"--dataset={f.dataset}")
    values = dict(task.recipes[f.recipe]) if task.recipes else {}
    for name in _fields(config_class):
        if f[name].present or (name not in values and f[name].value is not None):
            values[name] = f[name].value
    model_dir = f.model_dir or os.path.join(
        "runs", *task_family.of_dataset(f.dataset).run_name(
            {"dataset": f.dataset, "model": f.model, "ngram": f.ngram}).split("/"))
    values.pop("model_dir", None)
    return config_class(model_dir=model_dir, **values)


def where_to_resume(model_dir, command):
    """Where a stopped run can be taken up again, as a sentence: the checkpoint in `model_dir`
    it resumes from and the command that resumes it."""
    import tensorflow as tf

    again = shlex.join(command)
    manager = checkpoints.CheckpointManager(files.join(model_dir, "checkpoints"))
    try:
        latest = manager.latest()
        step = manager.read_state(latest)["step"] if latest else None
    except (checkpoints.CheckpointError, KeyError, ValueError, tf.errors.OpError):
        latest = step = None
    if latest is None:
        return f"no checkpoint was kept in {model_dir}; this command starts the run again: {again}"
    return f"{model_dir} resumes from its checkpoint of step {step} ({latest}) with: {again}"


def where_it_went(config):
    """The line that ends a finished run: its best model, its metrics and how to use them."""
    tools = os.path.dirname(sys.argv[0])
    model = f"--model_dir={shlex.quote(config.model_dir)}"
    data = f" --data_dir={shlex.quote(config.data_dir)}" if config.data_dir else ""
    return (f"best model: {files.join(config.model_dir, 'best.keras')}, metrics: "
            f"{files.join(config.model_dir, 'metrics.json')}; evaluate it with: python "
            f"{os.path.join(tools, 'evaluate.py')} {model}{data}; export it with: python "
            f"{os.path.join(tools, 'export.py')} {model} --export_dir=DIR")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    config = config_from_flags(FLAGS)
    command = [os.path.basename(sys.executable)] + sys.argv
    try:
        with tool_support.download_hint(f"the {config.dataset} dataset"):
            metrics = tasks.of_dataset(config.dataset).train(config, command=command)
    except KeyboardInterrupt as stop:  # SIGINT, SIGTERM, SIGHUP: see tool_support
        tool_support.stopped(stop, where_to_resume(config.model_dir, command))
    except files.DiskFullError as error:
        tool_support.fail(f"{error}; once there is space, "
                          f"{where_to_resume(config.model_dir, command)}")
    if metrics is not None:  # the chief, which wrote them
        print(where_it_went(config))


def run():
    """`kasm-train`: this program on the command line (`python tools/train.py` runs it too)."""
    tool_support.run_program(sys.modules[__name__])


if __name__ == "__main__":
    run()
