"""Faults in the tools' input, each refused with one `error: ...` line, exit status 1, and
nothing on disk changed or left half-made.

Most cases run a tool in this process, through the same flag parsing and error handling as the
program (`tool_support.execute`, on the tool's own `flags.FlagValues`): a tool in a subprocess
costs seconds of TensorFlow import each. A subprocess runs where the process is the point: two
trainers on one model_dir, and one refusal end to end.
"""

import hashlib
import importlib
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time
import types

import pytest
from absl import flags

from kasm_keras import training, zoo
from kasm_keras.cli import tool_support
from kasm_keras.data import datasets
from tests.test_training_resume import write_tiny_ag_news
from tests.conftest import same_worker

FINISHED = same_worker("faults_tools_finished")  # the tests that use the finished run

ROOT = pathlib.Path(__file__).resolve().parents[1]
TOOLS = ROOT / "tools"
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
SETTINGS = {"max_vocabulary": 500, "min_count": 1, "max_length": 32}
# The precision fixed: `auto` times a matmul, and runs compared on a busy machine may differ.
TINY = {"units": 8, "embedding_dim": 8, "embeddings": "none", "batch_size": 16, "eval_every": 5,
        "log_every": 5, "precision": "float32", **SETTINGS}


# ------------------------------------------------------------------ helpers

# The programs: kasm_keras.cli's (the console scripts kasm-NAME) and benchmarks/'s, each run by
# tools/NAME.py.
PROGRAMS = {"benchmark": "benchmarks.benchmark", "results": "benchmarks.results",
            "variants": "benchmarks.variants"}


def _tool(name):
    """The program `tools/<name>.py` runs, as a module (its flags are defined per call)."""
    return importlib.import_module(PROGRAMS.get(name, f"kasm_keras.cli.{name}"))


def run_tool(name, *args, monkeypatch, capsys):
    """Runs tools/<name>.py with `args` in this process; (exit status, stdout, stderr)."""
    module = _tool(name)
    flag_values = flags.FlagValues()
    module.define_flags(flag_values)
    # The FLAGS that `main` reads: its own module's.
    monkeypatch.setitem(module.main.__globals__, "FLAGS", flag_values)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        tool_support.execute(module.main, [f"{name}.py", *map(str, args)], module.ERRORS,
                             flag_values)
    out, err = capsys.readouterr()
    return types.SimpleNamespace(returncode=exit_.value.code or 0, stdout=out, stderr=err)


def run_process(name, *args, **kwargs):
    return subprocess.run([sys.executable, str(TOOLS / f"{name}.py"), *map(str, args)],
                          capture_output=True, text=True, env=ENV, **kwargs)


def error_line(result, *named):
    """The one `error:` line of a refused run (exit status 1, no traceback), which names each
    of `named`."""
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr[-3000:]
    for name in named:
        assert str(name) in lines[0], (name, lines[0])
    return lines[0]


def tree(root):
    """{path: sha256 (files) or None (folders)} of everything under `root`."""
    root = pathlib.Path(root)
    found = {}
    if not root.exists():
        return found
    for path in sorted(root.rglob("*")):
        relative = str(path.relative_to(root))
        found[relative] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
    return found


# ------------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Tiny AG News CSVs and their prepared cache (made once, so runs only read it)."""
    root = tmp_path_factory.mktemp("data")
    data_dir, cache = write_tiny_ag_news(root / "csv"), root / "cache"
    datasets.load_classification("ag_news", str(data_dir), cache_dir=str(cache),
                                 **SETTINGS).split_sizes()
    return types.SimpleNamespace(data_dir=data_dir, cache=cache, flags=[
        "--dataset=ag_news", f"--data_dir={data_dir}", f"--cache_dir={cache}",
        *[f"--{k}={v}" for k, v in TINY.items()]])


@pytest.fixture(scope="module")
def finished(data, tmp_path_factory):
    """A finished 5-step run (in this process), to copy and damage."""
    model_dir = tmp_path_factory.mktemp("finished") / "run"
    config = training.TrainConfig(model="cnn", dataset="ag_news", model_dir=str(model_dir),
                                  data_dir=str(data.data_dir), cache_dir=str(data.cache),
                                  max_steps=5, **TINY)
    training.train_classifier(config, command=["test"], log=lambda _: None)
    return model_dir


@pytest.fixture
def run_copy(finished, tmp_path):
    """A copy of the finished run, to damage."""
    return pathlib.Path(shutil.copytree(finished, tmp_path / "run"))


