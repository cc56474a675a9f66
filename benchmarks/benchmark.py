"""The program `python tools/benchmark.py` runs: its flags (`define_flags`) and `main`.

Training and inference speed of every variant beside keras.layers.LSTM at each precision, the
classifier end to end on real AG News batches, scaling curves, serving latency, and the goals.

Its usage (what `--help` prints) is tools/benchmark.py's docstring.
"""

import json
import os
import sys
import tempfile

from absl import app, flags

from benchmarks.reporting import benchmark, language_model_benchmark
from kasm_keras.cli import tool_support
from kasm_keras.layers.variants import VARIANTS
from kasm_keras.training.precision import PRECISIONS
from kasm_keras.utils import files

FLAGS = flags.FLAGS
ERRORS = ()


def define_flags(flag_values=FLAGS):
    kw = {"flag_values": flag_values}
    flags.DEFINE_bool("quick", False, "2 timed steps instead of 10 (rougher figures, same "
                      "table).", **kw)
    flags.DEFINE_bool("compare_loop", True, "Also measure the sequential variants with "
                      "implementation='loop' (automatic gradients), the design 'auto' replaces.",
                      **kw)
    flags.DEFINE_integer("repeats", 3, "Rounds over all layers; each figure is the best round's.",
                         lower_bound=1, **kw)
    flags.DEFINE_string("output", None, "Also write the report (the measurements) to this JSON "
                        "file (local or any tf.io.gfile path, e.g. gs://...).", **kw)
    flags.DEFINE_bool("json", False, "Print the report as one JSON object to stdout instead of "
                      "the table.", **kw)
    flags.DEFINE_list("layers", None, "Variants to measure (default: all); Keras' LSTM is "
                      "always added.", **kw)
    flags.DEFINE_list("ngrams", ["1", "3"], "Window widths.", **kw)
    flags.DEFINE_list("xla", ["off", "on"], "XLA modes to measure.", **kw)
    flags.DEFINE_integer("batch_size", 64, "Batch size (the paper's sizes by default).",
                         lower_bound=1, **kw)
    flags.DEFINE_integer("time", 128, "Sequence length.", lower_bound=1, **kw)
    flags.DEFINE_integer("units", 300, "Hidden size d, and the embedding size m (m = d).",
                         lower_bound=1, **kw)
    flags.DEFINE_string("serving_zoo", None, "Also time a SavedModel exported from this zoo "
                        "entry.", **kw)
    tool_support.define_zoo_dir(flag_values, "--serving_zoo")
    flags.DEFINE_string("time_to_accuracy", None, "A tools/train.py metrics.json whose time to "
                        "its test accuracy the table states.", **kw)
    flags.DEFINE_string("report", None, "Measure no layer: print (and with --output, "
                        "write again) this earlier --output report, with --time_to_accuracy added "
                        "if given (its earlier figure kept beside it) and --data_dir, --scaling "
                        "and --serving_zoo measured now.", **kw)
    flags.DEFINE_list("precisions", ["float32", "auto"], "Precisions (Keras dtype policies) to "
                      "measure every layer at; auto is the one tools/train.py picks here. The "
                      "(loop) rows are measured at the first only.", **kw)
    flags.DEFINE_string("data_dir", None, "A folder holding AG News (e.g. ../shared/data): "
                        "measure the classifier end to end on its batches (padded, float32 "
                        "against length-aware, auto precision), and serve its test document of "
                        "median length; with --language_models, a folder holding ptb/.", **kw)
    flags.DEFINE_string("cache_dir", None, "Prepared and tokenised data for --data_dir (default "
                        "the kasm_keras cache, as tools/train.py).", **kw)
    flags.DEFINE_bool("scaling", False, "Also measure training tokens/s and peak memory of "
                      f"{' and '.join(benchmark.SCALING_LAYERS)} at the auto precision for "
                      f"sequence lengths {benchmark.SCALING_LENGTHS[0]} to "
                      f"{benchmark.SCALING_LENGTHS[-1]} and batch sizes "
                      f"{benchmark.SCALING_BATCHES[0]} to {benchmark.SCALING_BATCHES[-1]}.", **kw)
    flags.DEFINE_bool("language_models", False, "With --data_dir holding ptb: time the "
                      f"{language_model_benchmark.RECIPE!r} language-model recipe's training "
                      "steps and validation for each cell of Table 3 and project its training "
                      "minutes (instead of the AG News classifier end to end).", **kw)
    flags.DEFINE_integer("language_model_steps", 40, "Timed training steps per cell for "
                         "--language_models.", lower_bound=1, **kw)
    tool_support.choices_list(flag_values, "layers", VARIANTS)
    tool_support.int_list(flag_values, "ngrams", low=1)
    tool_support.choices_list(flag_values, "xla", ("off", "on"))
    tool_support.choices_list(flag_values, "precisions", PRECISIONS)
    tool_support.new_file(flag_values, "output")
    tool_support.existing_folder(flag_values, "data_dir")
    tool_support.not_a_file(flag_values, "cache_dir")
    flags.register_multi_flags_validator(
        ["language_models", "data_dir"], lambda f: not f["language_models"] or f["data_dir"],
        "--language_models needs --data_dir (a folder holding ptb/)", flag_values=flag_values)
    for name in ("ngrams", "xla", "precisions"):
        flags.register_validator(name, bool, "give at least one", flag_values=flag_values)


