"""Speed and memory of every variant beside Keras' LSTM, the classifier end to end, scaling,
serving and the goals: runs `benchmarks/benchmark.py` (its docstring lists the flags).

python tools/benchmark.py [--quick] [--output=FILE] [--json] [--precisions=float32,auto]
    [--data_dir=../shared/data] [--scaling] [--serving_zoo=NAME] [--update_readme]
"""

import os
import sys

import tool_support  # first: it handles stopping signals from here on

# benchmarks/ sits beside tools/ in the checkout, outside the installed library.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.benchmark import ERRORS, define_flags, main  # noqa: E402

if __name__ == "__main__":
    define_flags()
    tool_support.run(main, ERRORS)