@pytest.fixture
def tool(monkeypatch, capsys):
    return lambda name, *args: run_tool(name, *args, monkeypatch=monkeypatch, capsys=capsys)


def _not_writable(tmp_path):
    """A model_dir this user cannot create: under a read-only folder, or (root writes anywhere)
    under /sys, where no one can make folders."""
    if os.geteuid() == 0:
        return pathlib.Path("/sys/kasm_keras_faults_test/run")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    return locked / "run"


@pytest.fixture
def offline(monkeypatch):
    """No name resolves, as on a machine without network."""

    def fail(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)


# ------------------------------------------------------------------ train: every flag first

TRAIN_FLAGS = [
    ("--validation_fraction=0", "--validation_fraction must be in (0, 1)"),
    ("--validation_fraction=1", "--validation_fraction must be in (0, 1)"),
    ("--min_count=0", "--min_count must be at least 1"),
    ("--max_vocabulary=1", "--max_vocabulary must be at least 2"),
    ("--embeddings=bogus", "--embeddings: unknown word vectors 'bogus'"),
    ("--max_length=0", "--max_length must be at least 1"),
    ("--max_length=-5", "--max_length must be at least 1"),
    ("--learning_rate=-1", "--learning_rate must be positive"),
    ("--learning_rate=nan", "--learning_rate must be positive"),
    ("--dropout=1", "--dropout must be in [0, 1)"),
    ("--cpu_devices=0", "--cpu_devices must be at least 1"),
    ("--epochs=inf", "--epochs must be positive and finite"),
    ("--seed=-1", "--seed must be in [0, 2**32)"),
    ("--max_steps=0", "--max_steps must be at least 1"),
    ("--units=0", "--units must be at least 1"),
    ("--bogus=1", "Unknown command line flag 'bogus'"),
    ("--ngram_padding=left", "flag --ngram_padding=left"),
]


@pytest.mark.parametrize("flag, message", TRAIN_FLAGS, ids=[f for f, _ in TRAIN_FLAGS])
def test_train_refuses_a_bad_flag_before_any_work(tool, data, tmp_path, flag, message):
    before = tree(data.cache.parent)
    result = tool("train", *data.flags, "--model=cnn", f"--model_dir={tmp_path / 'run'}", flag)
    error_line(result, message)
    assert not (tmp_path / "run").exists()
    assert tree(data.cache.parent) == before


def test_train_needs_model_and_dataset(tool, tmp_path):
    result = tool("train", "--dataset=ag_news", f"--model_dir={tmp_path / 'run'}")
    error_line(result, "--model")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("flag", ["model_dir", "cache_dir", "data_dir"])
def test_train_refuses_a_file_for_a_folder(tool, data, tmp_path, flag):
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    args = [a for a in data.flags if not a.startswith(f"--{flag}=")]
    if flag != "model_dir":
        args.append(f"--model_dir={tmp_path / 'run'}")
    result = tool("train", *args, "--model=cnn", f"--{flag}={a_file}")
    error_line(result, f"--{flag}={a_file}", "is a file")
    assert a_file.read_text() == "not a folder"
    assert sorted(os.listdir(tmp_path)) == ["a_file"]


def test_train_refuses_a_missing_data_dir_and_leaves_no_model_dir(tool, data, tmp_path):
    args = [a for a in data.flags if not a.startswith("--data_dir=")]
    result = tool("train", *args, "--model=cnn", f"--data_dir={tmp_path / 'nowhere'}",
                  f"--model_dir={tmp_path / 'run'}")
    error_line(result, f"--data_dir={tmp_path / 'nowhere'}", "no such folder")
    assert os.listdir(tmp_path) == []


def test_train_with_no_data_files_leaves_no_model_dir(tool, data, tmp_path):
    """The data is missing only once the run has started (the folder exists, the CSVs do not):
    the model_dir it made for itself is removed again."""
    empty = tmp_path / "empty"
    empty.mkdir()
    args = [a for a in data.flags if not a.startswith(("--data_dir=", "--cache_dir="))]
    result = tool("train", *args, "--model=cnn", f"--data_dir={empty}",
                  f"--cache_dir={tmp_path / 'cache'}", f"--model_dir={tmp_path / 'run'}")
    error_line(result, str(empty))
    assert not (tmp_path / "run").exists()


