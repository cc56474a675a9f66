"""Writes that fail or are stopped: a full disk, a stopping signal, a killed writer.

A full disk is a real one: a small tmpfs (mounting needs root; CI runs as root), filled with a
filler file just before the write under test, so that the real writer meets ENOSPC. Each case
ends with one `error:` line naming the file being written and saying that the disk is full,
exit status 1 and no traceback; what was there before is unchanged byte for byte, no temporary
is left, and once there is space the same command resumes exactly. Signals are real signals to
a real `tools/train.py`.
"""

import errno
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from kasm_keras.cli import startup, tool_support
from kasm_keras.training import checkpoints, classification, loop
from kasm_keras.training.checkpoints import CheckpointManager
from kasm_keras.utils import files
from kasm_keras.utils.files import machine_id
from tests.test_faults_tools import (  # noqa: F401 (fixtures)
    ENV, TOOLS, data, error_line, finished, tool, tree)
from tests.conftest import same_worker
from tests.test_training_resume import _assert_same_run, _metrics


# Most tests share the module fixtures (tiny data, a finished run, reference runs by
# tools/train.py, an export).
pytestmark = same_worker("faults_writes")


def fill(disk):
    """Writes a filler file on `disk` until it is full."""
    with open(disk / "filler", "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError as error:
            assert error.errno == errno.ENOSPC, error


def temporaries(root):
    """Every temporary under `root` (any name a writer gives its temporaries)."""
    return [str(p) for p in pathlib.Path(root).rglob("*")
            if ".tmp" in p.name or p.name.startswith(".partial-")]


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory):
    """An uninterrupted run of 20 steps, which resumed runs must end like: by tools/train.py in
    a fresh process, as the runs compared with it. (In this process the result would depend on
    the tests that ran in it before: a test's logical CPU devices or policies stay for the
    process's life, and move this tiny run's accuracy by a document.)"""
    model_dir = tmp_path_factory.mktemp("reference") / "run20"
    subprocess.run(_train(model_dir, data, "--max_steps=20"), check=True, capture_output=True,
                   env=ENV, timeout=240)
    return model_dir


@pytest.fixture(scope="module")
def started(data, tmp_path_factory):
    """A 5-step run by tools/train.py in a fresh process, to resume and compare with
    `reference`, for the reason `reference` gives."""
    model_dir = tmp_path_factory.mktemp("started") / "run"
    subprocess.run(_train(model_dir, data, "--max_steps=5"), check=True, capture_output=True,
                   env=ENV, timeout=240)
    return model_dir


# ------------------------------------------------------------------ a full disk while training

def _before(monkeypatch, owner, name, disk, after=False):
    """Fills `disk` when `owner.name` is called (after it returns, with `after`)."""
    original = getattr(owner, name)

    def filled_first(*args, **kwargs):
        if not after:
            fill(disk)
        result = original(*args, **kwargs)
        if after:
            fill(disk)
        return result

    monkeypatch.setattr(owner, name, filled_first)


# Which write the disk fills before, and the file the error must name (relative to model_dir).
WRITES = {
    "checkpoint": (CheckpointManager, "save", False, "checkpoints/ckpt-10"),
    "best model": (classification.ClassificationTask, "save_best", False, "best.keras"),
    "best model's sidecar": (checkpoints, "_write_digests", False, "best.keras.sha256"),
    "TensorBoard logs": (loop._Summaries, "__init__", False, "logs/train"),
    "metrics.json": (classification.ClassificationTask, "report", True, "metrics.json"),
}


