"""tools/benchmark.py runs end to end (at a tiny size), and the README shows the committed table."""

import json
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest
from absl import flags

from benchmarks import docs_site
from benchmarks.reporting import benchmark, language_model_benchmark, results
from kasm_keras.cli import tool_support
from kasm_keras.utils import files
from tests.test_faults_tools import error_line, tool  # noqa: F401 (fixture)

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_tiny_benchmark_writes_every_figure(tool, tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "benchmark.py"), "--quick", "--batch_size=2",
         "--time=6", "--units=8", "--layers=rkm_lstm", "--ngrams=1,3", "--repeats=1",
         "--precisions=float32", f"--output={out}"],
        capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["shape"] == {"batch": 2, "time": 6, "input_dim": 8, "units": 8}
    layers = {(r["layer"], r["ngram"], r["xla"], r["implementation"]) for r in report["rows"]}
    assert ("keras_lstm", 1, False, "auto") in layers and ("rkm_lstm", 3, True, "auto") in layers
    assert ("rkm_lstm", 1, True, "loop") in layers  # the design "auto" replaced, beside it
    assert len(report["rows"]) == 2 * (1 * 2 + 1 + 1)  # XLA x (n-grams, the loop, Keras' LSTM)
    for row in report["rows"]:
        assert row["train_tokens_per_second"] > 0 and row["inference_tokens_per_second"] > 0
        assert row["peak_memory_mib"] > 100
    assert report["matmul_flops_per_second"] > 1e8
    assert set(report["loop_matmul_flops_per_second"]) == {"4"}  # rkm_lstm and Keras' LSTM
    # W x, dW and dU at rkm_lstm's 1- and 3-gram shapes (Keras' LSTM shares the first).
    assert set(report["sequence_matmul_flops_per_second"]) == {"1,4", "3,4"}
    assert all(rate > 1e6 for rate in report["sequence_matmul_flops_per_second"].values())
    assert report["repeats"] == 1 and "(round 1 of 1)" in result.stderr
    assert "| `rkm_lstm` | 3 | on |" in result.stdout
    assert "| `rkm_lstm` (loop) | 1 | off |" in result.stdout
    assert "The ceiling column" in result.stdout and "1.5x would take" in result.stdout

    # Re-render that report with a training run's time to accuracy, measuring nothing.
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"command": "python tools/train.py --model=rkm_cifg",
                                   "dataset": "ag_news", "model": "rkm_cifg", "steps": 1500,
                                   "train_seconds": 300.0, "test_accuracy": 0.9012}))
    # (In this process: the program's flags and error handling, without another TensorFlow.)
    again = tool("benchmark", f"--report={out}", f"--time_to_accuracy={metrics}")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "reached 90.12% on the ag_news test split in 5.0 minutes" in again.stdout
    assert "| `rkm_lstm` | 3 | on |" in again.stdout
    # --json prints the report itself, time to accuracy included.
    as_json = tool("benchmark", f"--report={out}", f"--time_to_accuracy={metrics}", "--json")
    assert as_json.returncode == 0, as_json.stderr[-3000:]
    assert json.loads(as_json.stdout) == {**report, "time_to_accuracy": {
        "command": "python tools/train.py --model=rkm_cifg", "dataset": "ag_news",
        "model": "rkm_cifg", "steps": 1500, "minutes": 5.0, "test_accuracy": 0.9012}}
    metrics.write_text("{}")
    line = error_line(tool("benchmark", f"--report={out}", f"--time_to_accuracy={metrics}"))
    assert line == (f"error: --time_to_accuracy: {metrics}: not a tools/train.py metrics.json "
                    "(no 'command')")


