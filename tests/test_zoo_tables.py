"""The zoo's names (published or not), the paper's and the reproduction's numbers, seed runs,
and the README's results and claims tables generated from the registry."""

import json
import pathlib
import re

import pytest

from kasm_keras import KernelTextClassifier, VARIANTS, paper, zoo
from benchmarks import results as results_tool
from benchmarks import docs_site
from benchmarks.reporting import claims, readme, results, zoo_cards
from tests.test_faults_tools import error_line, run_tool, tree
from tests.test_zoo import ENTRY, _private_zoo

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAPER_README = ROOT.parent / "shared" / "paper" / "README.md"


@pytest.fixture
def tool(monkeypatch, capsys):
    return lambda name, *args: run_tool(name, *args, monkeypatch=monkeypatch, capsys=capsys)


# ------------------------------------------------------------------ the paper's numbers

def test_the_pytorch_reproductions_numbers_are_the_reports():
    assert paper.pytorch_table2_accuracy("yelp", "cnn", 1) == 55.19
    assert paper.pytorch_table2_accuracy("ag_news", "rkm_cifg", 3) == 92.42
    assert paper.pytorch_table2_accuracy("ag_news", "rkm_cifg", 2) is None
    assert paper.pytorch_table2_accuracy("imdb", "lstm", 1) is None
    if not PAPER_README.exists():
        pytest.skip(f"{PAPER_README} not here")
    text = PAPER_README.read_text().split("## An independent reproduction", 1)[1]
    datasets = ("ag_news", "dbpedia", "yahoo", "yelp")
    rows = {m[1]: m[2].split(" | ") for m in re.finditer(r"^\| (\w+) \| (.+) \|$", text, re.M)
            if m[1] in VARIANTS}
    assert sorted(rows) == sorted(VARIANTS)
    for variant, cells in rows.items():
        for dataset, cell in zip(datasets, cells, strict=True):
            one, three = (float(x) for x in cell.split(" / "))
            assert paper.pytorch_table2_accuracy(dataset, variant, 1) == one
            assert paper.pytorch_table2_accuracy(dataset, variant, 3) == three


# ------------------------------------------------------------------ names and their errors

def test_known_names_are_table_2s_cells_and_the_unpublished_are_the_rest():
    known = zoo.known_names()
    assert len(zoo.classification_names()) == 4 * len(VARIANTS) * 2
    assert known == (zoo.classification_names() + zoo.language_model_names()
                     + zoo.time_series_names())
    # and Table 3's, and the time series' (4 variants, n = 1 and 3)
    assert len(known) == len(set(known)) == 4 * len(VARIANTS) * 2 + 2 * 4 + 4 * 2
    assert set(zoo.names()) <= set(known)
    assert set(zoo.unpublished_names()) == set(known) - set(zoo.names())
    for dataset in zoo.WITHOUT_DATA:
        assert not [n for n in zoo.names() if n.startswith(f"{dataset}/")]
        assert len([n for n in zoo.unpublished_names() if n.startswith(f"{dataset}/")]) == 14
    assert zoo.parse_name("yelp/rkm_cifg_3gram") == ("yelp", "rkm_cifg", 3)
    assert zoo.parse_name("yelp/rkm_cifg_2gram") is None


YELP = "yelp/rkm_cifg_3gram"
YELP_COMMANDS = (
    "  python tools/train.py --model=rkm_cifg --dataset=yelp --ngram=3 "
    "--model_dir=runs/yelp/rkm_cifg_3gram &&\n"
    "  python tools/zoo.py publish --model_dir=runs/yelp/rkm_cifg_3gram --name=yelp/rkm_cifg_3gram")


@pytest.mark.parametrize("call", [zoo.load, zoo.info, zoo.entry_dir,
                                  KernelTextClassifier.from_preset])
def test_an_unpublished_name_says_why_and_how_to_make_it(call):
    with pytest.raises(zoo.ZooError) as error:
        call(YELP)
    assert str(error.value) == (
        "zoo entry 'yelp/rkm_cifg_3gram' is not published: the yelp data was not available "
        "where the zoo's entries were trained. To make it from the official archive "
        f"(tools/train.py downloads it; --data_dir=DIR reads a local copy):\n{YELP_COMMANDS}")


