"""tools/data.py end to end: the table, the JSON, and a clear error for a missing source."""

import json
import pathlib
import re
import subprocess
import sys

import pytest

from tests.conftest import real_data

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "zhang_csv"


def _run(*args):
    return subprocess.run([sys.executable, str(ROOT / "tools" / "data.py"), *args],
                          capture_output=True, text=True)


def test_json_on_fixture(tmp_path):
    result = _run("--dataset=yelp", f"--data_dir={FIXTURES}", f"--cache_dir={tmp_path}",
                  "--embeddings=none", "--validation_fraction=0.3", "--min_count=1", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["splits"]["train"] + report["splits"]["validation"] == 3
    assert report["splits"]["test"] == 2 and report["num_classes"] == 5
    assert report["vocabulary_size"] > 2 and report["pipeline"]["batches_per_second"] > 0


def test_missing_source_names_the_paths(tmp_path):
    result = _run("--dataset=ag_news", f"--data_dir={tmp_path}", f"--cache_dir={tmp_path}")
    assert result.returncode != 0
    assert str(tmp_path / "train.csv") in result.stderr


def test_table_on_real_ag_news(tmp_path):
    result = _run("--dataset=ag_news", f"--data_dir={real_data('ag_news')}",
                  f"--cache_dir={tmp_path}")
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