def test_train_into_a_folder_it_cannot_write(tool, data, tmp_path):
    model_dir = _not_writable(tmp_path)
    result = tool("train", *data.flags, "--model=cnn", f"--model_dir={model_dir}")
    error_line(result, "cannot write", str(model_dir))
    assert not model_dir.exists()


def test_train_offline_says_the_download_failed_and_to_pass_data_dir(tool, tmp_path, offline):
    result = tool("train", "--dataset=yahoo", "--model=cnn", "--embeddings=none",
                  f"--cache_dir={tmp_path / 'cache'}", f"--model_dir={tmp_path / 'run'}")
    line = error_line(result, "downloading the yahoo dataset failed", "--data_dir")
    assert "Name or service not known" in line
    assert not (tmp_path / "run").exists()


def test_train_names_a_damaged_word_vectors_file_and_leaves_no_model_dir(tool, data, tmp_path):
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("hello 1 2 3\nworld 1\n")
    args = [a for a in data.flags if not a.startswith("--embeddings=")]
    result = tool("train", *args, "--model=cnn", f"--embeddings={vectors}",
                  f"--model_dir={tmp_path / 'run'}")
    error_line(result, f"--embeddings: {vectors}:2:")
    assert sorted(os.listdir(tmp_path)) == ["vectors.txt"]


# ------------------------------------------------------------------ train: a damaged model_dir

def _damage_latest(run):
    (run / "checkpoints" / "latest").write_text("ckpt-99")
    return [run / "checkpoints" / "latest", "ckpt-99"]


def _latest_a_folder(run):
    (run / "checkpoints" / "latest").unlink()
    (run / "checkpoints" / "latest").mkdir()
    return [run / "checkpoints" / "latest", "unreadable"]


def _damage_checkpoint(run):
    variables = next((run / "checkpoints").glob("ckpt-*/variables.data-*"))
    variables.write_bytes(variables.read_bytes()[:-8])
    return [variables, "sha256"]


def _damage_best(run):
    best = run / "best.keras"
    best.write_bytes(best.read_bytes()[:3000])  # a truncated zip: BadZipFile, were it loaded
    return [best, "sha256 is not the one recorded in", "best.keras.sha256", "corrupt"]


def _remove_vocabulary(run):
    (run / "vocabulary.txt").unlink()
    return [run / "vocabulary.txt", "missing"]


def _damage_config(run):
    (run / "config.json").write_text('{"model": ')
    return [run / "config.json", "not valid JSON"]


DAMAGES = {"latest names a missing checkpoint": _damage_latest,
           "latest is a folder": _latest_a_folder,
           "corrupt checkpoint": _damage_checkpoint,
           "corrupt best.keras": _damage_best,
           "missing vocabulary.txt": _remove_vocabulary,
           "corrupt config.json": _damage_config}


@pytest.mark.parametrize("damage", list(DAMAGES))
@FINISHED
def test_train_refuses_to_resume_a_damaged_run_naming_the_file(tool, data, run_copy, damage):
    named = DAMAGES[damage](run_copy)
    before = tree(run_copy)
    result = tool("train", *data.flags, "--model=cnn", "--max_steps=10",
                  f"--model_dir={run_copy}")
    error_line(result, *named)
    assert tree(run_copy) == before


# ------------------------------------------------------------------ train: one run per model_dir

def test_a_second_trainer_is_refused_and_a_killed_one_leaves_no_stale_lock(data, tmp_path):
    """The second trainer (other settings too) is refused while the first holds the model_dir,
    changing nothing; the first, killed with SIGKILL, leaves a model_dir that resumes."""
    model_dir = tmp_path / "run"
    command = [sys.executable, str(TOOLS / "train.py"), *data.flags, "--model=rkm_cifg",
               "--max_steps=40", f"--model_dir={model_dir}"]
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env=ENV)
    try:
        deadline = time.time() + 240
        while not (model_dir / "checkpoints" / "latest").exists() and first.poll() is None \
                and time.time() < deadline:
            time.sleep(0.02)
        first.send_signal(signal.SIGSTOP)  # holds its lock, writes nothing while we look
        assert (model_dir / "checkpoints" / "latest").exists(), "no checkpoint appeared"
        before = tree(model_dir)
        second = subprocess.run([*command, "--learning_rate=0.01"], capture_output=True,
                                text=True, env=ENV, timeout=240)
        error_line(second, str(model_dir), f"pid {first.pid}", "in use by another training run")
        assert tree(model_dir) == before
    finally:
        first.kill()  # SIGKILL, stopped or not
        first.wait()
    assert not (model_dir / "metrics.json").exists(), "the first run finished before the kill"
    third = subprocess.run(command, capture_output=True, text=True, env=ENV, timeout=240)
    assert third.returncode == 0, third.stderr[-3000:]
    assert "resuming from" in third.stdout
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert metrics["steps"] == 40 and metrics["resumed_from_step"] >= 5
    assert (model_dir / ".lock").read_text() == ""  # held by no one


