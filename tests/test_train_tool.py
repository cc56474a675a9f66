"""tools/train.py end to end on small real data: a run, NaN, refused settings, strategies, and
tools/evaluate.py on the run.

(Killing and resuming, which must end exactly like an uninterrupted run, is in
test_training_resume.py, on synthetic data.)"""

import json
import os
import pathlib
import re
import shutil
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from kasm_keras.training.checkpoints import CheckpointManager
from tests.conftest import real_data, same_worker
from tests.test_faults_tools import error_line, tool  # noqa: F401 (fixture)

ROOT = pathlib.Path(__file__).resolve().parents[1]
TRAIN = str(ROOT / "tools" / "train.py")
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
# The tests share the prepared data (`base`), a short run and a single-device run.
pytestmark = same_worker("train_tool")


@pytest.fixture(scope="module")
def base(real_data_cache):
    """Small settings on real AG News; the data is prepared once for the session."""
    return ["--dataset=ag_news", f"--data_dir={real_data('ag_news')}",
            f"--cache_dir={real_data_cache}", "--units=16", "--embeddings=none",
            "--embedding_dim=16", "--max_length=32", "--batch_size=32", "--eval_every=4",
            "--max_vocabulary=5000"]


def _train(*args, check=True):
    result = subprocess.run([sys.executable, TRAIN, *args], capture_output=True, text=True, env=ENV)
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def _metrics(model_dir):
    with open(os.path.join(model_dir, "metrics.json")) as f:
        return json.load(f)


def _tags(log_dir):
    """{tag} of the scalars in a TensorBoard run folder."""
    tags = set()
    for path in log_dir.glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            tags.update(value.tag for value in event.summary.value)
    return tags


PYTHON_INFO_LOG = re.compile(r"^I\d{4} .*\.py:\d+\]", re.MULTILINE)  # absl's INFO lines


def _error_line(result):
    """The one `error: ...` line a refused run ends with (exit status 1)."""
    assert result.returncode == 1, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "Traceback" not in result.stderr, result.stderr[-3000:]
    return last


def _weights(model_dir):
    return keras.models.load_model(os.path.join(model_dir, "best.keras")).get_weights()


def _assert_same_training(dir_a, dir_b):
    """Equal up to summation order. Adam divides by the gradient's own scale, so entries whose
    gradient is almost zero can step up to lr (1e-3) apart; on average the weights agree."""
    for a, b in zip(_weights(dir_a), _weights(dir_b)):
        difference = np.abs(a - b)
        assert difference.max() < 6e-3 and difference.mean() < 1e-4
    assert abs(_metrics(dir_a)["val_accuracy"] - _metrics(dir_b)["val_accuracy"]) < 0.01


@pytest.fixture(scope="module")
def short_run(base, tmp_path_factory):
    """A cnn run of 8 steps (checkpoints at 4 and 8) and its result, made once: the tests that
    go on in its model dir go on in a copy (`_copy`)."""
    model_dir = tmp_path_factory.mktemp("short_run") / "run"
    result = _train(*base, "--model=cnn", "--ngram=2", "--max_steps=8", f"--model_dir={model_dir}")
    return model_dir, result


def _copy(short_run, tmp_path):
    """A copy of the short run's model dir, for a test to go on in."""
    return pathlib.Path(shutil.copytree(short_run[0], tmp_path / "run"))


def test_short_run_writes_everything(short_run):
    model_dir, result = short_run
    assert not PYTHON_INFO_LOG.search(result.stderr)  # WARNING unless --verbosity says otherwise
    metrics = _metrics(model_dir)
    assert metrics["steps"] == 8 and metrics["resumed_from_step"] == 0
    assert 0.0 <= metrics["test_accuracy"] <= 1.0 and 0.0 <= metrics["val_accuracy"] <= 1.0
    assert metrics["parameters"]["table2"] == 2 * 16 * 1 * 16
    assert metrics["parameters"]["table2_at_paper_sizes"] == 180_000  # n m d at m = d = 300
    assert metrics["parameters"]["total"] > metrics["parameters"]["kernel_rnn"]
    assert metrics["train_seconds"] > 0 and "--model=cnn" in metrics["command"]
    assert [h["step"] for h in metrics["history"]] == [4, 8]
    assert metrics["versions"]["tensorflow"].startswith("2.")
    logs = model_dir / "logs"
    train, validation = _tags(logs / "train"), _tags(logs / "validation")
    assert {"loss", "accuracy"} <= validation <= train  # the same tags: TensorBoard overlays them
    assert {"learning_rate", "steps_per_second"} <= train
    assert (model_dir / "vocabulary.txt").exists() and (model_dir / "config.json").exists()
    CheckpointManager.verify(CheckpointManager(model_dir / "checkpoints").latest())


def test_a_diverging_run_stops_and_keeps_the_last_good_checkpoint(base, short_run, tmp_path):
    model_dir = _copy(short_run, tmp_path)
    result = _train(*base, "--model=cnn", "--ngram=2", "--max_steps=16", "--learning_rate=1e38",
                    f"--model_dir={model_dir}", check=False)
    line = _error_line(result)
    assert re.search(r"loss became (nan|inf) at step", line) and "ckpt-8" in line
    manager = CheckpointManager(model_dir / "checkpoints")
    assert manager.latest().endswith("ckpt-8")
    CheckpointManager.verify(manager.latest())


