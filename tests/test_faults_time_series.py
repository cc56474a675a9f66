"""Bad time-series input: a value that does not fit float32, is not finite or is not written as
the .ts format writes numbers is refused at its file and line (by the reader and by the tools);
non-finite series are refused by the classifier (naming the series) and by its SavedModel (an
error status), never answered; a byte-order mark is skipped by every text reader; a groups CSV
with a doubled column or a group name holding a line break is refused; a stratified
cross-validation killed mid-fold resumes to the result of one never killed; a series with no steps
or more steps than the limit is refused clearly; and `predict` takes raw series."""

import codecs
import dataclasses
import json
import re
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from kasm_keras import zoo
from kasm_keras.data import classification_data, language_model_data, word_vectors
from kasm_keras.data import time_series_data as tsd
from kasm_keras.data.classification_data import DataError
from kasm_keras.models.time_series_classifier import build_time_series_classifier, serving
from kasm_keras.training import time_series
from tests.conftest import real_time_series_data
from tests.conftest import same_worker
from tests.test_faults_tools import ENV, TOOLS, error_line, run_tool, tree
from tests.test_time_series import (  # noqa: F401 (toy_dir: a fixture)
    HEADER, recipe_run, toy_cases, toy_dir, ts_text)

CLASSIFIER = same_worker("faults_time_series_classifier")  # the tests that use the classifier or its export

BOM = codecs.BOM_UTF8


@pytest.fixture
def tool(monkeypatch, capsys):
    return lambda name, *args: run_tool(name, *args, monkeypatch=monkeypatch, capsys=capsys)


# ------------------------------------------------------------------ the reader

@pytest.mark.parametrize("value, message", [
    ("1e39", "1e39 does not fit float32, the dtype the model reads"),
    ("-3.5e38", "-3.5e38 does not fit float32"),
    ("1e400", "1e400 does not fit float32"),
    ("inf", "a value that is not finite (inf)"),
    ("-Infinity", "a value that is not finite (-Infinity)"),
    ("nan", "a missing value inside the series"),
    ("?", "a missing value inside the series"),
    ("", "an empty value"),
    ("1_000", "'1_000' is not a number (ASCII decimal digits"),
    ("٣", "'٣' is not a number"),
    ("３", "'３' is not a number"),
    ("0x10", "'0x10' is not a number"),
    ("1e", "'1e' is not a number"),
    ("1 2", "'1 2' is not a number"),
], ids=["1e39", "-3.5e38", "1e400", "inf", "-Infinity", "nan", "question-mark", "empty",
        "underscore", "arabic-indic", "fullwidth", "hex", "bare-exponent", "space"])
def test_a_value_the_model_cannot_read_is_named_by_file_line_and_channel(tmp_path, value,
                                                                         message):
    path = tmp_path / "bad.ts"
    path.write_text(HEADER + "1,2,3:4,5,6:b\n" + f"7,8,9:1,{value},3:a\n", encoding="utf-8")
    with pytest.raises(DataError) as error:
        tsd.read_ts(path)
    assert str(error.value).startswith(f"{path}:11: channel 2: ")
    assert message in str(error.value) and str(error.value).endswith("(step 2)")


def test_every_number_the_format_writes_is_read_exactly(tmp_path):
    path = tmp_path / "good.ts"
    values = ["+7.", ".5", "-0", "1E-3", "3.4028235e38", "-3.4028235e+38", "1e-50", "0012"]
    path.write_text(HEADER + f"{','.join(values)}:{','.join(['1'] * 8)}:a\n")
    read = tsd.read_ts(path)
    np.testing.assert_array_equal(read.series[0][:, 0], np.asarray(
        [float(v) for v in values], np.float64).astype(np.float32))
    assert np.isfinite(read.series[0]).all()


@pytest.mark.parametrize("value", ["٣", "1_0", "+2", "2.0"])
def test_dimensions_must_be_ascii_digits(tmp_path, value):
    path = tmp_path / "bad.ts"
    path.write_text(HEADER.replace("@dimensions 2", f"@dimensions {value}") + "1:2:a\n")
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))}:6: @dimensions must be a "
                                        "whole number"):
        tsd.read_ts(path)


