"""The tools' command lines as a new user meets them: every number flag refuses nan and inf with a
message that agrees with what it accepts, and each refusal is one `error:` line.

The tools run in this process (`tests.test_faults_tools.run_tool`: the program's own flag
parsing and error handling), except where the process itself is the point.
"""

import hashlib
import json
import os
import re
import subprocess
import sys

import pytest
from tensorflow_datasets.core.utils import tqdm_utils as tfds_progress

from kasm_keras.data import datasets, time_series_data
from kasm_keras.data.classification_data import DataError
from kasm_keras.utils import tensorflow_logs
from tests.test_faults_tools import ROOT, data, error_line, finished, run_tool, tree  # noqa: F401
from tests.test_training_resume import write_tiny_ag_news


@pytest.fixture
def tool(monkeypatch, capsys):
    return lambda name, *args: run_tool(name, *args, monkeypatch=monkeypatch, capsys=capsys)


# Every float flag of every tool, with nan and inf: (tool, its other flags, flag, message).
CLASSIFIER = ["--dataset=ag_news", "--model=cnn"]
LANGUAGE_MODEL = ["--dataset=ptb", "--model=rkm_lstm"]
FLOAT_FLAGS = [
    ("generate", ["--zoo=ptb/rkm_lstm", "--prompt=the"], "--temperature", "a finite number >= 1e-06"),
    ("generate", ["--zoo=ptb/rkm_lstm", "--prompt=the", "--sampler=top_p"], "--p",
     "in (0.0, 1.0]"),
    ("data", ["--dataset=ag_news"], "--validation_fraction", "in (0, 1)"),
    ("train", CLASSIFIER, "--validation_fraction", "in (0, 1)"),
    ("train", CLASSIFIER, "--epochs", "positive and finite"),
    ("train", CLASSIFIER, "--learning_rate", "positive and finite"),
    ("train", CLASSIFIER, "--dropout", "in [0, 1)"),
    *[("train", LANGUAGE_MODEL, f"--{name}", "in [0, 1)")
      for name in ("dropout", "hidden_dropout", "input_dropout", "embedding_dropout",
                   "weight_dropout")],
    *[("train", LANGUAGE_MODEL, f"--{name}", "a finite number >= 0")
      for name in ("alpha", "beta", "weight_decay")],
    *[("train", LANGUAGE_MODEL, f"--{name}", "positive and finite")
      for name in ("learning_rate", "clip_norm")],
]


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
@pytest.mark.parametrize("name, args, flag, message", FLOAT_FLAGS,
                         ids=[f"{t}{f}" for t, _, f, _ in FLOAT_FLAGS])
def test_every_float_flag_refuses_non_finite_values_saying_what_it_takes(
        tool, tmp_path, name, args, flag, message, value):
    if name == "train":
        args = [*args, f"--model_dir={tmp_path / 'run'}", f"--data_dir={tmp_path}"]
    line = error_line(tool(name, *args, f"{flag}={value}"), flag, message)
    assert "inf]" not in line and "inf)" not in line  # no range that seems to take inf
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ tools/results.py --runs_dir

def _zoo_metrics(name):
    """A published entry's metrics.json, as its run wrote it."""
    return json.loads((ROOT / "zoo" / name / "metadata.json").read_text())["kasm_keras"]["metrics"]


def test_results_leave_out_a_run_with_non_finite_numbers_or_an_unknown_name_and_say_so(
        tool, tmp_path):
    classifier, language_model = _zoo_metrics("ag_news/rkm_cifg_1gram"), _zoo_metrics("ptb/rkm_lstm")
    runs = {
        "good": classifier,
        "good_lm": language_model,
        "nan_accuracy": {**classifier, "test_accuracy": float("nan")},
        "inf_history": {**classifier, "history": [{"step": 1, "val_loss": float("inf")}]},
        "escape": {**classifier, "dataset": "../../etc"},
        "bad_model": {**classifier, "model": "rkm_cifg\n| injected |"},
        "bad_vectors": {**classifier, "word_vectors": "glove | x"},
        "lm_inf": {**language_model, "test_perplexity": float("inf")},
    }
    fields = {"nan_accuracy": "test_accuracy is nan", "inf_history": "history.0.val_loss is inf",
              "escape": "dataset '../../etc' is not one of", "bad_model": "model 'rkm_cifg\\n",
              "bad_vectors": "word_vectors 'glove | x'", "lm_inf": "test_perplexity is inf"}
    for name, metrics in runs.items():
        (tmp_path / "runs" / name).mkdir(parents=True)
        (tmp_path / "runs" / name / "metrics.json").write_text(json.dumps(metrics))
    (tmp_path / "zoo").mkdir()
    (tmp_path / "zoo" / "registry.json").write_text("{}")
    before = tree(tmp_path)
    result = tool("results", f"--runs_dir={tmp_path / 'runs'}", f"--zoo_dir={tmp_path / 'zoo'}")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == len(fields), result.stderr
    for name, field in fields.items():
        (line,) = [w for w in warnings if f"/runs/{name}/metrics.json: " in w]
        assert field in line and line.endswith("left out of the tables"), line
    rows = [line for line in result.stdout.splitlines() if "runs/" in line]
    assert {re.search(r"runs/(\w+)", row).group(1) for row in rows} == {"good", "good_lm"}
    assert "nan" not in result.stdout.lower() and "etc" not in result.stdout
    assert tree(tmp_path) == before