def test_other_settings_in_the_same_model_dir_are_refused(tool, base, short_run, tmp_path):
    model_dir = _copy(short_run, tmp_path)
    error_line(tool("train", *base, "--model=cnn", "--ngram=2", "--max_steps=8", "--units=8",
                    f"--model_dir={model_dir}"), "units: 16 there, 8 now")


def _evaluate(*args):
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "evaluate.py"), *args],
                            capture_output=True, text=True, env=ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_evaluate_reproduces_the_runs_test_accuracy(tool, base, short_run):
    model_dir, data = short_run[0], [a for a in base if a.startswith(("--data_dir=",
                                                                       "--cache_dir="))]
    report = json.loads(_evaluate(f"--model_dir={model_dir}", *data, "--json").stdout)
    assert report["documents"] == 7_600
    assert report["accuracy"] == pytest.approx(_metrics(model_dir)["test_accuracy"], abs=1e-9)
    assert np.sum(report["confusion_matrix"]) == 7_600
    assert [s["support"] for s in report["per_class"].values()] == [1_900] * 4
    table = tool("evaluate", f"--model_dir={model_dir}", *data, "--split=validation")
    assert table.returncode == 0, table.stderr[-3000:]
    assert "validation: accuracy" in table.stdout and "confusion matrix" in table.stdout
    answers = json.loads(tool("evaluate", f"--model_dir={model_dir}", "--text=Stocks fell",
                              "--text=", "--json").stdout)
    assert [a["text"] for a in answers] == ["Stocks fell", ""]
    for answer in answers:
        assert answer["class_name"] in ("World", "Sports", "Business", "Sci/Tech")
        assert sum(answer["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)


@pytest.fixture(scope="module")
def one_device(base, tmp_path_factory):
    """The settings the strategies are compared in, and their run on one device, made once.
    float32: splitting a batch changes bfloat16's rounding more than the tolerance."""
    common = [*base, "--model=rkm_cifg", "--max_steps=6", "--dropout=0", "--eval_every=6",
              "--precision=float32"]
    model_dir = tmp_path_factory.mktemp("one_device") / "single"
    _train(*common, f"--model_dir={model_dir}")
    return common, model_dir


def test_mirrored_on_two_cpu_devices_matches_one_device(one_device, tmp_path):
    common, single = one_device
    _train(*common, "--strategy=mirrored", "--cpu_devices=2", f"--model_dir={tmp_path / 'mirrored'}")
    assert _metrics(tmp_path / "mirrored")["replicas"] == 2
    _assert_same_training(single, tmp_path / "mirrored")


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_multi_worker_on_localhost_matches_one_device(one_device, tmp_path):
    common, single = one_device
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    processes = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        model_dir = tmp_path / ("multi" if index == 0 else "worker1")
        processes.append(subprocess.Popen(
            [sys.executable, TRAIN, *common, "--strategy=multi_worker", f"--model_dir={model_dir}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**ENV, "TF_CONFIG": json.dumps(tf_config)}))
    for process in processes:
        try:
            _, stderr = process.communicate(timeout=300)
        finally:
            process.kill()
        assert process.returncode == 0, stderr[-3000:]
    assert _metrics(tmp_path / "multi")["replicas"] == 2
    _assert_same_training(single, tmp_path / "multi")


@pytest.mark.parametrize("precision", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_run(tool, base, tmp_path, precision):
    model_dir = tmp_path / "run"
    result = _train(*base, "--model=rkm_lstm", "--max_steps=4", f"--precision={precision}",
                    "--verbosity=0", f"--model_dir={model_dir}")
    metrics = _metrics(model_dir)
    assert metrics["steps"] == 4 and 0.0 <= metrics["test_accuracy"] <= 1.0
    assert PYTHON_INFO_LOG.search(result.stderr), "--verbosity=0 must show INFO logs"
    config = json.loads((model_dir / "config.json").read_text())
    assert config["precision"] == precision and config["policy"] == precision
    # The best model is stored in float32 whatever the training precision.
    best = keras.models.load_model(model_dir / "best.keras", safe_mode=True)
    assert {layer.dtype_policy.name for layer in best.backbone.layers} == {"float32"}
    assert all(w.dtype == "float32" for w in best.weights if w.dtype != "int64")
    # A run trained in one precision is not resumed in another.
    error_line(tool("train", *base, "--model=rkm_lstm", "--max_steps=8", "--precision=float32",
                    f"--model_dir={model_dir}"), f"policy: '{precision}' there, 'float32' now")


def test_bad_flags_and_another_vocabulary_are_refused(tool, base, short_run, tmp_path):
    error_line(tool("train", *base, "--model=cnn", "--eval_every=0",
                    f"--model_dir={tmp_path / 'a'}"), "--eval_every must be at least 1")
    model_dir = _copy(short_run, tmp_path)
    (model_dir / "vocabulary.txt").write_text("#kasm-vocabulary\toov=[UNK]\tpadding=first\n\t0\n[UNK]\t0\n")
    error_line(tool("train", *base, "--model=cnn", "--ngram=2", "--max_steps=12",
                    f"--model_dir={model_dir}"), "vocabulary.txt differs")
