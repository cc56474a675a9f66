"""tools/benchmark.py runs end to end (at a tiny size), and the README shows the committed table."""

import json
import pathlib
import subprocess
import sys

from kasm_keras import benchmark, docs

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_tiny_benchmark_writes_every_figure(tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "benchmark.py"), "--quick", "--batch=2", "--time=6",
         "--dim=8", "--layers=rkm_lstm,gated_cnn", "--ngrams=1,3", f"--json={out}"],
        capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    layers = {(r["layer"], r["ngram"], r["xla"]) for r in report["rows"]}
    assert ("keras_lstm", 1, False) in layers and ("gated_cnn", 3, True) in layers
    assert len(report["rows"]) == 2 * (2 * 2 + 1)
    for row in report["rows"]:
        assert row["train_tokens_per_second"] > 0 and row["inference_tokens_per_second"] > 0
        assert row["peak_memory_mib"] > 100
    assert report["matmul_flops_per_second"] > 1e8
    assert "| `gated_cnn` | 3 | on |" in result.stdout


def test_flops_follow_the_weight_counts():
    shape = benchmark.Shape(64, 128, 300, 300)
    assert benchmark.forward_flops_per_token("rkm_lstm", shape, 1) == 2 * 720_000
    assert benchmark.forward_flops_per_token("cnn", shape, 3) == 2 * 270_000
    assert benchmark.forward_flops_per_token("keras_lstm", shape, 1) == 2 * 720_000


def test_readme_shows_the_committed_benchmark():
    latest = ROOT / "benchmarks" / "latest.json"
    assert docs.read_block("benchmark") == benchmark.markdown(json.loads(latest.read_text()))