@pytest.mark.parametrize("body", ["?,?:1,2:a\n", "1,2:?:a\n", ":1,2:a\n"])
def test_a_case_with_no_steps_is_named(tmp_path, body):
    path = tmp_path / "empty.ts"
    path.write_text(HEADER + body)
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))}:10: channel \d has no values "
                                        r"\(a series needs at least one step\)"):
        tsd.read_ts(path)


def test_a_series_longer_than_the_limit_is_named_with_the_limit_and_the_flag(tmp_path, rng):
    path = tmp_path / "long.ts"
    path.write_text(ts_text([(rng.normal(size=(3, 2)), "a"), (rng.normal(size=(6, 2)), "b")]))
    assert [len(s) for s in tsd.read_ts(path, max_length=6).series] == [3, 6]
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))}:11: channel 1 has 6 steps, "
                                        r"more than the limit of 5 \(--max_series_length"):
        tsd.read_ts(path, max_length=5)


def test_batches_are_padded_to_their_own_longest_series(tmp_path, rng):
    """A split is held unpadded: one long series does not pad every batch (or the split)."""
    train = [(rng.normal(size=(n, 2)), "abc"[i % 3]) for i, n in enumerate([2] * 11 + [50])]
    series = [x.astype(np.float32) for x, _ in train]
    data = tsd.make_data("toy", (series, np.arange(12) % 3), (series[:3], np.zeros(3, np.int32)),
                         ["a", "b", "c"], {}, 0.25)
    shapes = [(x["series"].shape, x["padding_mask"].numpy().sum(1).tolist())
              for x, _ in data.batches("test", 2)]
    assert shapes == [((2, 2, 2), [2, 2]), ((1, 2, 2), [2])]
    batches = list(data.batches("train", 4)) + list(data.batches("validation", 4))
    for x, _ in batches:
        assert x["series"].shape[1] == x["padding_mask"].numpy().sum(1).max()
    assert max(x["series"].shape[1] for x, _ in batches) == 50
    got = np.concatenate([x["series"].numpy()[x["padding_mask"].numpy()] for x, _ in batches])
    np.testing.assert_array_equal(got, np.concatenate(data.cases["train"][0]
                                                      + data.cases["validation"][0]))


def test_a_test_value_that_overflows_on_standardisation_is_named(tmp_path, rng):
    folder = tmp_path / "toy"
    folder.mkdir()
    small = [(x / 10, label) for x, label in toy_cases(12, rng)]  # standard deviations < 1
    (folder / "Toy_TRAIN.ts").write_text(ts_text(small))
    (folder / "Toy_TEST.ts").write_text(ts_text(small[:2]) + "3e38,1:1,2:b\n")
    with pytest.raises(DataError, match=rf"^{re.escape(str(folder / 'Toy_TEST.ts'))}:12: "
                                        r"channel 1: 3e\+38 is not finite once standardised"):
        tsd.load_time_series(tsd.OWN_FILES, str(folder))


# ------------------------------------------------------------------ byte-order marks

