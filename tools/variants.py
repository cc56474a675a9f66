"""The paper's Table 1 as the library holds it, with weight counts: runs `benchmarks/variants.py`.

python tools/variants.py [--input_dim=300] [--units=300] [--ngrams=1,3] [--update_readme]
"""

import os
import sys

import tool_support  # first: it handles stopping signals from here on

# benchmarks/ sits beside tools/ in the checkout, outside the installed library.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.variants import ERRORS, define_flags, main  # noqa: E402

if __name__ == "__main__":
    define_flags()
    tool_support.run(main, ERRORS)
