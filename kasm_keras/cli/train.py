"""Trains one of the paper's models: the task follows from the dataset.

python tools/train.py --model=rkm_lstm --dataset=ag_news [--ngram=3] [--data_dir=DIR] [--model_dir=DIR]
python tools/train.py --model=rkm_lstm --dataset=ptb --data_dir=DIR [--recipe=cpu]
python tools/train.py --model=rkm_lstm --dataset=japanese_vowels [--ngram=3] [--data_dir=DIR]

ag_news, dbpedia, yahoo and yelp train the document classifier of the paper's Table 2; ptb and
wikitext2 the language model of its Table 3 (AWD-LSTM with kernel cells; --recipe picks the
paper's settings, awd_lstm, or the smaller cpu ones; any flag given explicitly wins);
japanese_vowels, basic_motions and ts_files (your own UEA/UCR .ts files in --data_dir) the
multichannel time-series classifier of its Table 4 task. A flag of another task is refused.

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
import types

from absl import app, flags

from kasm_keras.cli import tool_support
from kasm_keras import training
from kasm_keras.models import task_family
from kasm_keras.training import checkpoints, language_model, tasks, time_series
from kasm_keras.data import classification_data, word_vectors
from kasm_keras.layers.kernel_cell import NGRAM_PADDINGS
from kasm_keras.layers.variants import VARIANTS
from kasm_keras.utils import download, files

FLAGS = flags.FLAGS
ERRORS = (training.TrainingError, classification_data.DataError, word_vectors.WordVectorsError,
          download.DownloadError, download.UnsafeArchiveError)


def _defaults(config_class):
    return types.SimpleNamespace(**{f.name: f.default for f in dataclasses.fields(config_class)})


def define_flags(flag_values=FLAGS):
    """The flags, in `flag_values`; the task's config checks their values (for library users
    too)."""
    d, lm = _defaults(training.TrainConfig), _defaults(language_model.LanguageModelConfig)
    ts = _defaults(time_series.TimeSeriesConfig)
    kw = {"flag_values": flag_values}
    both = "(default {} for a classifier, {} for a language model, {} for a time series)"
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
    flags.DEFINE_bool("layer_norm", d.layer_norm, "Layer-normalise c_t.", **kw)
    flags.DEFINE_float("epochs", None, "Passes over the training split (unless --max_steps) "
                       + both.format(d.epochs, lm.epochs, ts.epochs) + ".", **kw)
    flags.DEFINE_integer("max_steps", None, "Training steps; overrides --epochs.", **kw)
    flags.DEFINE_integer("batch_size", None, "Global batch size "
                         + both.format(d.batch_size, lm.batch_size, ts.batch_size) + ".", **kw)
    flags.DEFINE_float("learning_rate", None, "Adam's (classifiers) or SGD's (language model) "
                       "learning rate " + both.format(d.learning_rate, lm.learning_rate,
                                                      ts.learning_rate) + ".", **kw)
    flags.DEFINE_float("dropout", None, "Classifiers: dropout before and after the hidden "
                       "layer. Language model: locked dropout on the last layer's outputs "
                       + both.format(d.dropout, lm.dropout, ts.dropout) + ".", **kw)
    flags.DEFINE_integer("embedding_dim", None, "Embedding size (classifier: with "
                         "--embeddings=none) (default {} for a classifier, {} for a language "
                         "model).".format(d.embedding_dim, lm.embedding_dim), **kw)
    flags.DEFINE_integer("seed", d.seed, "Seed of the initialisation, dropout and shuffling.", **kw)
    flags.DEFINE_integer("eval_every", None, "Validate and checkpoint every N steps (default "
                         f"{d.eval_every} for a classifier, once per epoch for a language "
                         "model and a time series).", **kw)
    flags.DEFINE_integer("log_every", d.log_every, "Progress bar, NaN check and TensorBoard "
                         "every N steps.", **kw)
    flags.DEFINE_enum("jit_compile", d.jit_compile, ["auto", "true", "false"],
                      "XLA for the training step; auto turns it on where it helps.", **kw)
    flags.DEFINE_enum("precision", None, list(training.PRECISIONS),
                      "auto: mixed_bfloat16 where this machine multiplies bfloat16 fast (a "
                      "measured check; GPUs of compute capability >= 8), float32 elsewhere. Gates, "
                      "cell state and layer norm stay float32, and so do the saved weights "
                      f"(default {d.precision}; {ts.precision} for a time series).", **kw)
    flags.DEFINE_enum("strategy", d.strategy, training.STRATEGIES, "tf.distribute strategy "
                      "(a language model: default only).", **kw)
    flags.DEFINE_bool("test", d.test, "Evaluate the test split once, at the end; --notest for "
                      "the runs of a recipe search, which must choose on the validation split "
                      "alone (such a run cannot be published).", **kw)
    flags.DEFINE_bool("deterministic", d.deterministic, "Bit-for-bit repeatable "
                      "kernels, at some cost in speed: tf.config.experimental."
                      "enable_op_determinism(), and oneDNN's CPU kernels off "
                      "(TF_ENABLE_ONEDNN_OPTS=0), which on a busy machine are not repeatable.",
                      **kw)

    # Document classification and time series.
    flags.DEFINE_integer("ngram", d.ngram, "Input window width n.", **kw)
    flags.DEFINE_enum("ngram_padding", d.ngram_padding, NGRAM_PADDINGS,
                      "causal, or same (centred).", **kw)
    flags.DEFINE_integer("units", None, "Hidden size d, and the width of the classifier's "
                         f"hidden layer (default {d.units} for a classifier, {ts.units} for a "
                         "time series).", **kw)
    flags.DEFINE_bool("learn_sigmas", d.learn_sigmas, "Learn sigma_i and sigma_f.", **kw)
    flags.DEFINE_float("validation_fraction", None, "Share of train held out, in (0, 1) "
                       f"(default {d.validation_fraction} for a classifier; "
                       f"{ts.validation_fraction} of each class for a time series).", **kw)
    flags.DEFINE_integer("split_seed", d.split_seed, "Seed of the validation split (which "
                         "training rows are held out); kept apart from --seed so that runs "
                         "with several seeds train and validate on the same rows.", **kw)
    flags.DEFINE_integer("cpu_devices", d.cpu_devices, "Split the CPU into this many logical "
                         "devices, e.g. to run --strategy=mirrored without GPUs.", **kw)

    # Time series only.
    flags.DEFINE_integer("max_series_length", ts.max_series_length, "Steps a series may have "
                         "(longer ones are refused at their line: training keeps every step of "
                         "a batch in memory).", **kw)

    # Document classification only.
    flags.DEFINE_integer("max_length", None, "Tokens kept per document (default 128, 96 for "
                         "yahoo).", **kw)
    flags.DEFINE_string("embeddings", d.embeddings, "Word vectors: auto (glove-6b-50d when "
                        "installed), a builtin name, a GloVe .txt(.gz) or word2vec .bin path, "
                        "or none.", **kw)
    flags.DEFINE_bool("train_embeddings", d.train_embeddings, "Fine-tune the embeddings.", **kw)
    flags.DEFINE_integer("max_vocabulary", d.max_vocabulary, "Vocabulary cap, specials "
                         "included.", **kw)
    flags.DEFINE_integer("min_count", d.min_count, "Occurrences a token needs to be in the "
                         "vocabulary.", **kw)

    # Language modelling only (AWD-LSTM's settings; --recipe sets them together).
    flags.DEFINE_enum("recipe", "awd_lstm", list(language_model.RECIPES),
                      "awd_lstm: the paper's settings (3 x 1150, 500 epochs); cpu: a smaller "
                      "model a 2-core CPU trains in under two hours. Flags given win.", **kw)
    flags.DEFINE_integer("num_layers", None, "Recurrent layers.", **kw)
    flags.DEFINE_integer("hidden_dim", None, "Width of every recurrent layer but the last "
                         "(which is --embedding_dim wide, for the tied softmax).", **kw)
    flags.DEFINE_float("hidden_dropout", None, "Locked dropout between recurrent layers.", **kw)
    flags.DEFINE_float("input_dropout", None, "Locked dropout on the embedded words.", **kw)
    flags.DEFINE_float("embedding_dropout", None, "Share of words dropped per batch.", **kw)
    flags.DEFINE_float("weight_dropout", None, "DropConnect on the recurrent kernels.", **kw)
    flags.DEFINE_float("alpha", lm.alpha, "Activation regularisation.", **kw)
    flags.DEFINE_float("beta", lm.beta, "Temporal activation regularisation.", **kw)
    flags.DEFINE_float("weight_decay", lm.weight_decay, "Weight decay.", **kw)
    flags.DEFINE_float("clip_norm", lm.clip_norm, "Gradients clipped to this global norm.", **kw)
    flags.DEFINE_integer("nonmono", lm.nonmono, "Validations without improvement before SGD "
                         "turns into averaged SGD.", **kw)
    flags.DEFINE_integer("average_after", None, "Averaging starts after this many validations "
                         "(epochs) at the latest, whatever the trigger (default: none; 10 in "
                         "the cpu recipe).", **kw)
    flags.DEFINE_integer("bptt", None, "Mean window of truncated backpropagation.", **kw)
    flags.DEFINE_integer("eval_batch_size", lm.eval_batch_size, "Rows of the validation "
                         "stream.", **kw)
    flags.DEFINE_integer("test_batch_size", lm.test_batch_size, "Rows of the test stream.", **kw)
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