def test_a_name_not_yet_published_gives_the_commands_and_a_bad_name_the_list(tmp_path):
    zoo_dir = str(_private_zoo(tmp_path))
    with pytest.raises(zoo.ZooError) as error:
        zoo.info("ag_news/lstm_1gram", zoo_dir)
    assert str(error.value) == (
        "zoo entry 'ag_news/lstm_1gram' is not published: it has not been trained and published "
        "yet. To make it from the official archive (tools/train.py downloads it; "
        "--data_dir=DIR reads a local copy):\n"
        "  python tools/train.py --model=lstm --dataset=ag_news --ngram=1 "
        "--model_dir=runs/ag_news/lstm_1gram &&\n"
        "  python tools/zoo.py publish --model_dir=runs/ag_news/lstm_1gram "
        "--name=ag_news/lstm_1gram")
    for name in ("ag_news/lstm_2gram", "imdb/lstm_1gram", "ag_news/bilstm_1gram"):
        with pytest.raises(zoo.ZooError, match=f"No zoo entry '{name}'; available: {ENTRY}$"):
            zoo.load(name, zoo_dir)


def test_zoo_list_shows_the_published_and_apart_the_unpublished(tool, tmp_path):
    zoo_dir = _private_zoo(tmp_path)
    result = tool("zoo", "list", f"--zoo_dir={zoo_dir}")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == ["Published (1):", f"  {ENTRY:<32} test accuracy "
                         f"{zoo.info(ENTRY)['test_accuracy']:.2f}%  (26,318 training documents)"]
    assert lines[2].startswith("Not published (71;")
    assert lines[3:] == [  # the names in a column as wide as the longest
        "  ag_news         1gram: lstm, rkm_lstm, linear_kernel_ot, linear_kernel, gated_cnn, cnn",
        "                  3gram: every variant",
        "  dbpedia         every variant, 1gram and 3gram",
        "  yahoo           every variant, 1gram and 3gram (its data was not available here)",
        "  yelp            every variant, 1gram and 3gram (its data was not available here)",
        "  ptb             language model: every variant of Table 3",
        "  wikitext2       language model: every variant of Table 3 (its data was not available "
        "here)",
        "  japanese_vowels every variant, 1gram and 3gram"]


# ------------------------------------------------------------------ seed runs

def _fake_run(folder, seed, val, test, **changes):
    """A finished run of ENTRY's cell with another seed (its metrics and settings, changed)."""
    stored = json.loads((pathlib.Path(zoo.entry_dir(ENTRY)) / "metadata.json").read_text())
    metrics = {**stored["kasm_keras"]["metrics"], "val_accuracy": val, "test_accuracy": test}
    config = {**stored["kasm_keras"]["training"], "seed": seed, "model_dir": str(folder),
              **changes}
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_best_run_is_the_best_validation_seed(tmp_path):
    runs = [_fake_run(tmp_path / f"seed{s}", s, val, 0.9) for s, val in
            ((0, 0.88), (1, 0.89), (2, 0.89))]
    assert zoo.best_run([str(r) for r in runs]) == str(runs[1])  # a tie: the lower seed
    other = tmp_path / "other"
    other.mkdir()
    stored = json.loads((pathlib.Path(zoo.entry_dir(ENTRY)) / "metadata.json").read_text())
    (other / "metrics.json").write_text(json.dumps({**stored["kasm_keras"]["metrics"],
                                                    "ngram": 3}))
    (other / "config.json").write_text(json.dumps({"seed": 0}))
    with pytest.raises(zoo.ZooError, match="different cells"):
        zoo.best_run([str(runs[0]), str(other)])


