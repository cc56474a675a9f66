"""The measured results beside the paper's tables, and the README's generated tables: runs
`benchmarks/results.py` (its docstring lists the flags).

python tools/results.py [--runs_dir=runs]
python tools/results.py --seed_runs='runs/zoo/*/*_seed*' --update_readme
"""

import os
import sys

import tool_support  # first: it handles stopping signals from here on

# benchmarks/ sits beside tools/ in the checkout, outside the installed library.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.results import ERRORS, define_flags, main  # noqa: E402

if __name__ == "__main__":
    define_flags()
    tool_support.run(main, ERRORS)
