"""The program `python tools/variants.py` runs: its flags (`define_flags`) and `main`.

Prints the paper's Table 1 as the library holds it, with weight counts for given sizes.

Its usage (what `--help` prints) is tools/variants.py's docstring.
"""

from absl import app, flags

from benchmarks.reporting import readme
from benchmarks.reporting.variants import markdown_table
from kasm_keras.cli import tool_support

FLAGS = flags.FLAGS
ERRORS = ()


def define_flags(flag_values=FLAGS):
    kw = {"flag_values": flag_values}
    flags.DEFINE_integer("input_dim", 300, "m, the size of each input vector (embedding).",
                         lower_bound=1, **kw)
    flags.DEFINE_integer("units", 300, "d, the hidden size.", lower_bound=1, **kw)
    flags.DEFINE_list("ngrams", ["1", "3"], "Window widths n to count weights for.", **kw)
    flags.DEFINE_bool("update_readme", False, "Replace the README's variant table (default "
                      "sizes).", **kw)
    tool_support.int_list(flag_values, "ngrams", low=1)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    table = markdown_table(FLAGS.input_dim, FLAGS.units, [int(n) for n in FLAGS.ngrams])
    print(table)
    if FLAGS.update_readme:
        readme.replace_block("variants", table)
