"""Exact resume: tools/train.py killed with SIGKILL and run again ends where an uninterrupted run
ends (same weights, optimizer state and scores), on a tiny synthetic dataset in the AG News
layout, so it needs no real data."""

import json
import os
import pathlib
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from kasm_keras.data import datasets
from kasm_keras.training.checkpoints import CheckpointManager
from tests.conftest import same_worker

ROOT = pathlib.Path(__file__).resolve().parents[1]
TRAIN = str(ROOT / "tools" / "train.py")
# Without conftest's TF_ENABLE_ONEDNN_OPTS: `--deterministic` alone must make the runs agree.
ENV = {**{k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"},
       "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
SETTINGS = {"max_vocabulary": 500, "min_count": 1, "max_length": 32}
pytestmark = same_worker("training_resume")  # the tests share the prepared data (`tiny`)


def write_tiny_ag_news(folder, train_rows=480, test_rows=80, seed=0):
    """CSVs in the Zhang et al. layout: common words plus a few words typical of each class."""
    rng = random.Random(seed)
    common = [f"w{i}" for i in range(40)]
    topical = [[f"c{c}t{i}" for i in range(8)] for c in range(4)]

    def row(label):
        words = [rng.choice(common if rng.random() < 0.6 else topical[label])
                 for _ in range(rng.randint(4, 40))]
        return f'"{label + 1}","{" ".join(words[:3])}","{" ".join(words[3:])}"\n'

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "classes.txt").write_text("World\nSports\nBusiness\nSci/Tech\n")
    for name, rows in (("train.csv", train_rows), ("test.csv", test_rows)):
        (folder / name).write_text("".join(row(rng.randrange(4)) for _ in range(rows)))
    return folder


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Flags of a tiny run; the data is prepared here once, so runs can start side by side. The
    precision is fixed: `auto` times a matmul, and two runs side by side on a busy machine may
    choose differently."""
    root = tmp_path_factory.mktemp("tiny")
    data_dir, cache = write_tiny_ag_news(root / "csv"), root / "cache"
    datasets.load_classification("ag_news", str(data_dir), cache_dir=str(cache),
                                 **SETTINGS).split_sizes()
    return ["--dataset=ag_news", f"--data_dir={data_dir}", f"--cache_dir={cache}",
            "--units=8", "--embedding_dim=8", "--embeddings=none", "--batch_size=16",
            "--eval_every=5", "--log_every=5", "--deterministic", "--precision=float32", *[f"--{k}={v}" for k, v in SETTINGS.items()]]


def _final_state(model_dir):
    """The model's and optimizer's tensors in the last checkpoint, by name."""
    manager = CheckpointManager(model_dir / "checkpoints")
    latest = manager.latest()
    CheckpointManager.verify(latest)
    reader = tf.train.load_checkpoint(os.path.join(latest, "variables"))
    names = [n for n in reader.get_variable_to_shape_map()
             if n.startswith(("model/", "optimizer/"))]
    return os.path.basename(latest), {n: reader.get_tensor(n) for n in names}


def _metrics(model_dir):
    with open(model_dir / "metrics.json") as f:
        return json.load(f)


def _assert_same_run(dir_a, dir_b, tolerance=1e-5):
    name_a, a = _final_state(dir_a)
    name_b, b = _final_state(dir_b)
    assert name_a == name_b and sorted(a) == sorted(b)
    saved = CheckpointManager.read_state(dir_a / "checkpoints" / name_a)["variables"]["model"]
    assert any("seed_generator" in path for path in saved), \
        "the dropout seed generators' states must be in the checkpoint"
    worst = max(float(np.max(np.abs(a[n].astype(np.float64) - b[n].astype(np.float64))))
                for n in a if a[n].size)
    assert worst <= tolerance, f"resumed run differs from the uninterrupted one by {worst}"
    ma, mb = _metrics(dir_a), _metrics(dir_b)
    for key in ("val_accuracy", "test_accuracy", "best_step", "steps"):
        assert ma[key] == pytest.approx(mb[key], abs=tolerance), key
    assert [h["step"] for h in ma["history"]] == [h["step"] for h in mb["history"]]


def test_killed_and_resumed_run_ends_like_an_uninterrupted_one(tiny, tmp_path):
    # 40 steps at 28 steps an epoch: the resumed run crosses an epoch boundary (a reshuffle).
    command = [sys.executable, TRAIN, *tiny, "--model=rkm_cifg", "--max_steps=40"]
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    log = open(tmp_path / "whole.log", "w+")
    uninterrupted = subprocess.Popen([*command, f"--model_dir={whole}"], stdout=subprocess.DEVNULL,
                                     stderr=log, env=ENV)
    victim = subprocess.Popen([*command, f"--model_dir={killed}"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env=ENV)
    latest = killed / "checkpoints" / "latest"
    deadline = time.time() + 240
    while not latest.exists() and victim.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert latest.exists(), "no checkpoint appeared before the kill"
    assert not (killed / "metrics.json").exists(), "the run finished before it was killed"
    result = subprocess.run([*command, f"--model_dir={killed}"], capture_output=True, text=True,
                            env=ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resuming from" in result.stdout
    assert uninterrupted.wait(timeout=300) == 0, (tmp_path / "whole.log").read_text()[-3000:]
    log.close()
    resumed_from = _metrics(killed)["resumed_from_step"]
    assert 5 <= resumed_from < 40 and _metrics(whole)["resumed_from_step"] == 0
    _assert_same_run(whole, killed)


def test_mirrored_run_resumes_exactly(tiny, tmp_path):
    """Two replicas on two logical CPU devices: the host-side iterator is checkpointed too."""
    command = [sys.executable, TRAIN, *tiny, "--model=rkm_cifg", "--strategy=mirrored",
               "--cpu_devices=2"]
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    log = open(tmp_path / "whole.log", "w+")
    uninterrupted = subprocess.Popen([*command, "--max_steps=20", f"--model_dir={whole}"],
                                     stdout=subprocess.DEVNULL, stderr=log, env=ENV)
    for steps in (10, 20):
        result = subprocess.run([*command, f"--max_steps={steps}", f"--model_dir={parts}"],
                                capture_output=True, text=True, env=ENV)
        assert result.returncode == 0, result.stderr[-3000:]
    assert uninterrupted.wait(timeout=300) == 0, (tmp_path / "whole.log").read_text()[-3000:]
    log.close()
    assert _metrics(parts)["resumed_from_step"] == 10 and _metrics(parts)["replicas"] == 2
    _assert_same_run(whole, parts)
