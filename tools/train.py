"""Trains a document classifier with one of the paper's kernel cells.

python tools/train.py --model=rkm_lstm --dataset=ag_news [--ngram=3] [--data_dir=DIR] [--model_dir=DIR]

Running the same command again resumes from the last checkpoint in --model_dir, exactly: a run
killed at any moment and run again ends with the weights of an uninterrupted one.
--model_dir may be a gs:// path.
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

defaults = types.SimpleNamespace(**{f.name: f.default for f in dataclasses.fields(training.TrainConfig)})
flags.DEFINE_enum("model", None, VARIANTS, "Kernel cell variant.")
flags.DEFINE_enum("dataset", None, datasets.CLASSIFICATION, "Classification dataset.")
flags.DEFINE_string("data_dir", None, "Local copy of the dataset (see tools/data.py); without it "
                    "the official archive is downloaded.")
flags.DEFINE_string("model_dir", None, "Where checkpoints, logs, the best model and metrics.json "
                    "go (default runs/<dataset>/<model>_<n>gram).")
flags.DEFINE_string("cache_dir", None, "Prepared and tokenised data (default ~/.cache/kasm_keras).")
flags.DEFINE_integer("ngram", defaults.ngram, "Input window width n.")
flags.DEFINE_enum("ngram_padding", defaults.ngram_padding, NGRAM_PADDINGS, "causal, or same (centred).")
flags.DEFINE_integer("units", defaults.units, "Hidden size d.")
flags.DEFINE_bool("layer_norm", defaults.layer_norm, "Layer-normalise c_t.")
flags.DEFINE_bool("learn_sigmas", defaults.learn_sigmas, "Learn sigma_i and sigma_f.")
flags.DEFINE_float("epochs", defaults.epochs, "Passes over the training split (unless --max_steps).")
flags.DEFINE_integer("max_steps", None, "Training steps; overrides --epochs.")
flags.DEFINE_integer("batch_size", defaults.batch_size, "Global batch size.")
flags.DEFINE_float("learning_rate", defaults.learning_rate, "Adam learning rate.")
flags.DEFINE_float("dropout", defaults.dropout, "Dropout before and after the hidden layer.")
flags.DEFINE_integer("max_length", None, "Tokens kept per document (default 128, 96 for yahoo).")
flags.DEFINE_string("embeddings", defaults.embeddings, "Word vectors: auto (glove-6b-50d when "
                    "installed), a builtin name, a GloVe .txt(.gz) or word2vec .bin path, or none.")
flags.DEFINE_integer("embedding_dim", defaults.embedding_dim, "Embedding size with --embeddings=none.")
flags.DEFINE_bool("train_embeddings", defaults.train_embeddings, "Fine-tune the embeddings.")
flags.DEFINE_integer("max_vocabulary", defaults.max_vocabulary, "Vocabulary cap, specials included.")
flags.DEFINE_integer("min_count", defaults.min_count, "Occurrences a token needs to be in the vocabulary.")
flags.DEFINE_float("validation_fraction", defaults.validation_fraction, "Share of train held out.")
flags.DEFINE_integer("seed", defaults.seed, "Seed for the split, initialisation and shuffling.")
flags.DEFINE_integer("eval_every", defaults.eval_every, "Validate and checkpoint every N steps.")
flags.DEFINE_integer("log_every", defaults.log_every, "Progress bar, NaN check and TensorBoard "
                     "every N steps.")
flags.DEFINE_enum("jit_compile", defaults.jit_compile, ["auto", "true", "false"],
                  "XLA for the training step; auto turns it on where it helps.")
flags.DEFINE_bool("mixed_precision", defaults.mixed_precision, "mixed_float16 policy.")
flags.DEFINE_enum("strategy", defaults.strategy, training.STRATEGIES, "tf.distribute strategy.")
flags.DEFINE_integer("cpu_devices", defaults.cpu_devices, "Split the CPU into this many logical "
                     "devices, e.g. to run --strategy=mirrored without GPUs.")
flags.DEFINE_bool("deterministic", defaults.deterministic, "tf.config.experimental."
                  "enable_op_determinism(): bit-for-bit repeatable GPU kernels, at some cost in "
                  "speed (CPU kernels already are in practice).")
flags.mark_flags_as_required(["model", "dataset"])
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    model_dir = FLAGS.model_dir or os.path.join(
        "runs", FLAGS.dataset, f"{FLAGS.model}_{FLAGS.ngram}gram")
    config = training.TrainConfig(
        model=FLAGS.model, dataset=FLAGS.dataset, model_dir=model_dir, data_dir=FLAGS.data_dir,
        cache_dir=FLAGS.cache_dir, ngram=FLAGS.ngram, ngram_padding=FLAGS.ngram_padding,
        units=FLAGS.units, layer_norm=FLAGS.layer_norm, learn_sigmas=FLAGS.learn_sigmas,
        epochs=FLAGS.epochs, max_steps=FLAGS.max_steps, batch_size=FLAGS.batch_size,
        learning_rate=FLAGS.learning_rate, dropout=FLAGS.dropout, max_length=FLAGS.max_length,
        embeddings=FLAGS.embeddings, embedding_dim=FLAGS.embedding_dim,
        train_embeddings=FLAGS.train_embeddings, max_vocabulary=FLAGS.max_vocabulary,
        min_count=FLAGS.min_count, validation_fraction=FLAGS.validation_fraction, seed=FLAGS.seed,
        eval_every=FLAGS.eval_every, log_every=FLAGS.log_every, jit_compile=FLAGS.jit_compile,
        mixed_precision=FLAGS.mixed_precision, strategy=FLAGS.strategy,
        cpu_devices=FLAGS.cpu_devices, deterministic=FLAGS.deterministic)
    training.train_classifier(config, command=[os.path.basename(sys.executable)] + sys.argv)


if __name__ == "__main__":
    # Logging at WARNING unless --verbosity is given; these errors end in one `error: ...` line.
    tool_support.run(main, (training.TrainingError, classification_data.DataError,
                            word_vectors.WordVectorsError, download.DownloadError,
                            download.UnsafeArchiveError))
