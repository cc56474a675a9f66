"""Prints the measured accuracies beside the paper's Table 2, from the metrics.json files.

python tools/results.py [--runs_dir=runs]
"""

import tool_support
from absl import app, flags

from reporting import readme, results
from kasm_keras import zoo

flags.DEFINE_string("runs_dir", None, "Also include finished runs under this folder (local or "
                    "any tf.io.gfile path, e.g. gs://...).")
flags.DEFINE_string("zoo_dir", None, "The zoo, a local folder (default: "
                    "$KASM_KERAS_ZOO_DIR, else this checkout's zoo/, else the Keras cache).")
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
    tool_support.run(main, (zoo.ZooError,))