def test_a_bad_flag_end_to_end_before_any_data_is_read(data, tmp_path):
    """The program itself: --dropout=2 used to fail only after data preparation."""
    cache = tmp_path / "cache"
    result = run_process("train", *data.flags, "--model=cnn", f"--cache_dir={cache}",
                         f"--model_dir={tmp_path / 'run'}", "--dropout=2")
    error_line(result, "--dropout must be in [0, 1), got 2.0")
    assert os.listdir(tmp_path) == []


def test_in_process_lock_refuses_a_second_claim_and_cleans_a_failed_start(tmp_path):
    """The lock within one process too (a second claim is a second open file), and a claim
    whose block fails before a checkpoint removes what it made."""
    from kasm_keras.training.lock import claim_model_dir

    model_dir = tmp_path / "run"
    with claim_model_dir(model_dir, keep=lambda: False):
        assert (model_dir / ".lock").read_text().startswith(f"{os.getpid()}@")
        with pytest.raises(training.TrainingError, match=rf"pid {os.getpid()}@"):
            with claim_model_dir(model_dir, keep=lambda: False):
                pass
    assert (model_dir / ".lock").read_text() == ""
    with pytest.raises(ZeroDivisionError):
        with claim_model_dir(tmp_path / "new", keep=lambda: False):
            (tmp_path / "new" / "config.json").write_text("{}")
            1 / 0
    assert sorted(os.listdir(tmp_path)) == ["run"]
    # A default model_dir's parents (runs/<dataset>/) made for it go too; one that was there
    # stays.
    with pytest.raises(ZeroDivisionError):
        with claim_model_dir(tmp_path / "run" / "runs" / "toy" / "lstm", keep=lambda: False):
            1 / 0
    assert sorted(os.listdir(tmp_path / "run")) == [".lock"]


# ------------------------------------------------------------------ evaluate, export, zoo

@FINISHED
def test_evaluate_names_a_corrupt_best_model(tool, run_copy):
    named = _damage_best(run_copy)
    before = tree(run_copy)
    error_line(tool("evaluate", f"--model_dir={run_copy}", "--text=Stocks fell"), *named)
    assert tree(run_copy) == before


@pytest.mark.parametrize("args, message", [
    ([], "Exactly one of (model_dir, zoo) must have a value"),
    (["--zoo=ag_news/rkm_cifg_1gram", "--model_dir={tmp}"], "Exactly one of (model_dir, zoo)"),
    (["--model_dir={tmp}/nowhere"], "--model_dir={tmp}/nowhere: no such training run folder"),
    (["--zoo=ag_news/x_1gram", "--zoo_dir={tmp}/nowhere"], "--zoo_dir={tmp}/nowhere: no such"),
], ids=["neither", "both", "missing model_dir", "missing zoo_dir"])
def test_evaluate_refuses_bad_model_flags(tool, tmp_path, args, message):
    args = [a.format(tmp=tmp_path) for a in args]
    error_line(tool("evaluate", *args, "--text=x"), message.format(tmp=tmp_path))
    assert os.listdir(tmp_path) == []


@FINISHED
def test_evaluate_names_a_run_config_without_a_dataset(tool, run_copy):
    config = json.loads((run_copy / "config.json").read_text())
    del config["dataset"]
    (run_copy / "config.json").write_text(json.dumps(config))
    before = tree(run_copy)
    error_line(tool("evaluate", f"--model_dir={run_copy}"), run_copy / "config.json", "--dataset")
    assert tree(run_copy) == before


@FINISHED
def test_export_into_a_folder_it_cannot_write(tool, finished, tmp_path):
    export_dir = _not_writable(tmp_path)
    error_line(tool("export", f"--model_dir={finished}", f"--export_dir={export_dir}"),
               "--export_dir", str(export_dir))
    assert not export_dir.exists()