@pytest.mark.parametrize("write", list(WRITES))
def test_a_full_disk_while_training_names_the_file_and_keeps_the_checkpoint(
        tool, data, started, reference, small_disk, monkeypatch, write):
    """A 5-step run resumed to 10 on a disk that fills before `write`: one line naming the file
    and the checkpoint to resume from; the checkpoint (and the best model, when it was the one
    being written) unchanged; and, for the checkpoint's write, once there is space the same
    command ends like an uninterrupted run (the other writes leave the files it reads as they
    were, which is checked)."""
    owner, name, after, named = WRITES[write]
    disk = small_disk("2m")
    run = pathlib.Path(shutil.copytree(started, disk / "run"))
    before = tree(run)
    command = ["train", *data.flags, "--model=cnn", "--max_steps=10", f"--model_dir={run}"]
    monkeypatch.setattr(sys, "argv", [str(TOOLS / "train.py"), *command[1:]])  # as a program
    with monkeypatch.context() as patched:
        _before(patched, owner, name, disk, after)
        result = tool(*command)
    line = error_line(result, f"cannot write {run / named}: the disk is full",
                      "resumes from its checkpoint of step", f"--model_dir={run}")
    assert "No space left on device" in line
    assert temporaries(run) == []
    after_failure = tree(run)
    for kept in ["checkpoints/ckpt-5", "best.keras", "best.keras.sha256", "vocabulary.txt"]:
        changed = [k for k in before if k.startswith(kept) and before[k] != after_failure[k]]
        if kept.startswith("best") and write not in ("best model", "best model's sidecar"):
            continue  # written before the disk filled (a better model at step 10)
        assert changed == [], changed
    CheckpointManager.verify(CheckpointManager(run / "checkpoints").latest())
    checkpoints.verify_digest(run / "best.keras")
    if write != "checkpoint":
        # The files a resumed run reads are unchanged (above), so it resumes as the run whose
        # checkpoint write failed does below.
        return

    (disk / "filler").unlink()
    # In a fresh process, as `started` and `reference` ran.
    resumed = subprocess.run(_train(run, data, "--max_steps=20"), capture_output=True,
                             text=True, env=ENV, timeout=240)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert _metrics(run)["steps"] == 20 and temporaries(run) == []
    _assert_same_run(reference, run)


def test_a_full_disk_before_the_first_checkpoint_leaves_nothing(tool, data, small_disk,
                                                                monkeypatch):
    disk = small_disk("2m")
    run = disk / "run"
    _before(monkeypatch, CheckpointManager, "save", disk)
    result = tool("train", *data.flags, "--model=cnn", "--max_steps=10", f"--model_dir={run}")
    error_line(result, f"cannot write {run / 'checkpoints' / 'ckpt-5'}: the disk is full",
               f"no checkpoint was kept in {run}")
    assert sorted(os.listdir(disk)) == ["filler"]


def test_a_full_disk_while_preparing_the_data_names_the_cache(tool, data, small_disk, tmp_path):
    disk = small_disk("2m")
    fill(disk)
    args = [a for a in data.flags if not a.startswith("--cache_dir=")]
    result = tool("train", *args, "--model=cnn", f"--cache_dir={disk / 'cache'}",
                  f"--model_dir={tmp_path / 'run'}")
    error_line(result, f"cannot write {disk / 'cache' / 'ag_news'}", "the disk is full")
    assert not (tmp_path / "run").exists()
    assert [p for p in (disk / "cache").rglob("*") if "incomplete" in p.name] == []
    assert temporaries(disk) == []


# ------------------------------------------------------------------ stopping signals

def _train(model_dir, data, *args):
    return [sys.executable, str(TOOLS / "train.py"), *data.flags, "--model=cnn",
            f"--model_dir={model_dir}", *args]


def _default_stopping_signals():
    for signum in startup.STOPPING_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)