def test_each_figure_is_its_best_rounds(monkeypatch):
    """Rounds are measured in turn (in-process here: the subprocess run above does one round)."""
    calls = []
    speeds = iter([10.0, 30.0, 20.0, 5.0])  # (rkm_lstm, keras_lstm) in round 1, then round 2

    def fake_child(layer, ngram, shape, steps, warmup, xla_modes, implementation, policy):
        calls.append((layer, ngram, implementation))
        train = next(speeds)
        return [{"layer": layer, "ngram": ngram, "xla": False, "implementation": implementation,
                 "precision": policy, "train_tokens_per_second": train,
                 "train_flops_per_second": 2 * train, "inference_tokens_per_second": 100 - train,
                 "peak_memory_mib": 50 + train}]

    def fake_rates(rates, shape, blocks, sequence_keys, dtype):
        rates["matmul_flops_per_second"] = max(rates["matmul_flops_per_second"], 1e9)

    monkeypatch.setattr(benchmark, "_child", fake_child)
    monkeypatch.setattr(benchmark, "_measure_rates", fake_rates)
    log = []
    report = benchmark.run(benchmark.Shape(2, 3, 4, 4), ngrams=(1,), layers=["rkm_lstm"],
                           xla_modes=(False,), repeats=2, compare_loop=False, log=log.append)
    assert calls == [("rkm_lstm", 1, "auto"), ("keras_lstm", 1, "auto")] * 2
    assert len(log) == 4 and log[-1].endswith("(round 2 of 2) ...")
    rows = {row["layer"]: row for row in report["rows"]}
    # Fastest training of the two rounds (with its FLOP/s), fastest inference, highest memory.
    assert rows["rkm_lstm"]["train_tokens_per_second"] == 20.0
    assert rows["rkm_lstm"]["train_flops_per_second"] == 40.0
    assert rows["rkm_lstm"]["inference_tokens_per_second"] == 90.0
    assert rows["rkm_lstm"]["peak_memory_mib"] == 70.0
    assert rows["keras_lstm"]["train_tokens_per_second"] == 30.0
    assert rows["keras_lstm"]["inference_tokens_per_second"] == 95.0
    assert report["repeats"] == 2 and report["matmul_flops_per_second"] == 1e9


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


def test_docs_show_the_committed_benchmark():
    latest = ROOT / "benchmarks" / "latest.json"
    assert docs_site.block("benchmark") == benchmark.markdown(json.loads(latest.read_text()))


def test_reports_and_runs_are_read_through_tf_io_gfile(tmp_path):
    # ram:// is a filesystem that only tf.io.gfile reaches, standing in for gs://.
    for path in (str(tmp_path / "report.json"), "ram://reports/report.json"):
        files.write_text(path, json.dumps({"rows": []}))
        assert files.read_json(path) == {"rows": []}
    with pytest.raises(FileNotFoundError, match="^ram://reports/none.json: no such file$"):
        files.read_json("ram://reports/none.json")
    files.write_text("ram://runs/ag_news/rkm_cifg_1gram/metrics.json",
                     json.dumps({"dataset": "ag_news"}))
    files.write_text("ram://runs/ag_news/bad/metrics.json",
                     json.dumps({"dataset": "ag_news", "test_accuracy": float("nan")}))
    warnings = []
    runs = results.run_metrics("ram://runs", warn=warnings.append)
    assert runs == [{"dataset": "ag_news", "source": "ram://runs/ag_news/rkm_cifg_1gram"}]
    assert [m for m in results.collect(runs=runs) if not m["source"].startswith("zoo: ")] == runs
    assert warnings == ["ram://runs/ag_news/bad/metrics.json: test_accuracy is nan, not a finite "
                        "number; left out of the tables"]


# ------------------------------------------------------------------ precisions, end to end, goals

WORDS = ("markets rose on monday as oil prices fell and the team won the final while a new chip "
         "promised faster phones").split()