def check_report(report, path):
    """Fails naming `path` unless `report` is a report that tools/benchmark.py wrote."""
    try:
        if not isinstance(report, dict):
            raise TypeError("not a JSON object")
        benchmark.markdown(report)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
        what = f"no {error.args[0]!r}" if isinstance(error, KeyError) else str(error)
        tool_support.fail(f"--report: {path}: not a tools/benchmark.py report ({what})")


def log(message):
    print(message, file=sys.stderr)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    steps, warmup = (2, 1) if FLAGS.quick else (10, 3)
    if FLAGS.report:
        try:
            report = files.read_json(FLAGS.report)
        except (OSError, ValueError) as error:
            tool_support.fail(f"--report: {error}")
        check_report(report, FLAGS.report)
    classifier = typical = None
    if FLAGS.serving_zoo:  # read before measuring anything, so that a bad entry fails first
        from kasm_keras import zoo

        try:
            classifier = zoo.load(FLAGS.serving_zoo, FLAGS.zoo_dir)
        except zoo.ZooError as error:
            tool_support.fail(error)
    if FLAGS.data_dir and not FLAGS.language_models:  # prepared and checked before the children
        try:
            typical = benchmark.typical_document(FLAGS.data_dir, FLAGS.cache_dir)
        except (OSError, ValueError) as error:
            tool_support.fail(f"--data_dir: {error}")
    if not FLAGS.report:
        shape = benchmark.Shape(FLAGS.batch_size, FLAGS.time, FLAGS.units, FLAGS.units)
        report = benchmark.run(shape, steps, warmup, [int(n) for n in FLAGS.ngrams], FLAGS.layers,
                               [mode == "on" for mode in FLAGS.xla], FLAGS.repeats,
                               FLAGS.compare_loop, FLAGS.precisions, log=log)
    if FLAGS.time_to_accuracy:
        try:
            report["time_to_accuracy"] = benchmark.with_previous(
                benchmark.time_to_accuracy(files.read_json(FLAGS.time_to_accuracy),
                                           FLAGS.time_to_accuracy),
                report.get("time_to_accuracy"))
        except (OSError, ValueError) as error:
            tool_support.fail(f"--time_to_accuracy: {error}")
    if FLAGS.language_models:
        try:
            report["language_models"] = language_model_benchmark.measure(
                FLAGS.data_dir, FLAGS.cache_dir, steps=FLAGS.language_model_steps, log=log)
        except RuntimeError as error:
            tool_support.fail(f"--language_models: {error}")
    elif FLAGS.data_dir:
        quick = {"train_batches": 4, "warmup": 1, "inference_batches": 4} if FLAGS.quick else {}
        report["end_to_end"] = benchmark.end_to_end(FLAGS.data_dir, FLAGS.cache_dir,
                                                    FLAGS.repeats, log=log, **quick)
    if FLAGS.scaling:
        from kasm_keras.training import precision

        report["scaling"] = benchmark.scaling(FLAGS.units, precision.resolve("auto"),
                                              most=steps, log=log)
    if classifier is not None:  # measured now, also beside an earlier --report's rows
        from kasm_keras.models.kernel_classifier import serving

        document = {}
        if typical:
            texts = [typical[0]]
            document = {"document": f"the {benchmark.END_TO_END['dataset']} test document of "
                                    "median length", "document_tokens": typical[1]}
        else:
            texts = ["Oil prices rose sharply as markets opened on Monday, lifting energy shares "
                     "and weighing on airlines. " * 3, "The home team won the cup final.",
                     "A new chip promises faster phones with longer battery life."]
        with tempfile.TemporaryDirectory() as tmp:
            export_dir = serving.export_saved_model(classifier, os.path.join(tmp, "export"))
            report["serving"] = {"model": FLAGS.serving_zoo, **document,
                                 **benchmark.serving_latency(export_dir, texts),
                                 "memory_mib": benchmark.serving_memory(export_dir, texts)}
            xla_dir = serving.export_saved_model(classifier, os.path.join(tmp, "xla"),
                                                 jit_compile=True)  # tools/export.py --jit_compile
            report["serving"]["xla"] = benchmark.serving_latency(xla_dir, texts)
    table = benchmark.markdown(report)
    print(json.dumps(report) if FLAGS.json else table)
    if FLAGS.output:
        files.write_text(FLAGS.output, json.dumps(report, indent=2) + "\n")