def test_a_byte_order_mark_is_skipped_by_every_text_reader(tmp_path, rng):
    text = ts_text(toy_cases(3, rng))
    (tmp_path / "plain.ts").write_text(text)
    (tmp_path / "bom.ts").write_bytes(BOM + text.encode())
    plain, marked = tsd.read_ts(tmp_path / "plain.ts"), tsd.read_ts(tmp_path / "bom.ts")
    assert marked.problem == plain.problem == "Toy"
    for a, b in zip(marked.series, plain.series):
        np.testing.assert_array_equal(a, b)

    (tmp_path / "groups.csv").write_bytes(BOM + b"group,case\nm1,1\nm2,2\n")
    assert tsd.read_groups(tmp_path / "groups.csv", "group", 2) == ["m1", "m2"]

    corpus = "the cat sat\nthe dog sat\n"
    for folder, prefix in (("plain", b""), ("bom", BOM)):
        for split in language_model_data.SPLITS:
            (tmp_path / folder / "ptb").mkdir(parents=True, exist_ok=True)
            (tmp_path / folder / "ptb" / f"ptb.{split}.txt").write_bytes(prefix + corpus.encode())
    without = language_model_data.load_corpus("ptb", tmp_path / "plain")
    with_bom = language_model_data.load_corpus("ptb", tmp_path / "bom")
    assert with_bom.vocabulary.tokens == without.vocabulary.tokens
    for split in language_model_data.SPLITS:
        np.testing.assert_array_equal(with_bom.splits[split], without.splits[split])
    assert with_bom.mapped_to_unk == without.mapped_to_unk

    rows = '"1","a","b"\n"2","c","d"\n'
    (tmp_path / "plain.csv").write_text(rows)
    (tmp_path / "bom.csv").write_bytes(BOM + rows.encode())
    ag_news = classification_data.get_dataset("ag_news")
    assert list(classification_data.read_rows(str(tmp_path / "bom.csv"), ag_news)) == list(
        classification_data.read_rows(str(tmp_path / "plain.csv"), ag_news))
    (tmp_path / "classes.txt").write_bytes(BOM + "\n".join(ag_news.classes).encode())
    assert classification_data.read_classes(tmp_path / "classes.txt", ag_news) == list(
        ag_news.classes)

    (tmp_path / "vectors.txt").write_bytes(BOM + b"the 0.5 1.5\ncat 2 3\n")
    vectors = word_vectors.read_glove_text(tmp_path / "vectors.txt")
    assert sorted(vectors) == ["cat", "the"]
    np.testing.assert_array_equal(vectors["the"], [0.5, 1.5])


# ------------------------------------------------------------------ groups

@pytest.mark.parametrize("text, line, message", [
    ("group,case,group\nm1,1,x\nm2,2,y\n", 1,
     "the header names column 'group' (--group_column) 2 times (columns 1, 3)"),
    ('case,group\n1,m1\n2,"m\n2"\n3,m3\n', 3, "the group 'm\\n2' in column 'group' holds the "
                                               "control character '\\n'"),
    ('case,group\n1,"a\nb"\n2,"m\r2"\n3,m3\n', 2, "holds the control character '\\n'"),
    ("case,group\n1,m1\n2,m\t2\n3,m3\n", 3, "the control character '\\t'"),
    ("case,group\n1,m1\n2,m\x002\n3,m3\n", 3, "the control character '\\x00'"),
    ("case,group\n1,m1\n2,m\u20282\n3,m3\n", 3, "the control character '\\u2028'"),
], ids=["doubled-column", "newline", "newline-first", "tab", "nul", "line-separator"])
def test_a_doubled_group_column_or_a_group_name_with_a_control_character_is_named(
        tmp_path, text, line, message):
    path = tmp_path / "groups.csv"
    path.write_bytes(text.encode())
    with pytest.raises(DataError) as error:
        tsd.read_groups(path, "group", 3)
    assert str(error.value).startswith(f"{path}:{line}: ") and message in str(error.value)


