"""The tools' command lines as a new user meets them: every number flag refuses nan and inf with a
message that agrees with what it accepts, and each refusal is one `error:` line.

The tools run in this process (`tests.test_faults_tools.run_tool`: the program's own flag
parsing and error handling), except where the process itself is the point.
"""

import pytest

from tests.test_faults_tools import error_line, run_tool


@pytest.fixture
def tool(monkeypatch, capsys):
    return lambda name, *args: run_tool(name, *args, monkeypatch=monkeypatch, capsys=capsys)


# Every float flag of every tool, with nan and inf: (tool, its other flags, flag, message).
CLASSIFIER = ["--dataset=ag_news", "--model=cnn"]
LANGUAGE_MODEL = ["--dataset=ptb", "--model=rkm_lstm"]
FLOAT_FLAGS = [
    ("generate", ["--zoo=ptb/rkm_lstm", "--prompt=the"], "--temperature", "a finite number > 0"),
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
