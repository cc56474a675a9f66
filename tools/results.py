"""Prints the measured accuracies beside the paper's Table 2, from the metrics.json files.

python tools/results.py [--runs_dir=runs]
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from reporting import readme, results  # noqa: E402

flags.DEFINE_string("runs_dir", None, "Also include finished runs under this folder.")
flags.DEFINE_string("zoo_dir", None, "The zoo (default: this checkout's zoo/).")
flags.DEFINE_bool("update_readme", False, "Replace the README's results table with this one.")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    table = results.markdown_table(results.collect(FLAGS.runs_dir, FLAGS.zoo_dir))
    print(table)
    if FLAGS.update_readme:
        readme.replace_block("results", table)


if __name__ == "__main__":
    app.run(main)
