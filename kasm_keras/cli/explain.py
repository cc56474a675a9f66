"""Explains a trained model's predictions (a --model_dir or a --zoo entry): each token's exact
share of the logits, which with a constant adds up to them (`kasm_keras.layers.held_values`).

python tools/explain.py --zoo=ag_news/rkm_cifg_1gram --text="Stocks fell on Wall Street"
python tools/explain.py --zoo=ag_news/rkm_cifg_1gram --input=FILE   # one text per line
python tools/explain.py --zoo=ptb/rkm_lstm --prompt="the company said" [--target=it,that]
python tools/explain.py --zoo=japanese_vowels/rkm_lstm_3gram --series=FILE.ts [--cases=0,1]
    [--json] [--html=PAGE.html] [--top=5]

A document classifier reads --text (repeatable) or --input; a language model --prompt (the
next word's logits are explained: of --target's words, or of the most likely one); a
time-series classifier the cases of a UEA .ts file (--series; --cases picks some by their
index). Each input prints the predicted output, every token with its share of that output's
logit (coloured in a terminal, plain when piped or with $NO_COLOR), the top parts of every
output and the constant. --json prints the results instead; --html writes one self-contained
page (tokens shaded by their share, an output selector and, for a document classifier, the
memory kernel as a heatmap: `kasm_keras.layers.memory_kernel`, how strongly each token weighs in
the state at each later token).
"""

import json
import os
import sys

from absl import app, flags

from kasm_keras.cli import explanation_page, tool_support
from kasm_keras import zoo
from kasm_keras.data import time_series_data
from kasm_keras.data.classification_data import DataError
from kasm_keras.models import task_family
from kasm_keras.training.checkpoints import CheckpointError
from kasm_keras.utils import download, files

FLAGS = flags.FLAGS
ERRORS = (zoo.ZooError, CheckpointError, download.DownloadError, DataError)
# The flags that give each kind of input (`TaskFamily.explains`).
INPUT_FLAGS = {"text": ("text", "input"), "prompt": ("prompt", "target"),
               "series": ("series", "cases")}


def define_flags(flag_values=FLAGS):
    kw = {"flag_values": flag_values}
    flags.DEFINE_string("model_dir", None, "A finished tools/train.py run.", **kw)
    flags.DEFINE_string("zoo", None, "A zoo entry, e.g. ag_news/rkm_cifg_1gram.", **kw)
    tool_support.define_zoo_dir(flag_values)
    flags.DEFINE_multi_string("text", None, "A document classifier: a text to explain "
                              "(repeatable), UTF-8.", **kw)
    flags.DEFINE_string("input", None, "A document classifier: a UTF-8 file of texts, one per "
                        "line (empty lines are refused).", **kw)
    flags.DEFINE_multi_string("prompt", None, "A language model: a prompt whose next word is "
                              "explained (repeatable).", **kw)
    flags.DEFINE_list("target", None, "A language model: the next words whose logits are "
                      "explained (default: each prompt's most likely next word).", **kw)
    flags.DEFINE_string("series", None, "A time-series classifier: a UEA/UCR .ts file whose "
                        "cases are explained.", **kw)
    flags.DEFINE_list("cases", None, "With --series: the cases (0-based, in the file's order) "
                      "to explain (default: all).", **kw)
    flags.DEFINE_enum("dtype", "float32", ["float32", "float64"], "What the explanation "
                      "computes in: float64 where the shares are far larger than the logits and "
                      "float32 cannot hold their sum (see the explanations guide).", **kw)
    flags.DEFINE_integer("top", 5, "Parts listed per output.", lower_bound=1, **kw)
    flags.DEFINE_bool("json", False, "Print one JSON list of the results instead.", **kw)
    flags.DEFINE_string("html", None, "Also write one self-contained HTML page of the results "
                        "to this file.", **kw)
    tool_support.utf8_text(flag_values, "text")
    tool_support.utf8_text(flag_values, "prompt")
    tool_support.existing_folder(flag_values, "model_dir", "training run folder")
    tool_support.one_model(flag_values)
    tool_support.int_list(flag_values, "cases", low=0)
    tool_support.new_file(flag_values, "html")


