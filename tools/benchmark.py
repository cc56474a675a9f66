"""Training and inference speed of every variant beside keras.layers.LSTM, and serving latency.

python tools/benchmark.py [--quick] [--json=FILE] [--serving_zoo=NAME] [--update_readme]
python tools/benchmark.py --report=benchmarks/latest.json --time_to_accuracy=RUN/metrics.json \
    --json=benchmarks/latest.json --update_readme
"""

import json
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from reporting import benchmark, readme  # noqa: E402
from kasm_keras.utils.atomic_files import atomic_write_text  # noqa: E402

flags.DEFINE_bool("quick", False, "2 timed steps instead of 10 (rougher figures, same table).")
flags.DEFINE_bool("compare_loop", True, "Also measure the sequential variants with "
                  "implementation='loop' (automatic gradients), the design 'auto' replaces.")
flags.DEFINE_integer("repeats", 3, "Rounds over all layers; each figure is the best round's.",
                     lower_bound=1)
flags.DEFINE_string("json", None, "Also write the measurements to this JSON file.")
flags.DEFINE_list("layers", None, "Variants to measure (default: all); Keras' LSTM is always added.")
flags.DEFINE_list("ngrams", ["1", "3"], "Window widths.")
flags.DEFINE_list("xla", ["off", "on"], "XLA modes to measure.")
flags.DEFINE_integer("batch", 64, "Batch size (the paper's sizes by default).")
flags.DEFINE_integer("time", 128, "Sequence length.")
flags.DEFINE_integer("dim", 300, "Embedding and hidden size (m = d).")
flags.DEFINE_string("serving_zoo", None, "Also time a SavedModel exported from this zoo entry.")
flags.DEFINE_bool("update_readme", False, "Replace the README's benchmark table with this one.")
flags.DEFINE_string("time_to_accuracy", None,
                    "A tools/train.py metrics.json whose time to its test accuracy the table states.")
flags.DEFINE_string("report", None,
                    "Measure nothing: print (and with --update_readme, publish) this earlier --json "
                    "report, with --time_to_accuracy added if given.")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    if FLAGS.report:
        try:
            with open(FLAGS.report) as f:
                report = json.load(f)
        except (OSError, ValueError) as error:
            raise app.UsageError(f"--report={FLAGS.report}: {error}")
    else:
        shape = benchmark.Shape(FLAGS.batch, FLAGS.time, FLAGS.dim, FLAGS.dim)
        steps, warmup = (2, 1) if FLAGS.quick else (10, 3)
        report = benchmark.run(shape, steps, warmup, [int(n) for n in FLAGS.ngrams], FLAGS.layers,
                               [mode == "on" for mode in FLAGS.xla], FLAGS.repeats,
                               FLAGS.compare_loop,
                               log=lambda message: print(message, file=sys.stderr))
    if FLAGS.time_to_accuracy:
        try:
            report["time_to_accuracy"] = benchmark.time_to_accuracy(FLAGS.time_to_accuracy)
        except (OSError, ValueError) as error:
            raise app.UsageError(f"--time_to_accuracy: {error}")
    if FLAGS.serving_zoo and not FLAGS.report:
        from kasm_keras import zoo

        classifier = zoo.load(FLAGS.serving_zoo)
        with tempfile.TemporaryDirectory() as tmp:
            export_dir = classifier.export(os.path.join(tmp, "export"))
            texts = ["Oil prices rose sharply as markets opened on Monday, lifting energy shares "
                     "and weighing on airlines. " * 3, "The home team won the cup final.",
                     "A new chip promises faster phones with longer battery life."]
            report["serving"] = {"model": FLAGS.serving_zoo,
                                 **benchmark.serving_latency(export_dir, texts)}
    table = benchmark.markdown(report)
    print(table)
    if FLAGS.json:
        atomic_write_text(FLAGS.json, json.dumps(report, indent=2) + "\n")
    if FLAGS.update_readme:
        readme.replace_block("benchmark", table)


if __name__ == "__main__":
    app.run(main)