def _fake_ag_news(folder, train=48, test=12):
    """A small AG News in the canonical CSV layout, documents of 3 to 60 words."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    (folder / "classes.txt").write_text("World\nSports\nBusiness\nSci/Tech\n")
    for name, rows in (("train.csv", train), ("test.csv", test)):
        lines = []
        for i in range(rows):
            words = " ".join(rng.choice(WORDS, size=3 + (i * 7) % 58))
            lines.append(f'"{1 + i % 4}","Title {i}","{words}"')
        (folder / name).write_text("\n".join(lines) + "\n")
    return folder


def test_precisions_and_end_to_end_are_measured_and_rendered(tmp_path):
    data_dir = _fake_ag_news(tmp_path / "ag_news")
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "benchmark.py"), "--quick", "--batch_size=2",
         "--time=4", "--units=8", "--layers=cnn", "--ngrams=1", "--xla=off", "--repeats=1",
         "--precisions=float32,mixed_bfloat16,float32", f"--data_dir={data_dir}",
         f"--cache_dir={tmp_path / 'cache'}", f"--output={out}"],
        capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["precisions"] == ["float32", "mixed_bfloat16"]  # each once, in order
    assert report["auto_precision"] in ("float32", "mixed_bfloat16")
    rows = {(r["layer"], r["precision"]) for r in report["rows"]}
    assert rows == {(layer, precision) for layer in ("cnn", "keras_lstm")
                    for precision in ("float32", "mixed_bfloat16")}
    # Keras' LSTM's products, timed in bfloat16 too; its bfloat16 row's ceiling reads them.
    bf16 = report["matmul_rates"]["bfloat16"]
    assert bf16["matmul_flops_per_second"] > 1e8
    assert set(bf16["loop_matmul_flops_per_second"]) == {"4"}
    lstm = {r["precision"]: r for r in report["rows"] if r["layer"] == "keras_lstm"}
    assert benchmark.row_ceiling(report, lstm["mixed_bfloat16"]) == benchmark.training_ceiling(
        "keras_lstm", benchmark.Shape(2, 4, 8, 8), 1, bf16["loop_matmul_flops_per_second"]["4"],
        bf16["sequence_matmul_flops_per_second"]["1,4"])
    assert "| `cnn` | 1 | off | mixed_bfloat16 |" in result.stdout
    assert "| layer | n | XLA | precision | train tokens/s |" in result.stdout

    # End to end: padded batches compute 128 tokens a document, length-aware ones far fewer.
    e = report["end_to_end"]
    old, new = e["modes"]["old"], e["modes"]["new"]
    assert (old["by_length"], old["precision"]) == (False, "float32")
    assert (new["by_length"], new["precision"]) == (True, report["auto_precision"])
    assert old["train_tokens_per_document"] == 128 and new["train_tokens_per_document"] < 60
    # --quick reads the first 4 test batches: all 12 documents padded, fewer by length.
    assert old["inference_documents"] == 12 and 0 < new["inference_documents"] <= 12
    for mode in (old, new):
        assert mode["train_documents_per_second"] > 0 and mode["inference_documents_per_second"] > 0
    ratio = new["train_documents_per_second"] / old["train_documents_per_second"]
    assert f"New vs old: training {ratio:.2f}x" in result.stdout
    assert f"| training documents/s end to end, new / old | {ratio:.2f}x" in result.stdout
    assert "Goals, each against the figure measured above:" in result.stdout
    assert "| `rkm_lstm` at mixed_bfloat16 (XLA off), share of its ceiling | not measured |" \
        in result.stdout or report["auto_precision"] != "mixed_bfloat16"

    # The serving text: the test document of median length (the lower middle of 12), counting
    # the two tokens of its title.
    text, tokens = benchmark.typical_document(str(data_dir), str(tmp_path / "cache"))
    lengths = sorted(2 + 3 + (i * 7) % 58 for i in range(12))
    assert tokens == lengths[5] and len(text.split()) == tokens


def _report(**extra):
    """A synthetic report: rkm_lstm and Keras' LSTM at float32 and mixed_bfloat16, rkm_cifg at
    mixed_bfloat16, with products that run 10 (loop) and 100 (whole sequence) FLOP/s in float32
    and twice that in bfloat16."""
    def rates(scale):
        return {"matmul_flops_per_second": 200.0 * scale,
                "loop_matmul_flops_per_second": {"3": 10.0 * scale, "4": 10.0 * scale},
                "sequence_matmul_flops_per_second": {"1,3": 100.0 * scale, "1,4": 100.0 * scale}}

    def row(layer, precision, tokens):
        return {"layer": layer, "ngram": 1, "xla": False, "implementation": "auto",
                "precision": precision, "train_tokens_per_second": tokens,
                "inference_tokens_per_second": 2 * tokens, "train_flops_per_second": 60.0,
                "peak_memory_mib": 900.0}

    shape = {"batch": 2, "time": 10, "input_dim": 3, "units": 3}
    ceiling = benchmark.training_ceiling("rkm_lstm", benchmark.Shape(**shape), 1, 20.0, 200.0)
    cifg = benchmark.training_ceiling("rkm_cifg", benchmark.Shape(**shape), 1, 20.0, 200.0)
    return {"date": "2026-01-01 00:00 UTC", "machine": {"cpu": "CPU", "cores": 2, "gpus": [],
                                                       "tensorflow": "2"},
            "shape": shape, "steps": 10, "repeats": 1, "precisions": ["float32", "mixed_bfloat16"],
            "auto_precision": "mixed_bfloat16", **rates(1), "matmul_rates": {"bfloat16": rates(2)},
            "rows": [row("rkm_lstm", "float32", 0.5 * ceiling),
                     row("rkm_lstm", "mixed_bfloat16", 0.9 * ceiling),  # 90% of its ceiling
                     row("rkm_cifg", "mixed_bfloat16", 0.5 * cifg),  # 50% of its ceiling
                     row("keras_lstm", "float32", 0.5 * ceiling),  # rkm_lstm: 1.8x
                     row("keras_lstm", "mixed_bfloat16", ceiling)],  # rkm_lstm: 0.9x
            **extra}


def test_goals_render_every_figure_met_or_not():
    report = _report(
        time_to_accuracy={"command": "train", "dataset": "ag_news", "model": "rkm_cifg",
                          "steps": 900, "minutes": 1.5, "test_accuracy": 0.905,
                          "previous": {"command": "old", "dataset": "ag_news", "model": "rkm_cifg",
                                       "steps": 1500, "minutes": 5.3, "test_accuracy": 0.9004}},
        serving={"model": "ag_news/rkm_cifg_1gram", "document": "the ag_news test document of "
                 "median length", "document_tokens": 38, "p50_ms": 2.5, "p99_ms": 11.0,
                 "batch": 256, "documents_per_second": 2500.0},
        end_to_end={**benchmark.END_TO_END, "xla": False, "train_batches": 40,
                    "warmup_batches": 5, "modes": {
                        mode: {"by_length": mode == "new", "precision": precision,
                               "train_documents_per_second": speed,
                               "train_tokens_per_document": 40.0,
                               "inference_documents": 7600, "inference_documents_per_second": speed,
                               "inference_tokens_per_document": 40.0, "peak_memory_mib": 900.0}
                        for mode, precision, speed in (("old", "float32", 100.0),
                                                       ("new", "mixed_bfloat16", 350.0))}})
    found = {g["goal"]: g for g in benchmark.goals(report)}
    ceiling = benchmark.row_ceiling(report, report["rows"][1])
    cifg = benchmark.row_ceiling(report, report["rows"][2])
    assert cifg == benchmark.training_ceiling("rkm_cifg", benchmark.Shape(2, 10, 3, 3), 1, 20.0,
                                              200.0)  # the bfloat16 rates

    def check(goal, measured, met):
        assert (found[goal]["measured"], found[goal]["met"]) == (measured, met), found[goal]

    check("time to 90% test accuracy (`tools/train.py`, ag_news)",
          "1.5 minutes (90.50%); before: 5.3 minutes (90.04%)", True)
    check("serving one typical document, p50",
          "2.5 ms (the ag_news test document of median length, 38 tokens)", True)
    check("serving one typical document, p99",
          "11.0 ms (the ag_news test document of median length, 38 tokens)", False)
    check("training documents/s end to end, new / old", "3.50x (350 vs 100)", True)
    rkm = f"{0.9 * ceiling:,.0f}"
    check("`rkm_lstm` 1-gram at mixed_bfloat16 vs `keras_lstm` at float32, training tokens/s "
          "(XLA off)", f"1.80x ({rkm} vs {0.5 * ceiling:,.0f})", True)
    check("`rkm_lstm` 1-gram at mixed_bfloat16 vs `keras_lstm` at mixed_bfloat16, training "
          "tokens/s (XLA off)", f"0.90x ({rkm} vs {ceiling:,.0f})", False)
    # Each sequential variant against its ceiling at the precision it runs in (bfloat16 rates).
    check("`rkm_lstm` 1-gram at mixed_bfloat16 (XLA off), share of its ceiling",
          f"90% ({rkm} of {ceiling:,.0f} tokens/s)", True)
    check("`rkm_cifg` 1-gram at mixed_bfloat16 (XLA off), share of its ceiling",
          f"50% ({0.5 * cifg:,.0f} of {cifg:,.0f} tokens/s)", False)
    check("`lstm` at mixed_bfloat16 (XLA off), share of its ceiling", None, None)
    assert {g["target"] for g in found.values()} >= {"<= 2.0 minutes", "<= 5 ms", "<= 10 ms",
                                                     ">= 3.0x", ">= 1.5x", ">= 1.0x", ">= 85%"}

    table = benchmark.markdown(report)
    assert ("| time to 90% test accuracy (`tools/train.py`, ag_news) | 1.5 minutes (90.50%); "
            "before: 5.3 minutes (90.04%) | <= 2.0 minutes | met |") in table
    assert "| serving one typical document, p99 | 11.0 ms (the ag_news test document of median " \
           "length, 38 tokens) | <= 10 ms | not met |" in table
    assert "| `lstm` at mixed_bfloat16 (XLA off), share of its ceiling | not measured | >= 85% " \
           "| not measured |" in table
    assert "beside the figure before: `old` reached 90.04% on ag_news in 5.3 minutes" in table
    assert "one document (the ag_news test document of median length, 38 tokens) p50" in table
    assert "| new | length-aware | mixed_bfloat16 | 350 | 350 | 40.0 | 900 |" in table
    assert "New vs old: training 3.50x, inference 3.50x the documents/s." in table
    # A bfloat16 row's share of matmul, ceiling and its share are of the bfloat16 rates.
    cells = next(line for line in table.splitlines()
                 if line.startswith("| `rkm_cifg` | 1 | off | mixed_bfloat16 |")).split(" | ")
    flops = benchmark.training_flops_per_token("rkm_cifg", benchmark.Shape(2, 10, 3, 3), 1)
    share = cifg * flops / 400
    assert cells[9:13] == ["15%", f"{cifg:,.0f}", f"{share:.0%}", "50%"]
    assert "| `rkm_cifg` | 1 | off | float32 |" not in table

    # Without the measurements: "not measured", never a number; 90% not reached is not met.
    bare = _report(time_to_accuracy={"command": "train", "dataset": "ag_news", "model": "cnn",
                                     "steps": 900, "minutes": 1.0, "test_accuracy": 0.89})
    bare["rows"] = []
    bare_goals = benchmark.goals(bare)
    assert bare_goals[0]["measured"] == "90% not reached (89.00% after 1.0 minutes)"
    assert bare_goals[0]["met"] is False
    assert all(g["measured"] is None and g["met"] is None for g in bare_goals[1:])
    lines = benchmark.markdown(bare).splitlines()
    assert sum(line.endswith(" | not measured |") for line in lines) == len(bare_goals) - 1
    assert "| 90% not reached (89.00% after 1.0 minutes) | <= 2.0 minutes | not met |" in lines[-11]


def test_earlier_reports_render_as_float32_and_keep_the_previous_time():
    # A report as tools/benchmark.py wrote them before precisions, end to end and scaling.
    current = json.loads((ROOT / "benchmarks" / "latest.json").read_text())
    latest = {k: v for k, v in current.items()
              if k not in ("precisions", "auto_precision", "end_to_end", "scaling",
                           "matmul_rates")}
    latest["rows"] = [{k: v for k, v in r.items() if k != "precision"}
                      for r in current["rows"] if r.get("precision", "float32") == "float32"]
    latest["serving"] = {k: v for k, v in current["serving"].items()
                         if k not in ("document", "document_tokens", "xla")}
    latest["time_to_accuracy"] = {k: v for k, v in current["time_to_accuracy"].items()
                                  if k != "previous"}
    table = benchmark.markdown(latest)
    assert "precision" not in table and "Goals" not in table  # as it rendered when written
    row = next(r for r in latest["rows"] if r["layer"] == "rkm_lstm")
    assert benchmark.row_precision(row) == "float32"
    assert benchmark.precision_rates(latest, "mixed_bfloat16") is None
    assert benchmark.row_ceiling(latest, {**row, "precision": "mixed_bfloat16"}) is None
    assert benchmark.row_ceiling(latest, row) == benchmark.training_ceiling(
        "rkm_lstm", benchmark.Shape(**latest["shape"]), 1,
        latest["loop_matmul_flops_per_second"]["4"],
        latest["sequence_matmul_flops_per_second"]["1,4"])
    # Its goals: what it has is judged, the rest not measured (it names no auto precision).
    found = {g["goal"]: g for g in benchmark.goals(latest)}
    assert found["serving one typical document, p50"]["measured"] == \
        f"{latest['serving']['p50_ms']:.1f} ms (hand-written texts)"
    assert found["training documents/s end to end, new / old"]["met"] is None

    # A new time to accuracy keeps the one before beside it; the same run again changes nothing.
    old = latest["time_to_accuracy"]
    new = {**old, "command": "new", "minutes": 1.9}
    assert benchmark.with_previous(new, None) == new
    kept = benchmark.with_previous(new, old)
    assert kept == {**new, "previous": old}
    assert benchmark.with_previous(dict(new), kept) == kept
    assert benchmark.with_previous({**new, "minutes": 1.5}, kept)["previous"] == new
    again = benchmark.markdown({**latest, "time_to_accuracy": kept})
    assert f"in 1.9 minutes of training ({old['steps']:,} steps) on this machine; beside the " \
           f"figure before: `{old['command']}` reached" in again


def test_scaling_curves_state_their_shape():
    # Cost per token 1.25x from length 16 to 64; memory exactly 500 MiB + 2 MiB a token.
    points = [{"batch": 64, "time": t, "steps": 2, "train_tokens_per_second": tps,
               "peak_memory_mib": 500.0 + 2 * t} for t, tps in ((64, 800.0), (16, 1000.0),
                                                                 (32, 1000.0))]
    shape = benchmark.curve_shape(points, "time")
    assert shape["from"] == 16 and shape["to"] == 64 and shape["cost_ratio"] == pytest.approx(1.25)
    assert shape["memory_slope_mib"] == pytest.approx(2.0)
    assert shape["memory_intercept_mib"] == pytest.approx(500.0)
    assert shape["memory_r2"] == pytest.approx(1.0)
    # Off the line: R^2 is the squared correlation of memory with length.
    noisy = [{**p, "peak_memory_mib": m} for p, m in zip(points, (700.0, 520.0, 600.0))]
    x, y = [64, 16, 32], [700.0, 520.0, 600.0]
    assert benchmark.curve_shape(noisy, "time")["memory_r2"] == \
        pytest.approx(np.corrcoef(x, y)[0, 1] ** 2)
    assert benchmark.curve_shape(points[:1], "time") is None
    # Few steps where a step holds many tokens, never fewer than 2 nor more than the most.
    assert [benchmark.scaling_steps(64 * t) for t in (16, 128, 256, 2048)] == [8, 8, 8, 2]
    assert benchmark.scaling_steps(64 * 512) == 4 and benchmark.scaling_steps(1, most=2) == 2

    batch = [{"batch": b, "time": 128, "steps": 2, "train_tokens_per_second": 100.0 * b,
              "peak_memory_mib": 600.0 + b} for b in (1, 4)]
    report = _report(scaling={"precision": "mixed_bfloat16", "units": 300, "layers": {
        "cnn": {"xla": True, "length": {"batch": 64, "points": points},
                "batch": {"time": 128, "points": batch}}}})
    table = benchmark.markdown(report)
    assert "| `cnn` | on | 64 | 64 | 800 | 1.25x | 628 |" in table
    assert ("| `cnn` | length 16 to 64 at batch 64 | 1.25x | 500 MiB + 2.000 MiB per token of "
            "length | 1.000 |") in table
    assert ("| `cnn` | batch 1 to 4 at length 128 | 0.25x | 600 MiB + 1.000 MiB per document "
            "| 1.000 |") in table


def _benchmark_tool():
    from benchmarks import benchmark as program  # what tools/benchmark.py runs

    return program


@pytest.mark.parametrize("arg, message", [
    ("--precisions=float32,fp8", "flag --precisions=['float32', 'fp8']: 'fp8': expected items "
                                 "of auto, float32, mixed_bfloat16, mixed_float16"),
    ("--precisions=", "flag --precisions=[]: give at least one"),
    ("--data_dir={tmp}/nowhere", "flag --data_dir={tmp}/nowhere: no such folder"),
    ("--cache_dir={tmp}/a_file", "flag --cache_dir={tmp}/a_file: must be a folder, not a file"),
    ("--scaling=maybe", "--scaling"),
    ("--language_models", "--language_models needs --data_dir"),
])
def test_bad_flags_are_refused_naming_the_flag(tmp_path, capsys, arg, message):
    (tmp_path / "a_file").write_text("x")
    tool = _benchmark_tool()
    flag_values = flags.FlagValues()
    tool.define_flags(flag_values)
    with pytest.raises(SystemExit) as exit_:
        tool_support.execute(tool.main, ["benchmark.py", arg.format(tmp=tmp_path)], tool.ERRORS,
                             flag_values)
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message.format(tmp=tmp_path) in err, err
    assert sorted(os.listdir(tmp_path)) == ["a_file"]


def test_language_model_recipe_is_timed_per_cell_and_projected_to_its_epochs(tmp_path):
    from tests.test_language_model_tools import _write_corpus

    data_dir = _write_corpus(tmp_path / "data")
    tiny = dict(num_layers=1, hidden_dim=8, embedding_dim=8, batch_size=4, bptt=10,
                eval_batch_size=4, precision="float32", jit_compile="false", epochs=3.0)
    section = language_model_benchmark.measure(
        str(data_dir), str(tmp_path / "cache"), steps=4, variants=("lstm", "linear_kernel_ot"),
        overrides=tiny, log=lambda _: None)
    rows = section["rows"]
    assert [r["variant"] for r in rows] == ["lstm", "linear_kernel_ot"]
    for r in rows:
        assert r["timed_steps"] == 4 and r["step_seconds"] > 0 and r["validation_seconds"] > 0
        assert (r["batch_size"], r["bptt"], r["epochs"]) == (4, 10, 3.0)
        assert r["precision"] == "float32" and r["state_sizes"] == [8]
        assert r["projected_minutes"] == pytest.approx(
            3.0 * (r["steps_per_epoch"] * r["step_seconds"] + r["validation_seconds"]) / 60)
    assert rows[0]["parameters"] > rows[1]["parameters"]  # LSTM's four gates against two
    assert section["recipe"] == "cpu" and section["goal_minutes"] == 120.0
    text = "\n".join(language_model_benchmark.lines(section))
    assert "(4 steps after its warm-up)" in text and "projected to 3 epochs" in text
    assert re.search(r"^\| `linear_kernel_ot` \| 8 \| [\d,]+ \| [\d.]+ \| [\d.]+ \| \d+ \| 0 \| "
                     r"met \|", text, re.M), text
