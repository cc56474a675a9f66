"""What a program does before TensorFlow loads: `--deterministic` turns oneDNN's CPU kernels
off (they are not repeatable bit for bit on a busy machine), unless the user chose; a stopping
signal stops it even when its handler runs where Python drops exceptions."""

import os
import signal
import subprocess
import sys

import pytest

from kasm_keras.cli import startup


@pytest.mark.parametrize("argv, wanted", [
    (["train"], False),
    (["train", "--deterministic"], True),
    (["train", "-deterministic=true"], True),
    (["train", "--deterministic=1"], True),
    (["train", "--deterministic=false"], False),
    (["train", "--deterministic", "--nodeterministic"], False),
    (["train", "--nodeterministic", "--deterministic=True"], True),
    (["train", "--deterministic_steps=3"], False),
    (["train", "--", "--deterministic"], False),
    (["--deterministic"], False),  # the program's name
])
def test_wants_determinism_reads_absl_boolean_forms(argv, wanted):
    assert startup.wants_determinism(argv) is wanted


# A program's start as tools/launch.py makes it: startup.py loaded from its file, before anything
# imports the package.
START = ("import importlib.util, os, sys; "
         "spec = importlib.util.spec_from_file_location('kasm_keras.cli.startup', "
         f"{startup.__file__!r}); "
         "startup = importlib.util.module_from_spec(spec); spec.loader.exec_module(startup); "
         "startup.start_program(sys.argv)\n")


def _onednn_setting(*args, environ=None):
    """TF_ENABLE_ONEDNN_OPTS after `startup.start_program`."""
    code = START + "print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'))"
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                            env={**env, **(environ or {})}, check=True)
    return result.stdout.strip()


def test_deterministic_turns_onednn_off_unless_the_user_chose():
    assert _onednn_setting("--deterministic") == "0"
    assert _onednn_setting() == "None"
    assert _onednn_setting("--deterministic", environ={"TF_ENABLE_ONEDNN_OPTS": "1"}) == "1"


# An object whose finalizer is where the signal's handler runs: Python prints and drops an
# exception raised in a __del__ (TensorFlow's iterators and resources have finalizers), and the
# program would then run to its end.
DROPPED_IN_A_FINALIZER = START + """
import signal, time
class Finalized:
    def __del__(self):
        os.kill(os.getpid(), signal.SIGTERM)
        end = time.monotonic() + 1
        while time.monotonic() < end:  # the handler runs in here
            pass
Finalized()
end = time.monotonic() + 10
while time.monotonic() < end:
    pass
print("went on")
"""


def test_a_signal_dropped_in_a_finalizer_still_stops_the_program():
    result = subprocess.run([sys.executable, "-c", DROPPED_IN_A_FINALIZER], capture_output=True,
                            text=True, timeout=60)
    assert (result.returncode, result.stdout, result.stderr) == (
        128 + signal.SIGTERM, "", "stopped by SIGTERM\n")
