"""tools/benchmark.py runs end to end (at a tiny size), and the README shows the committed table."""

import json
import pathlib
import re
import subprocess
import sys

import pytest

import tool_support
from reporting import benchmark, readme, results

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_tiny_benchmark_writes_every_figure(tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "benchmark.py"), "--quick", "--batch_size=2",
         "--time=6", "--units=8", "--layers=rkm_lstm,gated_cnn", "--ngrams=1,3", "--repeats=2",
         f"--output={out}"],
        capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["shape"] == {"batch": 2, "time": 6, "input_dim": 8, "units": 8}
    layers = {(r["layer"], r["ngram"], r["xla"], r["implementation"]) for r in report["rows"]}
    assert ("keras_lstm", 1, False, "auto") in layers and ("gated_cnn", 3, True, "auto") in layers
    assert ("rkm_lstm", 1, True, "loop") in layers  # the design "auto" replaced, beside it
    assert len(report["rows"]) == 2 * (2 * 2 + 1 + 1)
    for row in report["rows"]:
        assert row["train_tokens_per_second"] > 0 and row["inference_tokens_per_second"] > 0
        assert row["peak_memory_mib"] > 100
    assert report["matmul_flops_per_second"] > 1e8
    assert set(report["loop_matmul_flops_per_second"]) == {"4"}  # rkm_lstm and Keras' LSTM
    # W x, dW and dU at rkm_lstm's 1- and 3-gram shapes (Keras' LSTM shares the first).
    assert set(report["sequence_matmul_flops_per_second"]) == {"1,4", "3,4"}
    assert all(rate > 1e6 for rate in report["sequence_matmul_flops_per_second"].values())
    assert report["repeats"] == 2 and "(round 2 of 2)" in result.stderr
    assert "| `gated_cnn` | 3 | on |" in result.stdout
    assert "| `rkm_lstm` (loop) | 1 | off |" in result.stdout
    assert "The ceiling column" in result.stdout and "1.5x would take" in result.stdout

    # Re-render that report with a training run's time to accuracy, measuring nothing.
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"command": "python tools/train.py --model=rkm_cifg",
                                   "dataset": "ag_news", "model": "rkm_cifg", "steps": 1500,
                                   "train_seconds": 300.0, "test_accuracy": 0.9012}))
    again = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "benchmark.py"), f"--report={out}",
         f"--time_to_accuracy={metrics}"], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "reached 90.12% on the ag_news test split in 5.0 minutes" in again.stdout
    assert "| `gated_cnn` | 3 | on |" in again.stdout
    # --json prints the report itself, time to accuracy included.
    as_json = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "benchmark.py"), f"--report={out}",
         f"--time_to_accuracy={metrics}", "--json"], capture_output=True, text=True)
    assert as_json.returncode == 0, as_json.stderr[-3000:]
    assert json.loads(as_json.stdout) == {**report, "time_to_accuracy": {
        "command": "python tools/train.py --model=rkm_cifg", "dataset": "ag_news",
        "model": "rkm_cifg", "steps": 1500, "minutes": 5.0, "test_accuracy": 0.9012}}
    metrics.write_text("{}")
    bad = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "benchmark.py"), f"--report={out}",
         f"--time_to_accuracy={metrics}"], capture_output=True, text=True)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert re.search(rf"^error: --time_to_accuracy: {re.escape(str(metrics))}: not a "
                     r"tools/train.py metrics.json \(no 'command'\)$", bad.stderr, re.M), bad.stderr


def test_flops_follow_the_weight_counts():
    shape = benchmark.Shape(64, 128, 300, 300)
    # Training: W x and dW on the projection's 360,000 entries, h U, dU and dh' on U's.
    assert benchmark.training_flops_per_token("rkm_lstm", shape, 1) == 2 * (2 * 360_000 + 3 * 360_000)
    assert benchmark.training_flops_per_token("cnn", shape, 3) == 2 * 2 * 270_000
    assert benchmark.training_flops_per_token("keras_lstm", shape, 1) == \
        benchmark.training_flops_per_token("lstm", shape, 1)


def test_ceiling_adds_up_the_matmuls():
    shape = benchmark.Shape(2, 10, 3, 3)
    # Per step 2 products of 2*2*3*12 flops at 1 flop/s; whole sequence 3 of 2*20*3*12 at 10.
    want = 20 / (2 * 144 * 10 / 1.0 + 3 * 1440 / 10.0)
    assert abs(benchmark.training_ceiling("rkm_lstm", shape, 1, 1.0, 10.0) - want) < 1e-12
    # A 3-gram window triples W x and dW, not dU.
    want = 20 / (2 * 144 * 10 / 1.0 + (2 * 3 + 1) * 1440 / 10.0)
    assert abs(benchmark.training_ceiling("rkm_lstm", shape, 3, 1.0, 10.0) - want) < 1e-12
    report = {"shape": {"batch": 2, "time": 10, "input_dim": 3, "units": 3},
              "matmul_flops_per_second": 10.0, "loop_matmul_flops_per_second": {"4": 1.0}}
    assert benchmark.row_ceiling(report, {"layer": "keras_lstm", "ngram": 1}) == \
        benchmark.training_ceiling("rkm_lstm", shape, 1, 1.0, 10.0)
    assert benchmark.row_ceiling(report, {"layer": "cnn", "ngram": 1}) is None
    # With the whole-sequence products timed at the layer's shapes, the ceiling uses that rate;
    # its share is the ceiling's FLOP/s over the 2048x2048 rate.
    report["sequence_matmul_flops_per_second"] = {"1,4": 5.0, "3,4": 8.0}
    ceiling = benchmark.training_ceiling("rkm_lstm", shape, 3, 1.0, 8.0)
    assert benchmark.row_ceiling(report, {"layer": "rkm_lstm", "ngram": 3}) == ceiling
    assert benchmark.row_ceiling(report, {"layer": "keras_lstm", "ngram": 1}) == \
        benchmark.training_ceiling("rkm_lstm", shape, 1, 1.0, 5.0)
    flops = benchmark.training_flops_per_token("rkm_lstm", shape, 3)
    assert abs(benchmark.ceiling_share(report, {"layer": "rkm_lstm", "ngram": 3})
               - ceiling * flops / 10.0) < 1e-12
    assert benchmark.ceiling_share(report, {"layer": "cnn", "ngram": 3}) is None


def test_readme_shows_the_committed_benchmark():
    latest = ROOT / "benchmarks" / "latest.json"
    assert readme.read_block("benchmark") == benchmark.markdown(json.loads(latest.read_text()))


def test_reports_and_runs_are_read_through_tf_io_gfile(tmp_path):
    # ram:// is a filesystem that only tf.io.gfile reaches, standing in for gs://.
    for path in (str(tmp_path / "report.json"), "ram://reports/report.json"):
        tool_support.write_text(path, json.dumps({"rows": []}))
        assert tool_support.read_json(path) == {"rows": []}
    with pytest.raises(FileNotFoundError, match="^ram://reports/none.json: no such file$"):
        tool_support.read_json("ram://reports/none.json")
    tool_support.write_text("ram://runs/ag_news/rkm_cifg_1gram/metrics.json",
                            json.dumps({"dataset": "ag_news"}))
    runs = [m for m in results.collect("ram://runs") if not m["source"].startswith("zoo: ")]
    assert runs == [{"dataset": "ag_news", "source": "ram://runs/ag_news/rkm_cifg_1gram"}]