def read_lines(path):
    """The non-empty texts of a UTF-8 file, one per line; DataError naming the file and line."""
    try:
        with open(path, encoding="utf-8") as f:
            texts = [line.rstrip("\n") for line in f]
    except FileNotFoundError:
        raise DataError(f"--input={path}: no such file") from None
    except UnicodeDecodeError as error:
        raise DataError(f"--input={path}: not UTF-8 text ({error})") from None
    except OSError as error:
        raise DataError(f"--input={path}: {error.strerror}") from None
    for number, text in enumerate(texts, 1):
        if not text.strip():
            raise DataError(f"{path}:{number}: an empty line (one text per line)")
    if not texts:
        raise DataError(f"--input={path}: no texts in it")
    return texts


def inputs(kind):
    """(sources to show, what `explain` reads, its keyword arguments) of the flags for `kind`."""
    if kind == "text":
        texts = list(FLAGS.text or []) + (read_lines(FLAGS.input) if FLAGS.input else [])
        return texts, texts, {}
    if kind == "prompt":
        return list(FLAGS.prompt), list(FLAGS.prompt), {"targets": FLAGS.target}
    cases = time_series_data.read_ts(FLAGS.series)
    chosen = [int(c) for c in FLAGS.cases] if FLAGS.cases else range(len(cases.series))
    beyond = [c for c in chosen if c >= len(cases.series)]
    if beyond:
        tool_support.fail(f"--cases={beyond[0]}: {FLAGS.series} has {len(cases.series)} cases "
                          f"(0 to {len(cases.series) - 1})")
    sources = [f"{os.path.basename(FLAGS.series)} case {c} (line {cases.lines[c]}, class "
               f"{cases.classes[cases.labels[c]]})" for c in chosen]
    return sources, [cases.series[c] for c in chosen], {}


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    model = tool_support.load_model(FLAGS.model_dir, FLAGS.zoo, FLAGS.zoo_dir)
    family = task_family.of_model(model)
    source = tool_support.model_source(FLAGS.model_dir, FLAGS.zoo)
    given = [name for names in INPUT_FLAGS.values() for name in names if FLAGS[name].present]
    wrong = [name for name in given if name not in INPUT_FLAGS[family.explains]]
    if wrong:
        tool_support.fail(f"--{wrong[0]} does not apply to {source}, a {family.description}: "
                          f"it reads --{' or --'.join(INPUT_FLAGS[family.explains][:1])}")
    if not any(FLAGS[name].present for name in INPUT_FLAGS[family.explains][:1]) and not (
            family.explains == "text" and FLAGS.input):
        first = INPUT_FLAGS[family.explains][0]
        tool_support.fail(f"{source} is a {family.description}: give --{first}"
                          + (" or --input" if family.explains == "text" else ""))
    sources, values, options = inputs(family.explains)
    try:
        results = model.explain(values, dtype=FLAGS.dtype, **options)
    except ValueError as error:  # a target word outside the vocabulary
        if not FLAGS.target:
            raise
        tool_support.fail(f"--target: {error}")
    records = [explanation_page.record(s, r) for s, r in zip(sources, results)]
    if hasattr(model, "memory_kernel"):  # a recurrent layer reads the tokens themselves
        for record, kernel in zip(records, model.memory_kernel(values)):
            record["memory"] = kernel.round(5).tolist()
    if FLAGS.html:
        files.write_text(FLAGS.html, explanation_page.page(
            f"{FLAGS.zoo or FLAGS.model_dir}: the kernel view of {len(records)} "
            f"{'prediction' if len(records) == 1 else 'predictions'}", records))
    if FLAGS.json:
        print(json.dumps(records))
        return
    colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    for s, r in zip(sources, results):
        print("\n".join(explanation_page.lines(s, r, FLAGS.top, colour)))
    if FLAGS.html:
        print(f"page: {FLAGS.html}", file=sys.stderr)


def run():
    """`kasm-explain`: this program on the command line (`python tools/explain.py` runs it too)."""
    tool_support.run_program(sys.modules[__name__])


if __name__ == "__main__":
    run()
