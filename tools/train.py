"""Trains a document classifier with one of the paper's kernel cells.

python tools/train.py --model=rkm_lstm --dataset=ag_news [--ngram=3] [--data_dir=DIR] [--model_dir=DIR]

Running the same command again resumes from the last checkpoint in --model_dir, exactly: a run
killed at any moment and run again ends with the weights of an uninterrupted one.
--model_dir may be a gs:// path.

One run per --model_dir: a second one started while the first is running is refused at once,
naming the first one's pid (a lock on <model_dir>/.lock, which a killed run does not leave
behind; local paths only: on gs:// make sure yourself that one trainer uses a model_dir).
Every flag is checked before any data is read or any file written, and a run that fails before
its first checkpoint leaves nothing in a --model_dir it found new.
"""

import dataclasses
import os
import sys
import types

import tool_support
from absl import app, flags

from kasm_keras import training
from kasm_keras.data import classification_data, datasets, word_vectors
from kasm_keras.layers.kernel_cell import NGRAM_PADDINGS
from kasm_keras.layers.variants import VARIANTS
from kasm_keras.utils import download

FLAGS = flags.FLAGS
ERRORS = (training.TrainingError, classification_data.DataError, word_vectors.WordVectorsError,
          download.DownloadError, download.UnsafeArchiveError)


def define_flags(flag_values=FLAGS):
    """The flags, in `flag_values`; TrainConfig checks their values (for library users too)."""
    d = types.SimpleNamespace(**{f.name: f.default
                                 for f in dataclasses.fields(training.TrainConfig)})
    kw = {"flag_values": flag_values}
    flags.DEFINE_enum("model", None, VARIANTS, "Kernel cell variant.", **kw)
    flags.DEFINE_enum("dataset", None, datasets.CLASSIFICATION, "Classification dataset.", **kw)
    flags.DEFINE_string("data_dir", None, "Local copy of the dataset (see tools/data.py); "
                        "without it the official archive is downloaded.", **kw)
    flags.DEFINE_string("model_dir", None, "Where checkpoints, logs, the best model and "
                        "metrics.json go (default runs/<dataset>/<model>_<n>gram).", **kw)
    flags.DEFINE_string("cache_dir", None, "Prepared and tokenised data (default "
                        "~/.cache/kasm_keras).", **kw)
    flags.DEFINE_integer("ngram", d.ngram, "Input window width n.", **kw)
    flags.DEFINE_enum("ngram_padding", d.ngram_padding, NGRAM_PADDINGS,
                      "causal, or same (centred).", **kw)
    flags.DEFINE_integer("units", d.units, "Hidden size d.", **kw)
    flags.DEFINE_bool("layer_norm", d.layer_norm, "Layer-normalise c_t.", **kw)
    flags.DEFINE_bool("learn_sigmas", d.learn_sigmas, "Learn sigma_i and sigma_f.", **kw)
    flags.DEFINE_float("epochs", d.epochs, "Passes over the training split (unless "
                       "--max_steps).", **kw)
    flags.DEFINE_integer("max_steps", None, "Training steps; overrides --epochs.", **kw)
    flags.DEFINE_integer("batch_size", d.batch_size, "Global batch size.", **kw)
    flags.DEFINE_float("learning_rate", d.learning_rate, "Adam learning rate.", **kw)
    flags.DEFINE_float("dropout", d.dropout, "Dropout before and after the hidden layer, in "
                       "[0, 1).", **kw)
    flags.DEFINE_integer("max_length", None, "Tokens kept per document (default 128, 96 for "
                         "yahoo).", **kw)
    flags.DEFINE_string("embeddings", d.embeddings, "Word vectors: auto (glove-6b-50d when "
                        "installed), a builtin name, a GloVe .txt(.gz) or word2vec .bin path, "
                        "or none.", **kw)
    flags.DEFINE_integer("embedding_dim", d.embedding_dim, "Embedding size with "
                         "--embeddings=none.", **kw)
    flags.DEFINE_bool("train_embeddings", d.train_embeddings, "Fine-tune the embeddings.", **kw)
    flags.DEFINE_integer("max_vocabulary", d.max_vocabulary, "Vocabulary cap, specials "
                         "included.", **kw)
    flags.DEFINE_integer("min_count", d.min_count, "Occurrences a token needs to be in the "
                         "vocabulary.", **kw)
    flags.DEFINE_float("validation_fraction", d.validation_fraction, "Share of train held "
                       "out, in (0, 1).", **kw)
    flags.DEFINE_integer("seed", d.seed, "Seed of the initialisation, dropout and shuffling.", **kw)
    flags.DEFINE_integer("split_seed", d.split_seed, "Seed of the validation split (which "
                         "training rows are held out); kept apart from --seed so that runs "
                         "with several seeds train and validate on the same rows.", **kw)
    flags.DEFINE_integer("eval_every", d.eval_every, "Validate and checkpoint every N steps.", **kw)
    flags.DEFINE_integer("log_every", d.log_every, "Progress bar, NaN check and TensorBoard "
                         "every N steps.", **kw)
    flags.DEFINE_enum("jit_compile", d.jit_compile, ["auto", "true", "false"],
                      "XLA for the training step; auto turns it on where it helps.", **kw)
    flags.DEFINE_enum("precision", d.precision, list(training.PRECISIONS),
                      "auto: mixed_bfloat16 where this machine multiplies bfloat16 fast (a "
                      "measured check; GPUs of compute capability >= 8), float32 elsewhere. Gates, "
                      "cell state and layer norm stay float32, and so do the saved weights.", **kw)
    flags.DEFINE_enum("strategy", d.strategy, training.STRATEGIES, "tf.distribute strategy.", **kw)
    flags.DEFINE_integer("cpu_devices", d.cpu_devices, "Split the CPU into this many logical "
                         "devices, e.g. to run --strategy=mirrored without GPUs.", **kw)
    flags.DEFINE_bool("deterministic", d.deterministic, "tf.config.experimental."
                      "enable_op_determinism(): bit-for-bit repeatable GPU kernels, at some cost "
                      "in speed (CPU kernels already are in practice).", **kw)
    flags.mark_flags_as_required(["model", "dataset"], **kw)


def config_from_flags():
    """The TrainConfig of the flags; TrainingError (naming the flag) for a value out of range,
    a path that is not a folder or word vectors that do not exist: nothing is read or written."""
    model_dir = FLAGS.model_dir or os.path.join(
        "runs", FLAGS.dataset, f"{FLAGS.model}_{FLAGS.ngram}gram")
    names = [f.name for f in dataclasses.fields(training.TrainConfig) if f.name != "model_dir"]
    return training.TrainConfig(model_dir=model_dir, **{n: FLAGS[n].value for n in names})


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    config = config_from_flags()
    with tool_support.download_hint(f"the {config.dataset} dataset"):
        training.train_classifier(config, command=[os.path.basename(sys.executable)] + sys.argv)


if __name__ == "__main__":
    define_flags()
    # Logging at WARNING unless --verbosity is given; bad flags and these errors end in one
    # `error: ...` line.
    tool_support.run(main, ERRORS)
