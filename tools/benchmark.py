"""Training and inference speed of every variant beside keras.layers.LSTM at each precision, the
classifier end to end on real AG News batches, scaling curves, serving latency, and the goals.

python tools/benchmark.py [--quick] [--output=FILE] [--json] [--precisions=float32,auto]
    [--data_dir=../shared/data] [--scaling] [--serving_zoo=NAME]
python tools/benchmark.py --report=benchmarks/latest.json --language_models \
    --data_dir=../shared/data --output=benchmarks/latest.json
python tools/benchmark.py --report=benchmarks/latest.json --time_to_accuracy=RUN/metrics.json \
    --output=benchmarks/latest.json

With --report, no layer is measured; --data_dir (with --language_models), --scaling and
--serving_zoo still measure theirs and add them to the report. A new --time_to_accuracy keeps
the report's earlier figure beside it (as "previous").

The documentation's Speed page is built from benchmarks/latest.json (--output).
"""

import launch

if __name__ == "__main__":
    launch.run("benchmarks.benchmark")