@FINISHED
def test_export_refuses_a_file_as_export_dir(tool, finished, tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    error_line(tool("export", f"--model_dir={finished}", f"--export_dir={a_file}"),
               f"--export_dir={a_file}", "not a file")
    assert sorted(os.listdir(tmp_path)) == ["a_file"] and a_file.read_text() == "x"


@FINISHED
def test_export_of_a_corrupt_best_model_writes_nothing(tool, run_copy, tmp_path):
    named = _damage_best(run_copy)
    error_line(tool("export", f"--model_dir={run_copy}", f"--export_dir={tmp_path / 'serving'}"),
               *named)
    assert not (tmp_path / "serving").exists()


@FINISHED
def test_export_refuses_a_negative_version(tool, finished, tmp_path):
    error_line(tool("export", f"--model_dir={finished}", f"--export_dir={tmp_path / 'e'}",
                    "--version=-1"), "--version=-1")
    assert os.listdir(tmp_path) == []


def _registry(zoo_dir, entries):
    zoo_dir.mkdir(exist_ok=True)
    (zoo_dir / "registry.json").write_text(json.dumps(entries))


@pytest.mark.parametrize("metadata, problem", [
    ({"training_documents": 10}, "no 'test_accuracy'"),
    ({"test_accuracy": "high", "training_documents": 10}, "unreadable metadata"),
])
def test_zoo_list_names_a_corrupt_entry(tool, tmp_path, metadata, problem):
    zoo_dir = tmp_path / "zoo"
    _registry(zoo_dir, {"ag_news/cnn_1gram": {"path": "ag_news/cnn_1gram", "files": {},
                                              "metadata": metadata}})
    before = tree(zoo_dir)
    result = tool("zoo", "list", f"--zoo_dir={zoo_dir}")
    error_line(result, zoo_dir / "registry.json", "'ag_news/cnn_1gram'", problem)
    assert result.stdout == "" and tree(zoo_dir) == before


def test_zoo_list_names_a_registry_that_is_not_json(tool, tmp_path):
    zoo_dir = tmp_path / "zoo"
    zoo_dir.mkdir()
    (zoo_dir / "registry.json").write_text("{")
    error_line(tool("zoo", "list", f"--zoo_dir={zoo_dir}"), zoo_dir / "registry.json")


def test_zoo_without_a_command_is_one_line(tool):
    error_line(tool("zoo"), "one command: list, verify, publish")


@pytest.mark.parametrize("case", ["bad name", "corrupt best.keras", "zoo_dir a file",
                                  "missing data_dir", "not a finished run", "offline"])
@FINISHED
def test_zoo_publish_refusals(tool, run_copy, tmp_path, request, case):
    zoo_dir, args = tmp_path / "zoo", ["--name=ag_news/cnn_1gram"]
    named = []
    if case == "bad name":
        args, named = ["--name=Bad"], ["--name=Bad", "<dataset>/<variant>_<n>gram"]
    elif case == "corrupt best.keras":
        named = _damage_best(run_copy)
    elif case == "zoo_dir a file":
        zoo_dir.write_text("x")
        named = [f"--zoo_dir={zoo_dir}", "not a file"]
    elif case == "missing data_dir":
        args.append(f"--data_dir={tmp_path / 'nowhere'}")
        named = [f"--data_dir={tmp_path / 'nowhere'}", "no such folder"]
    elif case == "not a finished run":
        (run_copy / "best.keras").unlink()
        named = [run_copy / "best.keras", "not a finished training run"]
    else:
        request.getfixturevalue("offline")
        args.append(f"--cache_dir={tmp_path / 'cache'}")
        named = ["downloading the test split", "failed", "--data_dir"]
    before = tree(tmp_path)
    result = tool("zoo", "publish", f"--model_dir={run_copy}", f"--zoo_dir={zoo_dir}", *args)
    error_line(result, *named)
    after = tree(tmp_path)
    if case == "offline":  # the data cache may keep TFDS's bookkeeping; no entry, no registry
        after = {k: v for k, v in after.items() if not k.startswith("cache")}
    assert after == before


@FINISHED
def test_evaluate_names_a_truncated_h5_of_a_zoo_entry(tool, finished, tmp_path):
    """An entry whose model.weights.h5 is truncated, with the registry recording the truncated
    file's digest (so only loading it can tell)."""
    import keras

    zoo_dir = tmp_path / "zoo"
    _registry(zoo_dir, {})
    classifier = keras.models.load_model(finished / "best.keras")
    zoo.publish(classifier, "ag_news/cnn_1gram", {"test_accuracy": 0.5}, zoo_dir=str(zoo_dir),
                url=None)
    weights = zoo_dir / "ag_news" / "cnn_1gram" / "model.weights.h5"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    registry = json.loads((zoo_dir / "registry.json").read_text())
    registry["ag_news/cnn_1gram"]["files"]["model.weights.h5"] = hashlib.sha256(
        weights.read_bytes()).hexdigest()
    (zoo_dir / "registry.json").write_text(json.dumps(registry))
    before = tree(zoo_dir)
    error_line(tool("evaluate", "--zoo=ag_news/cnn_1gram", f"--zoo_dir={zoo_dir}", "--text=x"),
               weights)
    assert tree(zoo_dir) == before


# ------------------------------------------------------------- data, variants, benchmark, results

@pytest.mark.parametrize("args, message", [
    (["--max_vocabulary=1"], "--max_vocabulary=1"),
    (["--min_count=0"], "--min_count=0"),
    (["--batch_size=0"], "--batch_size=0"),
    (["--max_length=0"], "--max_length=0"),
    (["--validation_fraction=1.5"], "--validation_fraction=1.5: must be in (0, 1)"),
    (["--seed=-1"], "--seed=-1"),
    (["--embeddings=bogus"], "--embeddings: unknown word vectors 'bogus'"),
    (["--data_dir={tmp}/nowhere"], "--data_dir={tmp}/nowhere: no such folder"),
    (["--cache_dir={tmp}/a_file"], "--cache_dir={tmp}/a_file: must be a folder, not a file"),
    (["--dataset=ptb", "--data_dir={tmp}/nowhere"], "--data_dir={tmp}/nowhere: no such folder"),
], ids=lambda v: v if isinstance(v, str) else "_".join(v))
def test_data_refuses_a_bad_flag_before_any_work(tool, data, tmp_path, args, message):
    (tmp_path / "a_file").write_text("x")
    args = [a.format(tmp=tmp_path) for a in args]
    if not any(a.startswith("--dataset") for a in args):
        args.insert(0, "--dataset=ag_news")
    if not any(a.startswith("--data_dir") for a in args):
        args.append(f"--data_dir={data.data_dir}")
    if not any(a.startswith("--cache_dir") for a in args):
        args.append(f"--cache_dir={tmp_path / 'cache'}")
    error_line(tool("data", *args), message.format(tmp=tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["a_file"]


@pytest.mark.parametrize("tool_name, args, message", [
    ("variants", ["--units=0"], "--units=0"),
    ("variants", ["--ngrams=0"], "--ngrams=['0']: 0 is below 1"),
    ("variants", ["--ngrams=x"], "'x' is not an integer"),
    ("benchmark", ["--ngrams=x"], "'x' is not an integer"),
    ("benchmark", ["--layers=bogus"], "'bogus': expected items of"),
    ("benchmark", ["--xla=maybe"], "'maybe': expected items of off, on"),
    ("benchmark", ["--batch_size=0"], "--batch_size=0"),
    ("benchmark", ["--output={tmp}/a_file/report.json"], "{tmp}/a_file is a file"),
    ("benchmark", ["--report={tmp}/a_file"], "--report: {tmp}/a_file: not valid JSON"),
    ("benchmark", ["--report={tmp}/not_a_report.json"], "not a tools/benchmark.py report "
                                                        "(no 'rows')"),
    ("results", ["--runs_dir={tmp}/nowhere"], "--runs_dir={tmp}/nowhere: no such folder"),
    ("results", ["--runs_dir={tmp}/runs"], "runs/a/metrics.json: not a finished tools/train.py "
                                            "run's metrics (no 'dataset')"),
])
def test_report_tools_refuse_bad_input(tool, tmp_path, tool_name, args, message):
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "not_a_report.json").write_text('{"a": 1}')
    (tmp_path / "runs" / "a").mkdir(parents=True)
    (tmp_path / "runs" / "a" / "metrics.json").write_text("{}")
    if tool_name == "results":  # an empty zoo: only the runs
        _registry(tmp_path / "zoo", {})
        args = [*args, "--zoo_dir={tmp}/zoo"]
    before = tree(tmp_path)
    result = tool(tool_name, *[a.format(tmp=tmp_path) for a in args])
    error_line(result, message.format(tmp=tmp_path))
    assert tree(tmp_path) == before


def test_a_multi_line_message_becomes_one_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        tool_support.fail("No files under /x; looked for:\n  /x/a.csv\n  /x/b.csv")
    assert exit_.value.code == 1
    assert capsys.readouterr().err == "error: No files under /x; looked for: /x/a.csv /x/b.csv\n"