def test_cv_refuses_a_group_name_with_a_line_break_before_training(tool, toy_dir, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    config = time_series.TimeSeriesConfig(model="rkm_lstm", dataset=tsd.OWN_FILES,
                                          model_dir=str(run), data_dir=str(toy_dir))
    (run / "config.json").write_text(json.dumps(dataclasses.asdict(config)))
    groups = toy_dir / "groups.csv"
    lines = groups.read_text().splitlines()
    lines[5] = '4,"mouse\n0"'
    groups.write_text("\n".join(lines) + "\n")
    cv_dir = tmp_path / "cv"
    error_line(tool("evaluate", "--cv=leave_one_group_out", f"--model_dir={run}",
                    f"--groups={groups}", "--group_column=animal", f"--cv_dir={cv_dir}"),
               f"{groups}:6: ", "control character")
    assert not cv_dir.exists()


def test_a_stratified_cross_validation_killed_mid_fold_resumes_to_the_same_result(
        tool, toy_dir, tmp_path):
    """SIGKILL inside the second fold: the same command reads the first fold back, resumes the
    second from its checkpoint and ends with the report of a run never killed."""
    run = recipe_run(tmp_path / "recipe", toy_dir, max_steps=20, deterministic=True)
    args = ["--cv=stratified_kfold", "--folds=2", f"--model_dir={run}", "--json"]
    whole = tool("evaluate", *args, f"--cv_dir={tmp_path / 'whole'}")
    assert whole.returncode == 0, whole.stderr[-3000:]
    cv_dir = tmp_path / "killed"
    killed = subprocess.Popen([sys.executable, str(TOOLS / "evaluate.py"), *args,
                               f"--cv_dir={cv_dir}"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env=ENV)
    try:
        latest = cv_dir / "fold_01_of_2" / "checkpoints" / "latest"
        deadline = time.time() + 240
        while not latest.exists() and killed.poll() is None and time.time() < deadline:
            time.sleep(0.02)
    finally:
        killed.kill()
        killed.wait()
    assert latest.exists() and not (cv_dir / "fold_01_of_2" / "metrics.json").exists(), \
        "killed outside the second fold"
    resumed = tool("evaluate", *args, f"--cv_dir={cv_dir}")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "fold 0 (fold 1 of 2): finished before, read back" in resumed.stderr
    assert "resuming from" in resumed.stderr

    def result(report):
        return [{k: v for k, v in fold.items() if k != "model_dir"} for fold in report["folds"]]

    assert result(json.loads(resumed.stdout)) == result(json.loads(whole.stdout))


# ------------------------------------------------------------------ the tools

def _spoil(path, value):
    """The .ts file with its first case's third value of channel 2 replaced by `value`; the
    line it is on."""
    lines = path.read_text().splitlines()
    number = lines.index("@data") + 2
    channels = lines[number - 1].split(":")
    values = channels[1].split(",")
    values[2] = value
    channels[1] = ",".join(values)
    lines[number - 1] = ":".join(channels)
    path.write_text("\n".join(lines) + "\n")
    return number


@pytest.mark.parametrize("value, message", [
    ("1e39", "1e39 does not fit float32"), ("1_000", "'1_000' is not a number"),
    ("nan", "a missing value inside the series"), ("inf", "not finite (inf)")])
def test_the_tools_refuse_a_bad_value_with_its_file_and_line(tool, toy_dir, tmp_path, value,
                                                             message):
    line = _spoil(toy_dir / "Toy_TRAIN.ts", value)
    where = f"{toy_dir / 'Toy_TRAIN.ts'}:{line}: channel 2: "
    before = tree(tmp_path)
    described = tool("data", "--dataset=ts_files", f"--data_dir={toy_dir}", "--json")
    error_line(described, where, message, "(step 3)")
    assert described.stdout == ""  # no report, and never Infinity or NaN in JSON
    run = tmp_path / "run"
    error_line(tool("train", "--model=rkm_lstm", "--dataset=ts_files", f"--data_dir={toy_dir}",
                    f"--model_dir={run}", "--units=4", "--max_steps=1"), where, message)
    assert not run.exists() and tree(tmp_path) == before


def test_data_describes_valid_json_and_the_length_limit_is_a_flag(tool, toy_dir):
    described = tool("data", "--dataset=ts_files", f"--data_dir={toy_dir}", "--json")
    assert described.returncode == 0, described.stderr[-3000:]
    json.loads(described.stdout, parse_constant=pytest.fail)  # no Infinity, no NaN
    error_line(tool("data", "--dataset=ts_files", f"--data_dir={toy_dir}",
                    "--max_series_length=2"), "Toy_TRAIN.ts:10: channel 1 has ",
               "more than the limit of 2 (--max_series_length raises it")
    error_line(tool("train", "--model=rkm_lstm", "--dataset=ts_files", f"--data_dir={toy_dir}",
                    "--max_series_length=2", "--max_steps=1"), "Toy_TRAIN.ts:10: ",
               "the limit of 2")
    error_line(tool("data", "--dataset=ptb", "--max_series_length=2"),
               "--max_series_length applies to time series")


# ------------------------------------------------------------------ the classifier

@pytest.fixture(scope="module")
def classifier():
    return build_time_series_classifier(2, 3, "rkm_lstm", mean=[1.0, -1.0], std=[0.5, 2.0],
                                        units=4, ngram=3, hidden_dim=5, class_names=list("abc"))


@pytest.fixture(scope="module")
def exported(classifier, tmp_path_factory):
    return tf.saved_model.load(serving.export_saved_model(
        classifier, str(tmp_path_factory.mktemp("export") / "saved")))


def _series():
    return np.random.default_rng(0).normal(size=(4, 6, 2)).astype(np.float32)


@pytest.mark.parametrize("value, message", [
    (np.nan, "nan is not finite"), (np.inf, "inf is not finite"),
    (-np.inf, "-inf is not finite"),
    (3e38, "3e+38 is not finite once standardised (mean 1, standard deviation 0.5)"),
])
@CLASSIFIER
def test_a_non_finite_series_is_named_by_python_and_refused_by_the_savedmodel(
        classifier, exported, value, message):
    values = _series()
    values[2, 4, 0] = value
    expected = f"series 2: step 4, channel 0: {message}"
    for call in (lambda: classifier.probabilities(list(values)),
                 lambda: classifier.classify(list(values)),
                 lambda: classifier.predict(values, verbose=0),
                 lambda: classifier.predict(list(values), verbose=0),
                 lambda: classifier.predict({"series": values,
                                             "padding_mask": np.ones([4, 6], bool)}, verbose=0)):
        with pytest.raises(ValueError, match=re.escape(expected)):
            call()
    for name, inputs in (("serving_default", {}),
                         (serving.WITH_LENGTHS, {"lengths": tf.constant([6, 6, 6, 6])})):
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=r"not finite once standardised.*series \(index\):\] \[2\]"):
            exported.signatures[name](series=tf.constant(values), **inputs)
    # A padded step is never read: anything there is answered.
    lengths = np.array([6, 6, 4, 6])
    got = exported.signatures[serving.WITH_LENGTHS](series=tf.constant(values),
                                                    lengths=tf.constant(lengths, tf.int32))
    series = [v[:n] for v, n in zip(values, lengths)]
    np.testing.assert_allclose(got["probabilities"].numpy(), classifier.probabilities(series),
                               atol=1e-6)
    np.testing.assert_allclose(classifier.as_probabilities(
        classifier.predict(values, lengths=lengths, verbose=0)),
        classifier.probabilities(series), atol=1e-6)


@CLASSIFIER
def test_no_steps_or_lengths_out_of_range_get_a_clear_error(classifier, exported):
    values = _series()
    serve, with_lengths = exported.signatures["serving_default"], \
        exported.signatures[serving.WITH_LENGTHS]
    for shape in ([2, 0, 2], [0, 3, 2]):
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=rf"series of shape\] \[{' '.join(map(str, shape))}\].*a request "
                                 "needs at least one series of at least one step"):
            serve(series=tf.zeros(shape))
    for lengths in ([6, 0, 6, 6], [6, 6, 7, 6]):
        bad = next(i for i, n in enumerate(lengths) if not 1 <= n <= 6)
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=rf"lengths must be in \[1, time\].*out of range:\] \[{bad}\] "
                                 rf"\[their lengths:\] \[{lengths[bad]}\]"):
            with_lengths(series=tf.constant(values), lengths=tf.constant(lengths))
    with pytest.raises(ValueError, match="the series have no steps"):
        classifier.predict(np.zeros([2, 0, 2], np.float32))
    with pytest.raises(ValueError, match=r"series 1: length 0, not in \[1, 6\]"):
        classifier.predict(values, lengths=[6, 0, 6, 6])
    with pytest.raises(ValueError, match="series 1 has no steps"):
        classifier.probabilities([values[0], values[1, :0]])
    with pytest.raises(ValueError, match=r"series 0 has shape \(6, 3\); expected \[length, 2\]"):
        classifier.predict([np.zeros([6, 3])])