# SIGTERM takes SIGINT's path (`startup.STOPPING_SIGNALS`, whose handlers test_startup.py
# checks); SIGHUP is sent here before the first checkpoint.
@pytest.mark.parametrize("signum, when", [
    (signal.SIGINT, "step 10:"), (signal.SIGHUP, "training a new model in"),
], ids=["SIGINT", "SIGHUP before the first checkpoint"])
def test_a_stopping_signal_says_where_the_run_resumes(data, reference, tmp_path, signum, when):
    """A real signal to a real tools/train.py (after a checkpoint, or before the first): one
    line naming the checkpoint and the command that resumes, exit status 128 + signal, no
    traceback, and the run resumes exactly (a killed run's temporaries, also of older versions,
    removed)."""
    model_dir = tmp_path / "run"
    # The signals' default dispositions in the child: a test run started in the background or
    # under nohup has SIGINT or SIGHUP ignored, which the tool rightly keeps ignored.
    # Far more steps than the run makes before the signal arrives, however slow the machine.
    trainer = subprocess.Popen(_train(model_dir, data, "--max_steps=1000000"), text=True,
                               preexec_fn=_default_stopping_signals,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**ENV, "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1"})
    started = False
    for line in trainer.stdout:
        started = started or line.strip() == f"training a new model in {model_dir}"
        if line.startswith(when):
            break
    trainer.send_signal(signum)
    try:
        out, err = trainer.communicate(timeout=120)
    except subprocess.TimeoutExpired:  # the signal was lost: where the run was, and its
        with open(f"/proc/{trainer.pid}/status") as f:  # signal masks
            masks = " ".join(line.split()[0] + line.split()[1] for line in f
                             if line.startswith(("Sig", "ShdPnd")))
        trainer.send_signal(signal.SIGABRT)  # faulthandler: every thread's stack on stderr
        out, err = trainer.communicate()
        pytest.fail(f"{signal.Signals(signum).name} did not stop the run ({masks}); its last "
                    f"output: {out[-1500:]}; its stderr: {err[-6000:]}")
    assert started, "a new run must say where it writes"
    assert trainer.returncode == 128 + signum, err[-3000:]
    assert "Traceback" not in err and "error:" not in err, err[-3000:]
    name = signal.Signals(signum).name
    lines = [line for line in err.splitlines() if line.startswith("stopped")]
    assert len(lines) == 1 and lines[0].endswith("--max_steps=1000000"), err[-3000:]
    if signum == signal.SIGHUP:
        assert lines[0].startswith(f"stopped by {name}: no checkpoint was kept in {model_dir}; "
                                   "this command starts the run again: ")
        assert not model_dir.exists()
        return
    assert lines[0].startswith(f"stopped by {name}: {model_dir} resumes from its checkpoint "
                               "of step ")
    latest = CheckpointManager(model_dir / "checkpoints").latest()
    CheckpointManager.verify(latest)
    step = CheckpointManager.read_state(latest)["step"]
    assert f"step {step} ({latest})" in lines[0] and step < 20
    assert temporaries(model_dir) == [] and not (model_dir / "metrics.json").exists()
    if signum != signal.SIGINT:
        return
    dead = _dead_pid()
    leftovers = [model_dir / f"..partial-0123456789ab-best.keras.{dead}@{machine_id()}."
                             "ab12cd_e.tmp.keras",
                 model_dir / f".best.keras.{dead}@{machine_id()}.ab12cd_e.tmp.keras"]
    for leftover in leftovers:
        leftover.write_bytes(b"partial")
    resumed = subprocess.run(_train(model_dir, data, "--max_steps=20"), capture_output=True,
                             text=True, env=ENV, timeout=240)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming from {latest}" in resumed.stdout
    last = resumed.stdout.strip().splitlines()[-1]
    assert last.startswith(f"best model: {model_dir / 'best.keras'}, metrics: "
                           f"{model_dir / 'metrics.json'}; evaluate it with: ")
    assert f"evaluate.py --model_dir={model_dir}" in last
    assert f"export.py --model_dir={model_dir} --export_dir=" in last
    assert temporaries(model_dir) == []
    _assert_same_run(reference, model_dir)


def test_another_tool_stopped_by_a_signal_ends_with_one_line(capsys):
    def main(argv):
        raise startup.Stopped(signal.SIGTERM)

    with pytest.raises(SystemExit) as exit_:
        tool_support.execute(main, ["x.py"])
    assert exit_.value.code == 128 + signal.SIGTERM
    assert capsys.readouterr().err == "stopped by SIGTERM\n"


