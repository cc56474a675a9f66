"""Describes a dataset: split sizes, class balance, vocabulary, lengths, vector coverage, pipeline speed.

python tools/data.py --dataset=ag_news --data_dir=../shared/data [--json]
"""

import contextlib
import json
import sys

import tool_support
from absl import app, flags

from kasm_keras.data import classification_data, dataset_report, datasets, word_vectors
from kasm_keras.utils import download

flags.DEFINE_enum("dataset", None, datasets.CLASSIFICATION + datasets.LANGUAGE_MODELLING,
                  "Dataset to describe.")
flags.DEFINE_string("data_dir", None, "Local copy: the archive's folder, the extracted folder or "
                    "a folder of the canonical files. Without it the official archive is downloaded.")
flags.DEFINE_string("cache_dir", None, f"Prepared and tokenised data (default {datasets.DEFAULT_CACHE_DIR}).")
flags.DEFINE_string("embeddings", word_vectors.AUTO, "Word vectors to report coverage for: auto "
                    f"({word_vectors.AUTO_BUILTIN} when its package is installed, else none, as in "
                    "tools/train.py), a builtin name, a GloVe .txt(.gz) or word2vec .bin path, or none.")
flags.DEFINE_integer("max_length", None, "Tokens kept per document, for the lengths' cut share "
                     "(default: the dataset's, 128, 96 for yahoo; classification only).")
flags.DEFINE_integer("max_vocabulary", 50_000, "Vocabulary size cap, special tokens included.")
flags.DEFINE_integer("min_count", 2, "Training occurrences a token needs to enter the vocabulary.")
flags.DEFINE_float("validation_fraction", 0.05, "Share of train held out for validation.")
flags.DEFINE_integer("seed", 0, "Seed of the validation split.")
flags.DEFINE_bool("skip_bad_rows", False, "Leave out malformed rows (and list them) instead of stopping.")
flags.DEFINE_integer("batch_size", 64, "Batch size for the pipeline speed measurement.")
flags.DEFINE_bool("json", False, "Print one JSON object to stdout instead of a table.")
flags.mark_flag_as_required("dataset")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    import tensorflow_datasets as tfds

    tfds.disable_progress_bar()
    options = {}
    if FLAGS.dataset in datasets.CLASSIFICATION:
        options = dict(max_vocabulary=FLAGS.max_vocabulary, min_count=FLAGS.min_count,
                       max_length=FLAGS.max_length, validation_fraction=FLAGS.validation_fraction,
                       seed=FLAGS.seed, skip_bad_rows=FLAGS.skip_bad_rows)
    with contextlib.redirect_stdout(sys.stderr):  # TFDS prints its progress; stdout is the report
        report = dataset_report.describe(FLAGS.dataset, FLAGS.data_dir, FLAGS.cache_dir,
                                         embeddings=FLAGS.embeddings, batch_size=FLAGS.batch_size,
                                         **options)
    print(json.dumps(report) if FLAGS.json else dataset_report.format_report(report))


if __name__ == "__main__":
    tool_support.run(main, (word_vectors.WordVectorsError, classification_data.DataError,
                            download.DownloadError, download.UnsafeArchiveError))
