"""Describes a dataset: split sizes, class balance, vocabulary, lengths, vector coverage, pipeline speed.

python tools/data.py --dataset=ag_news --data_dir=../shared/data [--json]
python tools/data.py --dataset=japanese_vowels [--data_dir=DIR] [--json]

A time-series data set (japanese_vowels, basic_motions: downloaded as the pinned sktime wheel
without --data_dir, its .ts files extracted; ts_files: your own, in --data_dir) is described by
its files and their sha256, cases per split, channels, class balance, lengths and the
per-channel statistics fitted on its training cases (validation: --validation_fraction of each
class, default 0.2 here).
"""

import contextlib
import json
import sys

from absl import app, flags

from kasm_keras.cli import tool_support
from kasm_keras.data import classification_data, datasets, time_series_data, word_vectors
from kasm_keras.models import task_family
from kasm_keras.utils import download

FLAGS = flags.FLAGS
ERRORS = (word_vectors.WordVectorsError, classification_data.DataError, download.DownloadError,
          download.UnsafeArchiveError)


def define_flags(flag_values=FLAGS):
    kw = {"flag_values": flag_values}
    flags.DEFINE_enum("dataset", None, task_family.all_datasets(), "Dataset to describe.", **kw)
    flags.DEFINE_string("data_dir", None, "Local copy: the archive's folder, the extracted "
                        "folder or a folder of the canonical files. Without it the official "
                        "archive is downloaded.", **kw)
    flags.DEFINE_string("cache_dir", None, "Prepared and tokenised data (default "
                        f"{datasets.DEFAULT_CACHE_DIR}).", **kw)
    flags.DEFINE_string("embeddings", word_vectors.AUTO, "Word vectors to report coverage for: "
                        f"auto ({word_vectors.AUTO_BUILTIN} when its package is installed, else "
                        "none, as in tools/train.py), a builtin name, a GloVe .txt(.gz) or "
                        "word2vec .bin path, or none.", **kw)
    flags.DEFINE_integer("max_length", None, "Tokens kept per document, for the lengths' cut "
                         "share (default: the dataset's, 128, 96 for yahoo; classification "
                         "only).", lower_bound=1, **kw)
    flags.DEFINE_integer("max_vocabulary", 50_000, "Vocabulary size cap, special tokens "
                         "included (padding and the unknown token: at least 2).", lower_bound=2,
                         **kw)
    flags.DEFINE_integer("min_count", 2, "Training occurrences a token needs to enter the "
                         "vocabulary.", lower_bound=1, **kw)
    flags.DEFINE_float("validation_fraction", None, "Share of train held out for validation, "
                       "in (0, 1) (default 0.05; for a time series "
                       f"{time_series_data.VALIDATION_FRACTION} of each class).", **kw)
    flags.DEFINE_integer("seed", 0, "Seed of the validation split.", lower_bound=0,
                         upper_bound=2 ** 32 - 1, **kw)
    flags.DEFINE_bool("skip_bad_rows", False, "Leave out malformed rows (and list them) instead "
                      "of stopping.", **kw)
    flags.DEFINE_integer("batch_size", 64, "Batch size for the pipeline speed measurement.",
                         lower_bound=1, **kw)
    flags.DEFINE_integer("max_series_length", time_series_data.MAX_LENGTH, "Time series: "
                         "steps a series may have (longer ones are refused at their line).",
                         lower_bound=1, **kw)
    flags.DEFINE_bool("json", False, "Print one JSON object to stdout instead of a table.", **kw)
    flags.mark_flag_as_required("dataset", **kw)
    tool_support.existing_folder(flag_values, "data_dir")
    tool_support.not_a_file(flag_values, "cache_dir")
    tool_support.in_range(flag_values, "validation_fraction", 0, 1, low_open=True,
                          high_open=True)


# The options that apply to some families' datasets only, in the order they are checked.
OPTIONS = ("embeddings", "max_length", "max_vocabulary", "min_count", "validation_fraction",
           "seed", "skip_bad_rows", "batch_size", "max_series_length")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    family = task_family.of_dataset(FLAGS.dataset)
    refusal = family.refused_data_option([name for name in OPTIONS if FLAGS[name].present],
                                         FLAGS.dataset)
    if refusal:
        raise app.UsageError(refusal)
    options = {name: FLAGS[name].value for name in family.data_options}
    # Reading data may print progress (TFDS does); stdout is the report.
    with contextlib.redirect_stdout(sys.stderr):
        report = family.describe_data(FLAGS.dataset, FLAGS.data_dir, FLAGS.cache_dir, options,
                                      tool_support.download_hint)
    print(json.dumps(report) if FLAGS.json else family.format_data_report(report))


def run():
    """`kasm-data`: this program on the command line (`python tools/data.py` runs it too)."""
    tool_support.run_program(sys.modules[__name__])


if __name__ == "__main__":
    run()
