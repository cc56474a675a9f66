"""Training and inference speed of every variant beside keras.layers.LSTM at each precision, the
classifier end to end on real AG News batches, scaling curves, serving latency, and the goals.

python tools/benchmark.py [--quick] [--output=FILE] [--json] [--precisions=float32,auto]
    [--data_dir=../shared/data] [--scaling] [--serving_zoo=NAME] [--update_readme]
python tools/benchmark.py --report=benchmarks/latest.json --language_models \
    --data_dir=../shared/data --output=benchmarks/latest.json --update_readme
python tools/benchmark.py --report=benchmarks/latest.json --time_to_accuracy=RUN/metrics.json \
    --output=benchmarks/latest.json --update_readme

With --report, no layer is measured; --data_dir (with --language_models), --scaling and
--serving_zoo still measure theirs and add them to the report. A new --time_to_accuracy keeps
the report's earlier figure beside it (as "previous").
"""

import os
import sys

import tool_support  # first: it handles stopping signals from here on

# benchmarks/ sits beside tools/ in the checkout, outside the installed library.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import flags  # noqa: E402

from benchmarks.benchmark import ERRORS, define_flags, main  # noqa: E402

if __name__ == "__main__":
    define_flags()
    # Key flags of this program, defined in benchmarks/: --help lists them under its name.
    flags.adopt_module_key_flags(sys.modules[main.__module__])
    tool_support.run(main, ERRORS)
