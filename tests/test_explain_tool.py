"""tools/explain.py (`kasm-explain`): the kernel view of a zoo entry's predictions, printed,
as JSON and as one HTML page; each task reads its own input, and a wrong one is one error line.
The shares themselves are tested in tests/test_explain.py."""

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from tests.test_faults_tools import error_line, tool  # noqa: F401 (fixture)
from tests.test_time_series import ts_text

CLASSIFIER = "ag_news/rkm_cifg_1gram"
TEXTS = ["Stocks fell sharply on Wall Street today as oil prices rose",
         "NASA launches a new probe to Mars"]


def test_a_classifiers_texts_are_explained_completely_as_json(tool):
    result = tool("explain", f"--zoo={CLASSIFIER}", *(f"--text={t}" for t in TEXTS), "--json")
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    assert [r["input"] for r in records] == TEXTS
    assert [r["predicted"] for r in records] == ["Business", "Sci/Tech"]
    for r in records:
        contributions = np.asarray(r["contributions"])
        assert contributions.shape == (len(r["tokens"]), 4)
        assert r["class_names"] == ["World", "Sports", "Business", "Sci/Tech"]
        total = contributions.sum(0) + np.asarray(r["constant"])
        np.testing.assert_allclose(total, r["logits"], atol=1e-4 * max(map(abs, r["logits"])))
    business = dict(zip(records[0]["tokens"], np.asarray(records[0]["contributions"])[:, 2]))
    assert max(business, key=business.get) == "stocks"


def test_float64_explanations_add_up_to_float64_rounding(tool):
    single = json.loads(tool("explain", f"--zoo={CLASSIFIER}", f"--text={TEXTS[0]}",
                             "--json").stdout)[0]
    result = tool("explain", f"--zoo={CLASSIFIER}", f"--text={TEXTS[0]}", "--json",
                  "--dtype=float64")
    assert result.returncode == 0, result.stderr
    [double] = json.loads(result.stdout)
    assert double["completeness_error"] < 1e-12 * max(map(abs, double["logits"]))
    np.testing.assert_allclose(double["contributions"], single["contributions"], atol=1e-4)


def test_the_printed_lines_and_the_page(tool, tmp_path):
    page = tmp_path / "out" / "page.html"
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(TEXTS) + "\n")
    result = tool("explain", f"--zoo={CLASSIFIER}", f"--input={texts}", f"--html={page}",
                  "--top=3")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == TEXTS[0] and lines[1].startswith("  predicted: Business (logit ")
    assert lines[2].startswith("  to Business: stocks(+")
    assert "\033[" not in result.stdout  # plain when not a terminal
    assert re.fullmatch(r"  top for Sci/Tech: nasa \+[\d.]+, \S+ [+-][\d.]+, \S+ [+-][\d.]+",
                        lines[-1]), lines[-1]
    text = page.read_text()
    data = json.loads(re.search(r'<script type="application/json" id="data">(.*?)</script>',
                                text, re.S)[1])
    assert [r["input"] for r in data["records"]] == TEXTS
    assert "<select id=\"output\">" in text and "http" not in text.replace(
        "http-equiv", "")  # nothing fetched from elsewhere


def test_text_never_becomes_markup_in_the_page(tool, tmp_path):
    page = tmp_path / "page.html"
    hostile = "</script><img src=x onerror=alert(1)> stocks"
    result = tool("explain", f"--zoo={CLASSIFIER}", f"--text={hostile}", f"--html={page}")
    assert result.returncode == 0, result.stderr
    text = page.read_text()
    assert "</script><img" not in text and text.count("</script>") == 2


@pytest.mark.parametrize("args, named", [
    (["--prompt=the company"], ["--prompt", "document classifier", "--text"]),
    ([], ["give --text or --input"]),
    (["--text=a", "--cases=0"], ["--cases"]),
])
def test_a_wrong_input_for_the_task_is_one_line(tool, args, named):
    error_line(tool("explain", f"--zoo={CLASSIFIER}", *args), *named)


def test_an_empty_line_of_the_input_file_is_named(tool, tmp_path):
    texts = tmp_path / "texts.txt"
    texts.write_text("one text\n\nanother\n")
    error_line(tool("explain", f"--zoo={CLASSIFIER}", f"--input={texts}"), f"{texts}:2")


def test_a_language_models_next_word(tool):
    result = tool("explain", "--zoo=ptb/rkm_lstm", "--prompt=the company said",
                  "--target=it,that", "--json")
    assert result.returncode == 0, result.stderr
    [record] = json.loads(result.stdout)
    assert record["class_names"] == ["it", "that"] and record["tokens"][1:] == [
        "the", "company", "said"]
    assert record["completeness_error"] <= 1e-4 * max(map(abs, record["logits"]))
    error_line(tool("explain", "--zoo=ptb/rkm_lstm", "--prompt=the", "--target=zebraish"),
               "--target", "zebraish")


def test_a_time_series_files_cases(tool, tmp_path, rng):
    header = ("@problemName JapaneseVowels\n@timeStamps false\n@missing false\n"
              "@univariate false\n@dimensions 12\n@equalLength false\n"
              "@classLabel true 1 2 3 4 5 6 7 8 9\n@data\n")
    path = tmp_path / "few.ts"
    path.write_text(ts_text([(rng.normal(size=(n, 12)), str(1 + n % 9)) for n in (7, 11, 15)],
                            header))
    result = tool("explain", "--zoo=japanese_vowels/rkm_lstm_3gram", f"--series={path}",
                  "--cases=0,2", "--json")
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    assert [np.asarray(r["contributions"]).shape for r in records] == [(7, 12, 9), (15, 12, 9)]
    assert records[1]["input"] == "few.ts case 2 (line 11, class 7)"
    error_line(tool("explain", "--zoo=japanese_vowels/rkm_lstm_3gram", f"--series={path}",
                    "--cases=3"), "--cases=3", "3 cases")


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not here")
def test_the_page_renders_in_a_headless_browser(tool, tmp_path):
    """The page as a person sees it: chromium draws the shaded tokens (its DOM after the
    script ran holds one span per token)."""
    page = tmp_path / "page.html"
    assert tool("explain", f"--zoo={CLASSIFIER}", f"--text={TEXTS[1]}",
                f"--html={page}").returncode == 0
    dom = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                          "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    assert re.search(r'<span title="\+[\d.]+" style="background: rgba\(220, 40, 40, 0\.75\);">'
                     r'nasa</span>', dom), dom[-2000:]
