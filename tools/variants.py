"""Prints the paper's Table 1 as the library holds it, with weight counts for given sizes."""

import os
import sys

import tool_support  # first: it handles stopping signals from here on

# benchmarks/ sits beside tools/ in the checkout, outside the installed library.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import flags  # noqa: E402

from benchmarks.variants import ERRORS, define_flags, main  # noqa: E402

if __name__ == "__main__":
    define_flags()
    # Key flags of this program, defined in benchmarks/: --help lists them under its name.
    flags.adopt_module_key_flags(sys.modules[main.__module__])
    tool_support.run(main, ERRORS)
