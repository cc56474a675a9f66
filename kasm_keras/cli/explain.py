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
from kasm_keras.data.classification_data import DataError
from kasm_keras.models import task_family
from kasm_keras.training.checkpoints import CheckpointError
from kasm_keras.utils import download, files

FLAGS = flags.FLAGS
ERRORS = (zoo.ZooError, CheckpointError, download.DownloadError, DataError)


def define_flags(flag_values=FLAGS):
    kw = {"flag_values": flag_values}
    flags.DEFINE_string("model_dir", None, "A finished tools/train.py run.", **kw)
    flags.DEFINE_string("zoo", None, "A zoo entry, e.g. ag_news/rkm_cifg_1gram.", **kw)
    tool_support.define_zoo_dir(flag_values)
    # Each family's inputs (`TaskFamily.explain_flags`): --text, --prompt, --series, ...
    tool_support.define_family_flags(flag_values, [
        flag for family in task_family.all_families() for flag in family.explain_flags])
    flags.DEFINE_enum("dtype", "float32", ["float32", "float64"], "What the explanation "
                      "computes in: float64 where the shares are far larger than the logits and "
                      "float32 cannot hold their sum (see the explanations guide).", **kw)
    flags.DEFINE_integer("top", 5, "Parts listed per output.", lower_bound=1, **kw)
    flags.DEFINE_bool("json", False, "Print one JSON list of the results instead.", **kw)
    flags.DEFINE_string("html", None, "Also write one self-contained HTML page of the results "
                        "to this file.", **kw)
    tool_support.existing_folder(flag_values, "model_dir", "training run folder")
    tool_support.one_model(flag_values)
    tool_support.new_file(flag_values, "html")


def input_flags():
    """The names of every family's `explain_flags`, each once, in order."""
    return list(dict.fromkeys(flag.name for family in task_family.all_families()
                              for flag in family.explain_flags))


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    model = tool_support.load_model(FLAGS.model_dir, FLAGS.zoo, FLAGS.zoo_dir)
    family = task_family.of_model(model)
    source = tool_support.model_source(FLAGS.model_dir, FLAGS.zoo)
    own = [flag.name for flag in family.explain_flags]
    wrong = [name for name in input_flags() if FLAGS[name].present and name not in own]
    if wrong:
        tool_support.fail(f"--{wrong[0]} does not apply to {source}, a {family.description}: "
                          f"it reads --{own[0]}")
    if not any(FLAGS[name].value for name in family.explain_needs):
        tool_support.fail(f"{source} is a {family.description}: give "
                          f"--{' or --'.join(family.explain_needs)}")
    sources, values, options = family.explain_inputs({name: FLAGS[name].value for name in own})
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
