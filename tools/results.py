"""Prints the measured accuracies beside the paper's Table 2, from the metrics.json files.

python tools/results.py [--runs_dir=runs]
"""

import tool_support
from absl import app, flags

from reporting import readme, results
from kasm_keras import zoo

FLAGS = flags.FLAGS
ERRORS = (zoo.ZooError,)


def define_flags(flag_values=FLAGS):
    kw = {"flag_values": flag_values}
    flags.DEFINE_string("runs_dir", None, "Also include finished runs under this folder (local "
                        "or any tf.io.gfile path, e.g. gs://...).", **kw)
    tool_support.define_zoo_dir(flag_values, "the entries")
    flags.DEFINE_bool("update_readme", False, "Replace the README's results table with this "
                      "one.", **kw)
    tool_support.existing_folder(flag_values, "runs_dir")


def table(metrics):
    """The results table; one metrics.json that lacks what the table shows is named."""
    for m in metrics:
        try:
            results.markdown_table([m])
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            what = f"no {error.args[0]!r}" if isinstance(error, KeyError) else repr(error)
            source = m.get("source", "?")
            where = source if source.startswith("zoo: ") else f"{source}/metrics.json"
            tool_support.fail(f"{where}: not a finished tools/train.py run's metrics ({what})")
    return results.markdown_table(metrics)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    try:
        metrics = results.collect(FLAGS.runs_dir, FLAGS.zoo_dir)
    except ValueError as error:  # a metrics.json that is not JSON, named by kasm_keras.utils.files
        tool_support.fail(error)
    text = table(metrics)
    print(text)
    if FLAGS.update_readme:
        readme.replace_block("results", text)


if __name__ == "__main__":
    define_flags()
    tool_support.run(main, ERRORS)