def test_seed_runs_are_recorded_and_give_mean_and_sd(tool, tmp_path):
    zoo_dir = _private_zoo(tmp_path)
    runs = tmp_path / "runs"
    _fake_run(runs / "seed1", 1, 0.80, 0.9050)
    _fake_run(runs / "seed2", 2, 0.80, 0.9000)
    (runs / "seed3").mkdir()  # not finished: skipped
    result = tool("results", f"--zoo_dir={zoo_dir}", f"--seed_runs={runs}/seed*")
    assert result.returncode == 0, result.stderr
    assert f"skipped {runs / 'seed3'}: not finished" in result.stderr
    recorded = json.loads((zoo_dir / "seed_runs.json").read_text())
    assert [(r["seed"], r["test_accuracy"]) for r in recorded["runs"][ENTRY]] == [
        (1, 0.905), (2, 0.9)]
    values = [zoo.info(ENTRY, str(zoo_dir))["test_accuracy"], 90.5, 90.0]
    mean, sd = results.mean_sd(values)
    assert f"| {mean:.2f} ± {sd:.2f} (3 seeds) | 92.29 | 91.76 | {mean - 92.29:+.2f} |" \
        in result.stdout
    # Read back: the same table without --seed_runs.
    again = tool("results", f"--zoo_dir={zoo_dir}")
    assert again.stdout == result.stdout

    # A better validation accuracy than the published seed's is pointed out.
    _fake_run(runs / "seed4", 4, 0.99, 0.9)
    warned = tool("results", f"--zoo_dir={zoo_dir}", f"--seed_runs={runs / 'seed4'}")
    assert "seed 4" in warned.stderr and "publish it instead" in warned.stderr

    # A run trained otherwise is refused, and nothing is written.
    _fake_run(runs / "seed5", 5, 0.8, 0.9, units=64)
    before = tree(zoo_dir)
    error_line(tool("results", f"--zoo_dir={zoo_dir}", f"--seed_runs={runs / 'seed5'}"),
               "seed 5", "units=64", "not a seed of the same cell")
    assert tree(zoo_dir) == before


def test_a_run_is_published_under_its_own_cells_name_only(tool, tmp_path):
    run, zoo_dir = _fake_run(tmp_path / "run", 0, 0.9, 0.9), tmp_path / "zoo"
    error_line(tool("zoo", "publish", f"--model_dir={run}", "--name=ag_news/lstm_1gram",
                    f"--zoo_dir={zoo_dir}"),
               run, f"trained {ENTRY}, not ag_news/lstm_1gram")
    assert not zoo_dir.exists()


# ------------------------------------------------------------------ the claims' rules

def _cells(values):
    """Synthetic cells: {variant: (1-gram seeds, 3-gram seeds)}."""
    return {(v, n): list(seeds) for v, pair in values.items() for n, seeds in zip((1, 3), pair)
            if seeds}


SUPPORTING = _cells({
    "lstm": ([90.0, 90.2], [90.5, 90.7]), "rkm_lstm": ([90.1, 90.3], [90.6, 90.4]),
    "rkm_cifg": ([89.9, 90.1], [90.5, 90.5]), "linear_kernel_ot": ([89.0], [89.2]),
    "linear_kernel": ([88.0], [88.3]), "gated_cnn": ([87.0], [88.1]), "cnn": ([86.0], [87.8])})
SIGMA = (5 * 0.02 / 6) ** 0.5  # pooled over the six cells with two seeds


def test_claims_supported():
    noise = claims.seed_noise({"d": SUPPORTING}, "d")
    assert noise.cells == 6 and not noise.borrowed
    assert noise.sigma == pytest.approx(SIGMA)  # pooled sample standard deviation
    verdicts = [v.verdict for _, _, v in claims.judge(SUPPORTING, noise.sigma)]
    assert verdicts == [claims.SUPPORTED] * 5


def test_claims_not_supported():
    cells = dict(SUPPORTING)
    cells[("rkm_cifg", 1)] = [88.0, 88.2]   # far below lstm
    cells[("gated_cnn", 3)] = [91.0]        # rises above linear_kernel by far
    cells[("cnn", 3)] = [82.5]              # and cnn's 3-gram loss outweighs gated_cnn's gain
    rows = claims.judge(cells, 0.1)
    assert [v.verdict for _, _, v in rows] == [claims.NOT_SUPPORTED, claims.SUPPORTED,
                                               claims.SUPPORTED, claims.NOT_SUPPORTED,
                                               claims.NOT_SUPPORTED]
    assert "rkm_cifg -2.00" in rows[0][2].evidence


def test_claims_with_missing_entries_or_no_seed_noise_give_no_verdict():
    cells = {k: v for k, v in SUPPORTING.items() if k != ("cnn", 3)}
    rows = claims.judge(cells, 0.1)
    assert [v.verdict for _, _, v in rows] == [claims.SUPPORTED] * 3 + [claims.NOT_ENOUGH] * 2
    assert rows[3][2].evidence == "missing cnn 3g"
    single = {k: v[:1] for k, v in SUPPORTING.items()}  # one seed everywhere: no noise
    table = claims.markdown_table({"d": single}, ["d", "e"], {}, {})
    assert "supported" not in table.replace("not enough entries", "")
    assert table.count("no seed noise measured (no cell has two seeds)") == 5
    assert table.count("**not enough entries**: missing all 3 cells it needs |") == 2
    assert table.count("**not enough entries**: missing all 14 cells it needs |") == 1
    assert table.count("**not enough entries**: missing") == 5  # "e", without entries
    # A dataset without seeds borrows the noise of the others, and says so.
    table = claims.markdown_table({"d": SUPPORTING, "e": single}, ["d", "e"], {}, {})
    assert f"| e | RKM-LSTM and RKM-CIFG perform comparably to LSTM | 1 | {SIGMA:.2f} (every " \
        "dataset, 6 cells) |" in table


