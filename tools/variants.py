"""Prints the paper's Table 1 as the library holds it, with weight counts for given sizes."""

import tool_support
from absl import app, flags

from reporting import readme
from kasm_keras.layers.variants import markdown_table

flags.DEFINE_integer("input_dim", 300, "m, the size of each input vector (embedding).")
flags.DEFINE_integer("units", 300, "d, the hidden size.")
flags.DEFINE_list("ngrams", ["1", "3"], "Window widths n to count weights for.")
flags.DEFINE_bool("update_readme", False, "Replace the README's variant table (default sizes).")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    table = markdown_table(flags.FLAGS.input_dim, flags.FLAGS.units,
                           [int(n) for n in flags.FLAGS.ngrams])
    print(table)
    if flags.FLAGS.update_readme:
        readme.replace_block("variants", table)


if __name__ == "__main__":
    tool_support.run(main)