@CLASSIFIER
def test_predict_takes_raw_series_as_classify_does(classifier):
    values = _series()
    series = [values[0], values[1, :3], values[2, :1]]
    expected = classifier.probabilities(series)
    # The model's outputs are logits here (activation None), as keras.Model.predict gives.
    np.testing.assert_allclose(classifier.as_probabilities(
        classifier.predict(series, batch_size=2, verbose=0)), expected, atol=1e-6)
    np.testing.assert_allclose(
        classifier.as_probabilities(classifier.predict(values, verbose=0)),
        classifier.probabilities(list(values)), atol=1e-6)
    np.testing.assert_allclose(classifier.predict(
        {"series": values, "padding_mask": np.ones([4, 6], bool)}, verbose=0),
        classifier.predict(values, verbose=0), atol=1e-6)


@CLASSIFIER
def test_predict_takes_keras_arguments_in_keras_order_and_lengths_only_by_name(classifier,
                                                                              capsys):
    values = _series()
    capsys.readouterr()
    # keras.Model.predict(x, batch_size, verbose, steps, callbacks): 0 is verbose, not lengths.
    np.testing.assert_allclose(classifier.predict(values, 2, 0, None, []),
                               classifier.predict(values, verbose=0), atol=1e-6)
    assert capsys.readouterr().out == ""
    with pytest.raises(TypeError):
        classifier.predict(values, 2, 0, None, [], [6, 6, 6, 6])
    mask = np.arange(6) < np.array([[6], [3], [1], [6]])
    with pytest.raises(ValueError, match="the input's padding_mask gives each series' steps"):
        classifier.predict({"series": values, "padding_mask": mask}, lengths=[6, 3, 1, 6])
    np.testing.assert_allclose(
        classifier.predict({"series": values, "padding_mask": mask}, verbose=0),
        classifier.predict(values, lengths=np.array([6, 3, 1, 6]), verbose=0), atol=1e-6)