def test_the_paper_and_the_reproduction_are_judged_by_the_same_rules():
    table = claims.markdown_table({"ag_news": SUPPORTING}, ["ag_news"], paper.TABLE2_ACCURACY,
                                  paper.PYTORCH_TABLE2_ACCURACY)
    row = next(line for line in table.splitlines()
               if "| accuracy falls" in line and "| 1 |" in line)
    # The reproduction's ag_news 1-gram: gated_cnn 91.15 is above linear_kernel 89.50. The
    # whole fall's bound: 2 sd of (mean of three cells - one cell) = 2 sigma sqrt(1/3 + 1).
    bound = 2 * SIGMA * (4 / 3) ** 0.5
    assert row.endswith("| does not hold: falls +0.30, +1.92, -1.65, +1.59; total +2.16 "
                        f"(bound {bound:.2f}) |")
    assert "| holds: falls -0.11, +0.45, +0.08, +0.34; total +0.76" in row  # the paper's


# ------------------------------------------------------------------ the README

def test_docs_show_the_current_results_and_claims_and_the_readme_its_zoo():
    blocks, _ = results_tool.tables()  # what tools/results.py prints
    results_table, claims_table = blocks["results"], blocks["claims"]
    assert docs_site.block("results") == results_table
    assert docs_site.block("claims") == claims_table
    for name in zoo.names(task=zoo.CLASSIFICATION):
        assert f"zoo: {name} |" in results_table
    # what tools/results.py --update_readme writes
    assert readme.read_block("zoo") == zoo_cards.summary_block()
    for dataset in {name.split("/")[0] for name in zoo.names()}:
        assert f"| {dataset} |" in readme.read_block("zoo")


def test_a_model_card_says_what_its_family_says(monkeypatch):
    """The cards hold no text of their own about a task: a fourth family's card attributes
    are what its card and its summary line show."""
    import types

    from kasm_keras.models import task_family

    class Fourth(type(task_family.get("classification"))):
        card_usage = "model = kasm_keras.zoo.load(\"{name}\")  # a fourth task's model"
        card_explain_input = "--fourth=input"
        headline_label = "fourth metric {:.1f}"
        headline_paper_note = " (another paper's)"

        def card_measured(self, info, seed_noise):
            return [("fourth metric", "1.00", "", "")], f"fourth data ({seed_noise})"

    monkeypatch.setattr(zoo_cards, "task_family", types.SimpleNamespace(get=lambda _: Fourth()))
    card = zoo_cards.model_card(ENTRY, {})
    assert f'model = kasm_keras.zoo.load("{ENTRY}")  # a fourth task\'s model' in card
    assert f"--zoo={ENTRY} --fourth=input --html=page.html" in card
    assert "| fourth metric | 1.00 |  |  |" in card
    assert "**Trained on** fourth data (one seed (no seed noise measured" in card
    value, reference, label = zoo_cards._headline(ENTRY)
    info = zoo.info(ENTRY)
    assert (value, reference, label) == (
        info["test_accuracy"], f"{info['paper_accuracy']:.2f} (another paper's)",
        f"fourth metric {info['test_accuracy']:.1f}")


def test_readme_blocks_are_replaced_together_or_not_at_all(tmp_path):
    path = tmp_path / "README.md"
    path.write_text("a\n<!-- x:begin -->\nold\n<!-- x:end -->\n"
                    "b\n<!-- y:begin -->\n<!-- y:end -->\n")
    with pytest.raises(ValueError, match="no <!-- y:begin -->"):
        readme.replace_blocks({"x": "new", "y": "new"}, path)  # y's block is empty: no markers
    assert "old" in path.read_text()
    readme.replace_blocks({"x": "new\nlines"}, path)
    assert readme.read_block("x", path) == "new\nlines"
