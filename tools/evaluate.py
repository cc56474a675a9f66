"""Evaluates a trained classifier (a --model_dir or a --zoo entry) on a dataset split, or on text.

python tools/evaluate.py --model_dir=runs/ag_news/rkm_cifg_1gram --data_dir=../shared/data
python tools/evaluate.py --zoo=ag_news/rkm_cifg_1gram --text="Stocks rallied on Friday"
"""

import contextlib
import json
import sys

import tool_support
from absl import app, flags

from kasm_keras import zoo
from kasm_keras.data import classification_data, datasets
from kasm_keras.training.checkpoints import CheckpointError
from kasm_keras.utils import download

FLAGS = flags.FLAGS
ERRORS = (zoo.ZooError, CheckpointError, classification_data.DataError, download.DownloadError,
          download.UnsafeArchiveError)


def define_flags(flag_values=FLAGS):
    kw = {"flag_values": flag_values}
    flags.DEFINE_string("model_dir", None, "A finished tools/train.py run.", **kw)
    flags.DEFINE_string("zoo", None, "A zoo entry name, e.g. ag_news/rkm_cifg_1gram.", **kw)
    tool_support.define_zoo_dir(flag_values)
    flags.DEFINE_enum("dataset", None, datasets.CLASSIFICATION, "Dataset (default: the model's "
                      "own).", **kw)
    flags.DEFINE_string("data_dir", None, "Local copy of the dataset; without it the archive is "
                        "downloaded.", **kw)
    flags.DEFINE_string("cache_dir", None, "Prepared data cache (default ~/.cache/kasm_keras).",
                        **kw)
    flags.DEFINE_enum("split", "test", ["train", "validation", "test"], "Split to evaluate.", **kw)
    flags.DEFINE_multi_string("text", None, "Classify this text instead of a split "
                              "(repeatable).", **kw)
    flags.DEFINE_bool("json", False, "Print one JSON object to stdout instead of a table.", **kw)
    tool_support.existing_folder(flag_values, "model_dir", "training run folder")
    tool_support.existing_folder(flag_values, "data_dir")
    tool_support.not_a_file(flag_values, "cache_dir")
    tool_support.one_model(flag_values)


def format_report(report):
    classes = report["classes"]
    lines = [f"{report['dataset']} {report['split']}: accuracy {report['accuracy']:.4f} "
             f"on {report['documents']:,} documents", "",
             f"  {'class':<24}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
    for name, s in report["per_class"].items():
        lines.append(f"  {name:<24}{s['precision']:>10.4f}{s['recall']:>10.4f}{s['f1']:>10.4f}"
                     f"{s['support']:>10,}")
    width = max(8, max(len(c) for c in classes) + 2)
    lines += ["", "  confusion matrix (rows: true class, columns: predicted)",
              "  " + " " * 24 + "".join(f"{c[:width - 2]:>{width}}" for c in classes)]
    for name, row in zip(classes, report["confusion_matrix"]):
        lines.append(f"  {name:<24}" + "".join(f"{n:>{width},}" for n in row))
    return "\n".join(lines)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    classifier = tool_support.load_classifier(FLAGS.model_dir, FLAGS.zoo, FLAGS.zoo_dir)
    classes = list(classifier.class_names or [str(i) for i in range(classifier.num_classes)])
    if FLAGS.text:
        probabilities = classifier.probabilities(FLAGS.text)
        results = [{"text": t, "class_name": classes[p.argmax()],
                    "probabilities": dict(zip(classes, p.round(6).tolist()))}
                   for t, p in zip(FLAGS.text, probabilities)]
        if FLAGS.json:
            print(json.dumps(results))
        for r in [] if FLAGS.json else results:
            print(f"{r['class_name']}\t{r['probabilities'][r['class_name']]:.3f}\t{r['text']}")
        return
    info = classifier.info if isinstance(classifier.info, dict) else {}
    run = info.get("training", info)
    dataset = FLAGS.dataset or run.get("dataset")
    if dataset not in datasets.CLASSIFICATION:
        source = (f"{FLAGS.model_dir}/config.json" if FLAGS.model_dir
                  else f"the zoo entry {FLAGS.zoo}'s metadata")
        tool_support.fail(f"{source} names no dataset this tool knows ({dataset!r}); pass "
                          "--dataset")
    # TFDS prints progress; stdout is the report.
    with contextlib.redirect_stdout(sys.stderr), \
            tool_support.download_hint(f"the {dataset} dataset"):
        data_classes, texts, labels = zoo.split_texts(
            dataset, FLAGS.split, FLAGS.data_dir, FLAGS.cache_dir,
            run.get("validation_fraction", 0.05), zoo.split_seed(run))
        if classifier.class_names and list(data_classes) != classes:
            tool_support.fail(f"the model predicts {classes}, but {dataset} has "
                              f"classes {list(data_classes)}")
        report = {"dataset": dataset, "split": FLAGS.split,
                  **classifier.classification_report(texts, labels)}
    print(json.dumps(report) if FLAGS.json else format_report(report))


if __name__ == "__main__":
    define_flags()
    tool_support.run(main, ERRORS)
