"""Evaluates a trained model (a --model_dir or a --zoo entry) on a dataset split, or on text.

python tools/evaluate.py --model_dir=runs/ag_news/rkm_cifg_1gram --data_dir=../shared/data
python tools/evaluate.py --zoo=ag_news/rkm_cifg_1gram --text="Stocks rallied on Friday"
python tools/evaluate.py --zoo=ptb/rkm_lstm --dataset=ptb --split=test --data_dir=../shared/data
python tools/evaluate.py --zoo=ptb/rkm_lstm --text="the company said it expects higher sales"

A classifier: accuracy, per-class precision/recall/F1 and the confusion matrix; --text classifies.

A language model: the perplexity over the whole split, the stream cut into --batch_size rows
and read in --bptt windows with the state carried from window to window (AWD-LSTM's evaluation,
`KernelCausalLM.perplexity`; by default the run's test_batch_size, or eval_batch_size for the
other splits, and its bptt); --json prints dataset, split, perplexity, cross_entropy (nats per
token), tokens, batch_size and bptt. --text scores each sentence from a fresh state: its
log-likelihood (natural log, its words and the closing <eos>), tokens and perplexity.
"""

import contextlib
import json
import sys

import tool_support
from absl import app, flags

from kasm_keras import zoo
from kasm_keras.data import classification_data, datasets, language_model_data
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
    flags.DEFINE_enum("dataset", None, datasets.CLASSIFICATION + tuple(language_model_data.CORPORA),
                      "Dataset, or a language model's corpus (default: the model's own).", **kw)
    flags.DEFINE_string("data_dir", None, "Local copy of the dataset; without it the archive is "
                        "downloaded.", **kw)
    flags.DEFINE_string("cache_dir", None, "Prepared data cache (default ~/.cache/kasm_keras).",
                        **kw)
    flags.DEFINE_enum("split", "test", ["train", "validation", "valid", "test"], "Split to "
                      "evaluate (validation and valid are the same split).", **kw)
    flags.DEFINE_multi_string("text", None, "Classify this text (a language model: score this "
                              "sentence) instead of a split (repeatable).", **kw)
    flags.DEFINE_integer("batch_size", None, "Language model: rows the split's stream is cut "
                         "into (default: the run's test_batch_size for test, eval_batch_size "
                         "otherwise).", lower_bound=1, **kw)
    flags.DEFINE_integer("bptt", None, "Language model: the window the stream is read in, the "
                         "state carried across windows (default: the run's bptt).",
                         lower_bound=1, **kw)
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


def format_language_model_report(report):
    return (f"{report['dataset']} {report['split']}: perplexity {report['perplexity']:.2f} "
            f"(cross-entropy {report['cross_entropy']:.4f} nats) over {report['tokens']:,} "
            f"tokens, {report['batch_size']} rows, windows of {report['bptt']}")


def evaluate_language_model(lm):
    """Perplexity over a split (or --text's sentences' scores), printed."""
    from kasm_keras.zoo import language_models

    if FLAGS.text:
        for name in ("batch_size", "bptt"):
            if FLAGS[name].present:
                raise app.UsageError(f"--{name} applies to a split's perplexity, not to --text "
                                     "(each sentence is scored from a fresh state)")
        scores = lm.score(FLAGS.text)
        results = [{"text": t, "log_likelihood": float(ll), "tokens": int(n),
                    "perplexity": float(p)}
                   for t, ll, n, p in zip(FLAGS.text, scores["log_likelihood"], scores["tokens"],
                                          scores["perplexity"])]
        if FLAGS.json:
            print(json.dumps(results))
        for r in [] if FLAGS.json else results:
            print(f"{r['perplexity']:.2f}\t{r['log_likelihood']:.4f}\t{r['tokens']}\t{r['text']}")
        return
    info = lm.info if isinstance(lm.info, dict) else {}
    run = info.get("training", info)
    dataset = FLAGS.dataset or run.get("dataset")
    source = (f"{FLAGS.model_dir}/config.json" if FLAGS.model_dir
              else f"the zoo entry {FLAGS.zoo}'s metadata")
    if FLAGS.dataset and dataset not in language_model_data.CORPORA:
        tool_support.fail(f"--dataset={dataset} is a classification dataset, but "
                          f"{tool_support.model_source(FLAGS.model_dir, FLAGS.zoo)} is a language "
                          f"model (corpora: {', '.join(language_model_data.CORPORA)})")
    if dataset not in language_model_data.CORPORA:
        tool_support.fail(f"{source} names no language-model corpus this tool knows "
                          f"({dataset!r}); pass --dataset")
    split = "valid" if FLAGS.split in ("valid", "validation") else FLAGS.split
    batch_size = FLAGS.batch_size or int(run.get("test_batch_size" if split == "test"
                                                 else "eval_batch_size", 1 if split == "test"
                                                 else 10))
    bptt = FLAGS.bptt or int(run.get("bptt", 70))
    with tool_support.download_hint(f"the {dataset} corpus"):
        ids = language_models.split_ids(lm, dataset, FLAGS.data_dir, FLAGS.cache_dir, split)
    try:
        scores = language_models.measure(lm, ids, batch_size, bptt)
    except ValueError as error:  # a split too short for --batch_size rows
        tool_support.fail(f"--dataset={dataset} --split={FLAGS.split}: {error}")
    report = {"dataset": dataset, "split": split, "perplexity": scores["perplexity"],
              "cross_entropy": scores["cross_entropy"], "tokens": scores["tokens"],
              "batch_size": batch_size, "bptt": bptt}
    print(json.dumps(report) if FLAGS.json else format_language_model_report(report))


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    model = tool_support.load_model(FLAGS.model_dir, FLAGS.zoo, FLAGS.zoo_dir)
    if tool_support.is_language_model(model):
        return evaluate_language_model(model)
    classifier = model
    for name in ("batch_size", "bptt"):
        if FLAGS[name].present:
            raise app.UsageError(f"--{name} applies to a language model, not to a classifier")
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
    if FLAGS.dataset and dataset not in datasets.CLASSIFICATION:
        tool_support.fail(f"--dataset={dataset} is a language-model corpus, but "
                          f"{tool_support.model_source(FLAGS.model_dir, FLAGS.zoo)} is a "
                          "document classifier")
    if dataset not in datasets.CLASSIFICATION:
        source = (f"{FLAGS.model_dir}/config.json" if FLAGS.model_dir
                  else f"the zoo entry {FLAGS.zoo}'s metadata")
        tool_support.fail(f"{source} names no dataset this tool knows ({dataset!r}); pass "
                          "--dataset")
    split = "validation" if FLAGS.split == "valid" else FLAGS.split
    # TFDS prints progress; stdout is the report.
    with contextlib.redirect_stdout(sys.stderr), \
            tool_support.download_hint(f"the {dataset} dataset"):
        data_classes, texts, labels = zoo.split_texts(
            dataset, split, FLAGS.data_dir, FLAGS.cache_dir,
            run.get("validation_fraction", 0.05), zoo.split_seed(run))
        if classifier.class_names and list(data_classes) != classes:
            tool_support.fail(f"the model predicts {classes}, but {dataset} has "
                              f"classes {list(data_classes)}")
        report = {"dataset": dataset, "split": split,
                  **classifier.classification_report(texts, labels)}
    print(json.dumps(report) if FLAGS.json else format_report(report))


if __name__ == "__main__":
    define_flags()
    tool_support.run(main, ERRORS)