def _catches(pid, signum):
    """Whether process `pid` has a handler for `signum` (Linux's /proc/PID/status, SigCgt)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        mask = next(line for line in f if line.startswith("SigCgt:")).split()[1]
    return bool(int(mask, 16) >> (signum - 1) & 1)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP],
                         ids=lambda signum: signal.Signals(signum).name)
def test_a_signal_while_a_tool_imports_ends_with_one_line(tmp_path, signum):
    """A real signal to a real tools/train.py as soon as it catches stopping signals (the first
    thing it imports, tool_support, installs the handlers; TensorFlow comes after): one
    `stopped by SIGxxx` line and status 128 + signal, no traceback, nothing written."""
    if not os.path.exists("/proc/self/status"):
        assert os.environ.get("CI") != "true", "CI runs on Linux"
        pytest.skip("needs /proc to see when the tool handles signals")
    trainer = subprocess.Popen([sys.executable, str(TOOLS / "train.py"), "--dataset=ag_news",
                                "--model=cnn", f"--model_dir={tmp_path / 'run'}"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=ENV, preexec_fn=_default_stopping_signals)
    # SIGHUP: Python catches SIGINT itself from its start, before the tool's first import.
    while trainer.poll() is None and not _catches(trainer.pid, signal.SIGHUP):
        time.sleep(0.001)
    trainer.send_signal(signum)
    out, err = trainer.communicate(timeout=120)
    assert trainer.returncode == 128 + signum, err[-3000:]
    assert err == f"stopped by {signal.Signals(signum).name}\n" and out == ""
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_no_writer_named_is_still_one_line(capsys):
    import tensorflow as tf

    def main(argv):
        raise tf.errors.ResourceExhaustedError(None, None, "/x/events.out; No space left on "
                                               "device\n\tFailed to flush 11 events")

    with pytest.raises(SystemExit) as exit_:
        tool_support.execute(main, ["x.py"])
    assert exit_.value.code == 1
    assert capsys.readouterr().err == ("error: the disk is full: /x/events.out; No space left on "
                                       "device Failed to flush 11 events\n")


def _dead_pid():
    child = subprocess.Popen([sys.executable, "-c", ""])
    child.wait(30)
    return child.pid


# ------------------------------------------------------------------ export

@pytest.fixture(scope="module")
def exported(finished, tmp_path_factory):
    """A version exported from the finished run, to copy."""
    base = tmp_path_factory.mktemp("exported") / "serving"
    result = subprocess.run([sys.executable, str(TOOLS / "export.py"), f"--model_dir={finished}",
                             f"--export_dir={base}"], capture_output=True, text=True, env=ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    return base / "1"


def test_export_on_a_full_disk_names_the_version_and_changes_nothing(tool, finished, exported,
                                                                      small_disk):
    disk = small_disk("1m")
    shutil.copytree(exported, disk / "serving" / "1")
    fill(disk)
    before = tree(disk)
    result = tool("export", f"--model_dir={finished}", f"--export_dir={disk / 'serving'}")
    error_line(result, f"cannot write {disk / 'serving' / '2'}: the disk is full")
    assert tree(disk) == before


def test_a_killed_exports_staging_folder_is_removed_by_the_next_export(tool, finished,
                                                                        tmp_path):
    base = tmp_path / "serving"
    exporter = subprocess.Popen([sys.executable, str(TOOLS / "export.py"),
                                 f"--model_dir={finished}", f"--export_dir={base}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    staging = []
    while not staging and exporter.poll() is None:
        staging = list(base.glob(".export.*.tmp")) if base.exists() else []
        time.sleep(0.01)
    exporter.kill()  # SIGKILL: no cleanup
    exporter.wait()
    assert len(staging) == 1 and staging[0].exists(), "no staging folder seen before the kill"
    assert staging[0].name.startswith(f".export.{exporter.pid}@{machine_id()}.")
    assert not (base / "1").exists()
    live = base / f".export.{os.getpid()}@{machine_id()}.ab12cd_e.tmp"
    elsewhere = base / f".export.{_dead_pid()}@another-machine.ab12cd_e.tmp"
    for folder in (live, elsewhere):
        (folder / "model").mkdir(parents=True)
    result = tool("export", f"--model_dir={finished}", f"--export_dir={base}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(os.listdir(base)) == sorted(["1", live.name, elsewhere.name])
    assert (base / "1" / "saved_model.pb").exists()


@pytest.mark.parametrize("inside", ["1", "1/variables", "1/new/deeper", "link to 1"])
def test_export_refuses_an_export_dir_inside_a_saved_model(tool, finished, exported, tmp_path,
                                                           inside):
    base = tmp_path / "serving"
    shutil.copytree(exported, base / "1")
    export_dir = base / inside
    if inside == "link to 1":
        export_dir = tmp_path / "link"
        export_dir.symlink_to(base / "1")
    before = tree(tmp_path)
    result = tool("export", f"--model_dir={finished}", f"--export_dir={export_dir}")
    error_line(result, f"--export_dir={export_dir} lies inside the SavedModel ",
               f"--export_dir={base}")
    assert tree(tmp_path) == before


def test_an_older_versions_export_staging_folder_is_removed_once_old(tool, finished, tmp_path):
    """Older versions named the staging folder .export-XXXXXXXX, with no writer in it: the next
    export removes one older than files.LEGACY_STALE_SECONDS and keeps a recent one
    (which may be a live export's)."""
    base = tmp_path / "serving"
    old, recent = base / ".export-abcd1234", base / ".export-wxyz_678"
    for folder in (old, recent):
        (folder / "variables").mkdir(parents=True)
        (folder / "saved_model.pb").write_bytes(b"partial")
    stale = time.time() - files.LEGACY_STALE_SECONDS - 60
    os.utime(old, (stale, stale))
    result = tool("export", f"--model_dir={finished}", f"--export_dir={base}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(os.listdir(base)) == sorted(["1", recent.name])
    assert (recent / "saved_model.pb").read_bytes() == b"partial"


def test_a_full_local_disk_staging_a_remote_target_names_that_disk(tool, finished, small_disk,
                                                                   monkeypatch):
    """A remote version (ram://, standing in for gs://) or file is first written to the local
    temporary folder: a full disk there names that folder and the target it stages, and
    neither the target nor a staging leftover appears (the disk fills once the model is
    loaded: Keras' loading uses the temporary folder too)."""
    import tensorflow as tf

    disk = small_disk("1m")
    monkeypatch.setattr(tempfile, "tempdir", str(disk))
    _before(monkeypatch, tool_support, "load_model", disk, after=True)  # Keras loads through it
    result = tool("export", f"--model_dir={finished}", "--export_dir=ram://full_disk/serving")
    error_line(result, f"cannot write {disk}: the disk is full (No space left on device; "
                       "staging ram://full_disk/serving/1)")
    assert not tf.io.gfile.exists("ram://full_disk/serving/1")
    assert temporaries(disk) == []  # TensorFlow's autograph leaves its own files there
    with pytest.raises(files.DiskFullError) as error:
        with files.local_output("ram://full_disk/vocabulary.txt") as local:
            pathlib.Path(local).write_bytes(b"x" * 65536)
    assert str(error.value) == (f"cannot write {disk}: the disk is full (No space left on "
                                "device; staging ram://full_disk/vocabulary.txt)")
    assert not tf.io.gfile.exists("ram://full_disk/vocabulary.txt")
    assert temporaries(disk) == []


# ------------------------------------------------------------------ the temporaries' one rule

def test_every_temporary_name_is_recognised_and_only_dead_writers_ones_removed(tmp_path):
    dead, me = _dead_pid(), os.getpid()
    names = {  # a temporary of best.keras: removed?
        f".best.keras.{dead}@{machine_id()}.ab12cd_e.tmp.keras": True,
        f".best.keras.{dead}@{machine_id()}.ab12cd_e.tmp": True,
        f".best.keras.{me}@{machine_id()}.ab12cd_e.tmp.keras": False,  # alive
        f".best.keras.{dead}@another-machine.ab12cd_e.tmp.keras": False,  # not ours to judge
        "best.keras": False,
    }
    for name in names:
        (tmp_path / name).write_text("x")
    fresh = files.temporary_basename("best.keras", keep_extension=True)
    assert fresh.startswith(f".best.keras.{me}@{machine_id()}.") and fresh.endswith(".tmp.keras")
    legacy = f"..partial-0123456789ab-best.keras.{dead}@{machine_id()}.ab12cd_e.tmp.keras"
    assert all(files.is_temporary(n) for n in [fresh, legacy, *names][:-1])
    assert not files.is_temporary("best.keras")
    removed = files.remove_dead_temporaries(tmp_path / "best.keras")
    assert sorted(removed) == sorted(str(tmp_path / n) for n, dead in names.items() if dead)
    assert sorted(os.listdir(tmp_path)) == sorted(n for n, dead in names.items() if not dead)
