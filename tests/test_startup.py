"""What a program does before TensorFlow loads: `--deterministic` turns oneDNN's CPU kernels
off (they are not repeatable bit for bit on a busy machine), unless the user chose."""

import os
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


def _onednn_setting(*args, environ=None):
    """TF_ENABLE_ONEDNN_OPTS after `startup.start_program`, in a process that loads startup.py
    from its file, as tools/launch.py does, before anything imports the package."""
    code = ("import importlib.util, os, sys; "
            "spec = importlib.util.spec_from_file_location('kasm_keras.cli.startup', "
            f"{startup.__file__!r}); "
            "startup = importlib.util.module_from_spec(spec); spec.loader.exec_module(startup); "
            "startup.start_program(sys.argv); print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'))")
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                            env={**env, **(environ or {})}, check=True)
    return result.stdout.strip()


def test_deterministic_turns_onednn_off_unless_the_user_chose():
    assert _onednn_setting("--deterministic") == "0"
    assert _onednn_setting() == "None"
    assert _onednn_setting("--deterministic", environ={"TF_ENABLE_ONEDNN_OPTS": "1"}) == "1"