def test_evaluate_names_the_line_of_a_value_the_models_statistics_overflow(tool, tmp_path, rng):
    """The data's own statistics keep 3e38 finite (its values are ~1e37); a zoo entry's
    (standard deviations below 1) do not: refused at its line, not answered."""
    name = zoo.names(task=zoo.TIME_SERIES)[0]
    header = ("@problemName Big\n@timeStamps false\n@missing false\n@univariate false\n"
              "@dimensions 12\n@equalLength false\n@classLabel true 1 2 3 4 5 6 7 8 9\n@data\n")
    cases = [(rng.normal(0, 1e37, size=(5, 12)), str(1 + i % 9)) for i in range(18)]
    folder = tmp_path / "big"
    folder.mkdir()
    (folder / "Big_TRAIN.ts").write_text(ts_text(cases, header).replace(".000000", ""))
    test = ts_text(cases[:3], header).replace(".000000", "") + ",".join(["3e38"] * 5) + (
        ":" + ",".join(["1"] * 5)) * 11 + ":2\n"
    (folder / "Big_TEST.ts").write_text(test)
    error_line(tool("evaluate", f"--zoo={name}", "--dataset=ts_files", f"--data_dir={folder}"),
               f"{folder / 'Big_TEST.ts'}:12: channel 1: 3e+38 is not finite once standardised "
               "with the model's statistics")


def test_a_nan_in_a_real_japanese_vowels_case_is_refused_not_answered(tmp_path):
    from kasm_keras.models.time_series_classifier import family as zoo_time_series

    name = zoo.names(task=zoo.TIME_SERIES)[0]
    classifier = zoo.load(name)
    _, series, _ = zoo_time_series.split_cases("japanese_vowels", "test",
                                               real_time_series_data(), str(tmp_path))
    series = [s.copy() for s in series[:8]]
    answered = classifier.predict(series, verbose=0)
    assert np.isfinite(answered).all()
    series[5][3, 7] = np.nan
    with pytest.raises(ValueError, match="^series 5: step 3, channel 7: nan is not finite"):
        classifier.probabilities(series)
    exported = tf.saved_model.load(serving.export_saved_model(classifier, str(tmp_path / "x")))
    values, lengths = tsd.pad(series)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"series \(index\):\] \[5\]"):
        exported.signatures[serving.WITH_LENGTHS](series=tf.constant(values),
                                                  lengths=tf.constant(lengths))