# ------------------------------------------------------------------ tools/evaluate.py --text

def test_evaluate_text_rows_of_a_classifier_have_a_header(tool, finished):
    result = tool("evaluate", f"--model_dir={finished}", "--text=Stocks fell", "--text=a\nb")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "class\tprobability\ttext" and len(lines) == 3
    assert [line.split("\t")[2] for line in lines[1:]] == ["Stocks fell", "a\\nb"]
    assert all(line.split("\t")[0] in ("World", "Sports", "Business", "Sci/Tech")
               for line in lines[1:])


# ------------------------------------------------------------------ TensorFlow's log lines

def _python(*args, **env):
    """(exit status, stderr) of `python args`, TF_CPP_MIN_LOG_LEVEL as `env` says (unset by
    default), from the checkout."""
    environment = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    environment.update(env, CUDA_VISIBLE_DEVICES="", PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, *args], capture_output=True, text=True,
                            env=environment, cwd=ROOT)
    return result.returncode, result.stderr


# Writes a line to the process's stderr (file descriptor 2, as C++ code does) while TensorFlow is
# being imported: a line that is not the banner is kept.
IMPORT_WITH_A_LINE = """
import importlib.abc, os, sys
class Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow.python":
            os.write(2, b"a line of its own\\n")
        return None
sys.meta_path.insert(0, Finder())
import kasm_keras
"""


def test_importing_the_package_prints_nothing_but_what_is_not_tensorflows_banner():
    status, stderr = _python("-c", IMPORT_WITH_A_LINE)
    assert status == 0 and stderr.splitlines() == ["a line of its own"], stderr


# As IMPORT_WITH_A_LINE, then the import fails: every line is written back, the banner's too.
IMPORT_THAT_FAILS = IMPORT_WITH_A_LINE.replace('os.write(2, b"a line of its own\\n")', """\
os.write(2, b"I0000 00:00:1733460000.123456   12345 port.cc:153] a banner line\\n")
            os.write(2, b"why the import failed\\n")
            raise ImportError("no TensorFlow here")""")


def test_a_failed_tensorflow_import_keeps_every_line_it_printed():
    status, stderr = _python("-c", IMPORT_THAT_FAILS)
    lines = stderr.splitlines()
    assert status == 1 and lines[-1] == "ImportError: no TensorFlow here", stderr
    assert "why the import failed" in lines and any(line.endswith("port.cc:153] a banner line")
                                                   for line in lines), stderr


def test_importing_the_package_without_a_sys_stderr_works():
    """pythonw and some embedding programs run with sys.stderr None (file descriptor 2 may
    still be open): the import filters it all the same."""
    status, stderr = _python("-c", "import sys; sys.stderr = None\n" + IMPORT_WITH_A_LINE)
    assert status == 0 and stderr.splitlines() == ["a line of its own"], stderr


def test_a_tool_prints_no_tensorflow_lines_unless_asked():
    """Quiet by default; --verbosity sets TF_CPP_MIN_LOG_LEVEL=0, which shows the banner too."""
    _, stderr = _python("tools/evaluate.py", "--help")  # absl's --help exits with status 1
    assert stderr == "", stderr
    _, stderr = _python("tools/evaluate.py", "--verbosity=0", "--help")
    # Which banner lines TensorFlow prints depends on the CPU (oneDNN's port.cc line is not
    # printed everywhere); cpu_feature_guard.cc's and cudart_stub.cc's are.
    assert any(tensorflow_logs.BANNER.fullmatch(line) for line in stderr.splitlines()), stderr


# ------------------------------------------------------------------ data: local reads, downloads

def test_a_local_read_prints_nothing_of_tfds(tmp_path, capfd):
    """TFDS downloads nothing here; its "Downloading and preparing dataset Unknown size ..." and
    progress bars would say otherwise."""
    data_dir = write_tiny_ag_news(tmp_path / "csv")
    capfd.readouterr()
    data = datasets.load_classification("ag_news", str(data_dir), cache_dir=str(tmp_path / "c"),
                                        max_vocabulary=500, min_count=1, max_length=32)
    assert data.split_sizes()["train"] > 0
    assert capfd.readouterr() == ("", "")
    assert tfds_progress._active  # TFDS's own setting is as it was


def test_a_download_says_what_from_where_to_where_before_it_starts(server, tmp_path,
                                                                   monkeypatch, capsys):
    body = b"not a wheel"
    server.files["/sktime.whl"] = body
    url = server.url("/sktime.whl")
    for key, value in {"url": url, "file": "sktime.whl",
                       "checksum": f"sha256:{hashlib.sha256(body).hexdigest()}"}.items():
        monkeypatch.setitem(time_series_data.SKTIME_WHEEL, key, value)
    wheel = tmp_path / "downloads" / "sktime.whl"
    for _ in range(2):  # the second time the wheel is there: no download, no line
        with pytest.raises(DataError):  # the wheel is no zip: extracting it fails
            time_series_data.download_sktime_data(str(tmp_path))
    lines = capsys.readouterr().err.splitlines()
    assert [line for line in lines if line.startswith("downloading")] == [
        f"downloading the time-series data sets (sktime 1.2.0's wheel, 8 MB; a data_dir with a "
        f"copy is read instead) from {url} to {wheel}"]
    assert server.requests == ["/sktime.whl"] and wheel.read_bytes() == body
