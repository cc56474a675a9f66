"""Multichannel time series (the paper's Table 4 task on public data): the .ts reader and its
errors, the sktime wheel's download, standardisation fitted on train only, leave-one-group-out
folds that never mix a group, stratified folds (even per class, disjoint, covering, seeded), a
final fit for the cross-validation's median best epoch that reads the test file once, at the
end, tools/train.py's dispatch, a tiny run through train, evaluate
(--cv too) and export (the SavedModel matching Keras on float input), and the zoo's entries."""

import dataclasses
import hashlib
import io
import json
import os
import pathlib
import re
import shutil
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf
from absl import flags

from kasm_keras import paper, zoo
from kasm_keras.data import time_series_data as tsd
from kasm_keras.data.classification_data import DataError
from kasm_keras.models.time_series_classifier import (
    TimeSeriesClassifier, build_time_series_classifier)
from kasm_keras.models.time_series_classifier import serving
from kasm_keras.training import language_model, time_series
from kasm_keras.utils.download import DownloadError
from kasm_keras.models.time_series_classifier import family as zoo_time_series
from tests.conftest import real_time_series_data
from tests.test_faults_tools import error_line, run_tool, tree

HEADER = ("# a comment\n@problemName Toy\n@timeStamps false\n@missing false\n@univariate false\n"
          "@dimensions 2\n@equalLength false\n@classLabel true a b c\n@data\n")


def ts_text(cases, header=HEADER):
    """A .ts file's text: `cases` are (array [length, channels], label)."""
    lines = [":".join(",".join(f"{v:.6f}" for v in channel) for channel in np.asarray(x).T)
             + f":{label}" for x, label in cases]
    return header + "\n".join(lines) + "\n"


def toy_cases(count, rng, offset=0.0, lengths=(3, 9)):
    """Series whose class shows in their mean: learnable in a few steps."""
    cases = []
    for i in range(count):
        label = "abc"[i % 3]
        x = rng.normal(offset + 2.0 * "abc".index(label), 0.3, size=(rng.integers(*lengths), 2))
        cases.append((x, label))
    return cases


@pytest.fixture
def toy_dir(tmp_path, rng):
    """A user's own data set: Toy_TRAIN.ts (36 cases), Toy_TEST.ts (12), groups.csv (2 groups)."""
    folder = tmp_path / "toy"
    folder.mkdir()
    (folder / "Toy_TRAIN.ts").write_text(ts_text(toy_cases(36, rng)))
    (folder / "Toy_TEST.ts").write_text(ts_text(toy_cases(12, rng)))
    (folder / "groups.csv").write_text("case,animal\n" + "".join(
        f"{i},{'mouse ' + str(i // 18)}\n" for i in range(36)))
    return folder


# ------------------------------------------------------------------ the reader

def test_read_ts_takes_unequal_lengths_comments_and_trailing_padding(tmp_path):
    path = tmp_path / "x.ts"
    path.write_text(HEADER.replace("@data", "# another comment\n@data") +
                    "1,2,3:4,5,6:b\n\n0.5,?,?:7,NaN,nan:a\r\n1e-3,2:-3,4:c\n")
    read = tsd.read_ts(path)
    assert read.classes == ["a", "b", "c"] and read.problem == "Toy" and read.channels == 2
    assert [s.shape for s in read.series] == [(3, 2), (1, 2), (2, 2)]
    np.testing.assert_array_equal(read.series[0], [[1, 4], [2, 5], [3, 6]])
    np.testing.assert_array_equal(read.labels, [1, 0, 2])
    np.testing.assert_array_equal(read.lines, [11, 13, 14])
    assert read.series[0].dtype == np.float32


@pytest.mark.parametrize("body, line, message", [
    ("1,2:3,4:b\n1,2:a\n", 11, "1 channels, expected 2 (@dimensions)"),
    ("1,2:3,4:d\n", 10, "class 'd' is not one of @classLabel's (a b c)"),
    ("1,x:3,4:a\n", 10, "channel 1: 'x' is not a number"),
    ("1,?,3:3,4,5:a\n", 10, "channel 1: a missing value inside the series"),
    ("1,2,3:3,4:a\n", 10, "the channels differ in length (3, 2 values)"),
    ("1,inf:3,4:a\n", 10, "channel 1: a value that is not finite (inf)"),
    (":3,4:a\n", 10, "channel 1 has no values"),
    ("1,2\n", 10, "no class label"),
    ("1,2:3,4:a\n@classLabel true a\n", 11, "a header line after @data"),
])
def test_a_malformed_case_is_named_by_file_and_line(tmp_path, body, line, message):
    path = tmp_path / "bad.ts"
    path.write_text(HEADER + body)
    with pytest.raises(DataError) as error:
        tsd.read_ts(path)
    assert str(error.value).startswith(f"{path}:{line}: ") and message in str(error.value)


@pytest.mark.parametrize("header, message", [
    ("@timeStamps true\n@classLabel true a\n@data\n", ":1: time-stamped series"),
    ("@targetLabel true\n@data\n", ":1: regression targets"),
    ("@data\n1:a\n", ":1: @data before @classLabel"),
    ("@classLabel false\n@data\n", ":1: @classLabel false"),
    ("@dimensions two\n", ":1: @dimensions must be a whole number"),
    ("@classLabel true a a\n", ":1: @classLabel names a class twice"),
    ("1,2:a\n", ":1: a case before @data"),
    ("@classLabel true a\n", ": no @data line"),
    ("@classLabel true a\n@data\n", ": no cases after @data"),
])
def test_a_malformed_header_is_named(tmp_path, header, message):
    path = tmp_path / "bad.ts"
    path.write_text(header)
    with pytest.raises(DataError, match=f"^{path}{message}"):
        tsd.read_ts(path)


def test_files_that_disagree_or_are_missing_are_named(tmp_path, rng):
    folder = tmp_path / "pair"
    folder.mkdir()
    (folder / "P_TRAIN.ts").write_text(ts_text(toy_cases(3, rng)))
    (folder / "P_TEST.ts").write_text(ts_text(toy_cases(2, rng), HEADER.replace("a b c", "a b")))
    with pytest.raises(DataError, match=r"P_TEST.ts names the classes a b, .*P_TRAIN.ts a b c"):
        tsd.load_time_series(tsd.OWN_FILES, str(folder))
    with pytest.raises(DataError, match="no JapaneseVowels .ts files and no sktime-1.2.0-py3-none-"
                                        "any.whl; .* pip download sktime==1.2.0"):
        tsd.load_time_series("japanese_vowels", str(tmp_path))
    with pytest.raises(DataError, match=r"\*_TRAIN.ts files found: none"):
        tsd.locate(tsd.OWN_FILES, str(tmp_path))
    # A file of another data set under a known name is refused by its counts.
    (folder / "P_TEST.ts").write_text(ts_text(toy_cases(3, rng)))
    for split in ("TRAIN", "TEST"):
        (folder / f"JapaneseVowels_{split}.ts").write_text(ts_text(toy_cases(3, rng)))
    with pytest.raises(DataError, match="3 cases of 2 channels in 3 classes, but JapaneseVowels"):
        tsd.load_time_series("japanese_vowels", str(folder))


# ------------------------------------------------------------------ the sktime wheel

def _fake_wheel(monkeypatch, server, corrupt=False):
    """A wheel holding small .ts files at the real member paths, served from 127.0.0.1; the
    pinned address and digests point at it for the test."""
    files, digests = {}, {}
    for dataset in tsd.DATASETS.values():
        for split in tsd.SPLITS:
            member = f"{tsd.SKTIME_WHEEL['folder']}/{dataset.problem}/" \
                     f"{dataset.problem}_{split.upper()}.ts"
            files[member] = f"{dataset.problem} {split}\n".encode()
            digests.setdefault(dataset.name, {})[split] = hashlib.sha256(files[member]).hexdigest()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("sktime/__init__.py", "")
        for member, data in files.items():
            archive.writestr(member, b"tampered" if corrupt and "TEST" in member else data)
    wheel = buffer.getvalue()
    server.files["/sktime.whl"] = wheel
    monkeypatch.setitem(tsd.SKTIME_WHEEL, "url", server.url("/sktime.whl"))
    monkeypatch.setitem(tsd.SKTIME_WHEEL, "checksum",
                        "sha256:" + hashlib.sha256(wheel).hexdigest())
    for name, dataset in tsd.DATASETS.items():
        monkeypatch.setitem(tsd.DATASETS, name, tsd.TimeSeriesDataset(
            dataset.name, dataset.problem, dataset.channels, dataset.classes, dataset.cases,
            digests[name]))
    return files


def test_the_wheel_downloads_verified_and_only_its_ts_files_are_extracted(
        monkeypatch, server, tmp_path):
    files = _fake_wheel(monkeypatch, server)
    paths = tsd.locate("japanese_vowels", cache_dir=str(tmp_path))
    assert pathlib.Path(paths["train"]).read_bytes() == b"JapaneseVowels train\n"
    extracted = tree(tmp_path / "time_series")
    assert sorted(p for p, digest in extracted.items() if digest) == sorted(
        f"sktime-1.2.0/{m.split('/', 3)[3]}" for m in files)  # no sktime/__init__.py
    tsd.locate("basic_motions", cache_dir=str(tmp_path))
    assert server.requests == ["/sktime.whl"]  # once: the extracted folder is found after


def test_the_pinned_wheels_size_is_its_downloads_cap():
    wheel = pathlib.Path(real_time_series_data(), tsd.SKTIME_WHEEL["file"])
    if not wheel.exists():
        pytest.skip("$KASM_KERAS_TIME_SERIES_DATA holds .ts files, not the wheel")
    body = wheel.read_bytes()
    assert "sha256:" + hashlib.sha256(body).hexdigest() == tsd.SKTIME_WHEEL["checksum"]
    assert len(body) == tsd.SKTIME_WHEEL["bytes"]


def test_a_wheel_that_fails_its_digests_leaves_nothing(monkeypatch, server, tmp_path):
    _fake_wheel(monkeypatch, server, corrupt=True)
    with pytest.raises(DataError, match="JapaneseVowels_TEST.ts differs from the recorded"):
        tsd.locate("japanese_vowels", cache_dir=str(tmp_path))
    assert tree(tmp_path / "time_series") == {}
    server.files["/sktime.whl"] += b"!"  # now the wheel itself fails its sha256
    (tmp_path / "downloads" / tsd.SKTIME_WHEEL["file"]).unlink()
    with pytest.raises(DownloadError, match="checksum mismatch"):
        tsd.locate("japanese_vowels", cache_dir=str(tmp_path / "other"))
    assert tree(tmp_path / "other") in ({}, {"downloads": None})
    # A local copy of another wheel under the pinned name is refused by its sha256 too.
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / tsd.SKTIME_WHEEL["file"]).write_bytes(b"not a wheel")
    with pytest.raises(DataError, match="not the pinned sktime 1.2.0 wheel"):
        tsd.locate("japanese_vowels", str(tmp_path / "copy"), cache_dir=str(tmp_path / "c2"))


# ------------------------------------------------------------------ splits, statistics, folds

def test_standardisation_is_fitted_on_the_training_cases_only(toy_dir, rng):
    train = tsd.read_ts(toy_dir / "Toy_TRAIN.ts")
    test = [(x * 100 + 50, label) for x, label in toy_cases(12, rng)]
    data = tsd.make_data("toy", (train.series, train.labels),
                         ([x for x, _ in test], np.zeros(12, np.int32)), train.classes, {}, 0.25)
    held = tsd.validation_indices(train.labels, 0.25, 0)
    kept = [s for i, s in enumerate(train.series) if i not in set(held)]
    steps = np.concatenate(kept).astype(np.float64)
    np.testing.assert_allclose(data.mean, steps.mean(0), rtol=1e-6)
    np.testing.assert_allclose(data.std, steps.std(0), rtol=1e-6)
    # Stratified, disjoint and the same every time; another seed holds out other cases.
    assert data.split_sizes() == {"train": 27, "validation": 9, "test": 12}
    assert np.bincount(train.labels[held]).tolist() == [3, 3, 3]
    np.testing.assert_array_equal(held, tsd.validation_indices(train.labels, 0.25, 0))
    assert held.tolist() != tsd.validation_indices(train.labels, 0.25, 1).tolist()
    # The model built by the task holds these statistics, untouched by training.
    model = build_time_series_classifier(2, 3, "rkm_cifg", data.mean, data.std, units=4)
    layer = model.backbone.standardization
    assert not layer.trainable_weights
    np.testing.assert_array_equal(layer.mean.numpy(), data.mean)
    constant = tsd.channel_statistics([np.ones([5, 2]) * [3.0, 1e6]])
    np.testing.assert_array_equal(constant[1], [1.0, 1.0])  # centred, not scaled


def test_leave_one_group_out_never_mixes_a_group(tmp_path):
    groups = ["m2", "m1", "m2", "m3", "m1", "m1", "m3", "m2"]
    folds = tsd.leave_one_group_out(groups)
    assert [g for g, _, _ in folds] == ["m1", "m2", "m3"]
    for group, train, test in folds:
        assert {groups[i] for i in test} == {group}
        assert group not in {groups[i] for i in train}
        assert sorted(np.concatenate([train, test]).tolist()) == list(range(len(groups)))
    path = tmp_path / "g.csv"
    for text, message in [
        ("case,animal\n1,m1\n", "no column 'group' (--group_column) in the header; its columns: "
                                "case, animal"),
        ("case,group\n1,m1\n2\n", ":3: 1 fields, the header has 2"),
        ("case,group\n1,m1\n2, \n", ":3: no group in column 'group'"),
        ("case,group\n1,m1\n2,m1\n", "every case is in group 'm1'"),
        ("case,group\n1,m1\n", "1 rows of groups for 2 cases"),
    ]:
        path.write_text(text)
        with pytest.raises(DataError, match=f"^{re.escape(str(path))}.*{re.escape(message)}"):
            tsd.read_groups(path, "group", 2)


def test_stratified_folds_are_stratified_disjoint_cover_the_training_split_and_seeded():
    rng = np.random.default_rng(3)
    labels = rng.permutation(np.repeat(["a", "b", "c"], [7, 5, 11]))
    folds = tsd.stratified_folds(labels, 5, seed=0)
    assert [name for name, _, _ in folds] == [f"fold {i} of 5" for i in range(1, 6)]
    tests = [test for _, _, test in folds]
    assert sorted(np.concatenate(tests).tolist()) == list(range(len(labels)))  # each once
    for _, train, test in folds:
        assert sorted(np.concatenate([train, test]).tolist()) == list(range(len(labels)))
    for label in "abc":  # every class spread over the folds as evenly as it can be
        counts = [int((labels[test] == label).sum()) for test in tests]
        assert max(counts) - min(counts) <= 1
    sizes = [len(test) for test in tests]
    assert max(sizes) - min(sizes) <= 1
    again = tsd.stratified_folds(labels, 5, seed=0)
    assert all(np.array_equal(a[2], b[2]) for a, b in zip(folds, again))
    other = tsd.stratified_folds(labels, 5, seed=1)
    assert not all(np.array_equal(a[2], b[2]) for a, b in zip(folds, other))
    with pytest.raises(DataError, match="^stratified k-fold needs at least 2 folds, got 1$"):
        tsd.stratified_folds(labels, 1, seed=0)
    with pytest.raises(DataError, match="^class b has 5 training cases, fewer than the 6 folds"):
        tsd.stratified_folds(labels, 6, seed=0)
    # JapaneseVowels' 270 training cases, 30 of each of 9 speakers: 54 cases, 6 of each, a fold.
    train = tsd.read_files("japanese_vowels", tsd.locate(
        "japanese_vowels", real_time_series_data(), splits=("train",)))["train"]
    for _, _, test in tsd.stratified_folds(train.labels, 5, seed=0):
        assert np.bincount(train.labels[test]).tolist() == [6] * 9


def recipe_run(folder, toy_dir, **settings):
    """A run folder holding only a tiny recipe's config.json: what --cv cross-validates."""
    folder.mkdir()
    config = time_series.TimeSeriesConfig(
        model="rkm_lstm", dataset=tsd.OWN_FILES, model_dir=str(folder), data_dir=str(toy_dir),
        units=4, batch_size=8, eval_every=3, log_every=3, validation_fraction=0.25, **settings)
    (folder / "config.json").write_text(json.dumps(dataclasses.asdict(config)))
    return folder


def test_a_final_fit_trains_for_the_cv_median_and_reads_the_test_file_once_at_the_end(
        tool, toy_dir, tmp_path, monkeypatch):
    run = recipe_run(tmp_path / "recipe", toy_dir, max_steps=6)
    cv_dir = tmp_path / "cv"
    result = tool("evaluate", "--cv=stratified_kfold", "--folds=3", f"--model_dir={run}",
                  f"--cv_dir={cv_dir}", "--seed=4", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["fold_seed"] == 4  # --seed in place of the recipe's
    assert [f["fold"] for f in report["folds"]] == ["fold 1 of 3", "fold 2 of 3", "fold 3 of 3"]
    assert [f["test_cases"] for f in report["folds"]] == [12, 12, 12]
    assert report["best_epochs"] == [f["best_step"] / (18 // 8) for f in report["folds"]]
    assert report["median_best_epoch"] == np.median(report["best_epochs"])
    assert pathlib.Path(report["folds"][0]["model_dir"]).name == "fold_00_of_3"
    error_line(tool("evaluate", "--cv=stratified_kfold", f"--model_dir={run}",
                    f"--groups={toy_dir / 'groups.csv'}"),
               "--groups applies to --cv=leave_one_group_out only")
    error_line(tool("evaluate", f"--model_dir={run}", "--seed=4"), "--seed applies to --cv only")

    events = []
    read_ts = tsd.read_ts
    report_of = time_series.TimeSeriesTask.report

    def reading(path, *args, **kwargs):
        events.append(os.path.basename(path))
        return read_ts(path, *args, **kwargs)

    def reporting(self, *args, **kwargs):
        events.append("trained")
        return report_of(self, *args, **kwargs)

    monkeypatch.setattr(tsd, "read_ts", reading)
    monkeypatch.setattr(time_series.TimeSeriesTask, "report", reporting)
    final = tmp_path / "final"
    flags_ = ["--model=rkm_lstm", "--dataset=ts_files", f"--data_dir={toy_dir}", "--units=4",
              "--batch_size=8", "--eval_every=3", "--log_every=3"]
    result = tool("train", *flags_, f"--model_dir={final}", f"--refit_from_cv={cv_dir}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert events.count("Toy_TEST.ts") == 1 and events.index("Toy_TEST.ts") > events.index(
        "trained"), events
    metrics = json.loads((final / "metrics.json").read_text())
    assert metrics["splits"] == {"train": 36, "validation": 0, "test": 12}
    assert metrics["best_step"] == metrics["steps"] == int(np.ceil(
        report["median_best_epoch"] * (36 // 8)))
    assert "test_accuracy" in metrics and "val_loss" not in metrics
    assert metrics["cross_validation"]["mean_accuracy"] == report["mean_accuracy"]
    evaluated = json.loads(tool("evaluate", f"--model_dir={final}", "--json").stdout)
    assert evaluated["accuracy"] == pytest.approx(metrics["test_accuracy"])
    error_line(tool("evaluate", f"--model_dir={final}", "--split=validation"),
               "has no validation cases: it was trained on every training case")
    error_line(tool("evaluate", "--cv=stratified_kfold", f"--model_dir={final}",
                    f"--cv_dir={tmp_path / 'cv_of_final'}"),
               "holds out no validation cases (a final fit's)")
    saved = json.loads((final / "config.json").read_text())
    assert (saved["epochs"], saved["validation_fraction"]) == (report["median_best_epoch"], 0)
    # Published, the entry records the cross-validation that chose it where a validation
    # accuracy would be, and its seeds are ranked by it.
    zoo_dir = tmp_path / "zoo"
    zoo.publish_run(str(final), "toy/rkm_lstm_1gram", data_dir=str(toy_dir),
                    zoo_dir=str(zoo_dir), url="")
    info = zoo.info("toy/rkm_lstm_1gram", str(zoo_dir))
    assert info["val_accuracy"] is None
    assert info["cv_accuracy"] == pytest.approx(100 * report["mean_accuracy"])
    assert info["cross_validation"]["median_best_epoch"] == report["median_best_epoch"]
    assert info["cross_validation"]["fold_count"] == 3
    rows, _ = zoo_time_series.FAMILY.card_measured(info, "one seed")  # the model card's rows
    assert rows[1][0].startswith("cross-validated accuracy (%), mean ± sd over 3 stratified")
    assert not any(row[0].startswith("validation accuracy") for row in rows)
    assert zoo.run_summary(str(final))["cv_accuracy"] == report["mean_accuracy"]
    neither = {**metrics, "cross_validation": None}
    with pytest.raises(zoo.ZooError, match="nothing chose it without the test split"):
        zoo_time_series.FAMILY.publication(str(final), None, neither)
    # Another recipe, or a length of its own, is refused before anything is read.
    error_line(tool("train", *flags_, "--units=5", f"--model_dir={tmp_path / 'other'}",
                    f"--refit_from_cv={cv_dir}"), "cross-validated another recipe (units differ)")
    error_line(tool("train", *flags_, "--max_steps=4", f"--model_dir={tmp_path / 'other'}",
                    f"--refit_from_cv={cv_dir}"), "--max_steps cannot be given with it")
    changed = tmp_path / "changed"
    shutil.copytree(toy_dir, changed)
    with open(changed / "Toy_TRAIN.ts", "a") as f:
        f.write("1,2:3,4:a\n")
    error_line(tool("train", *[f"--data_dir={changed}" if f.startswith("--data_dir") else f
                               for f in flags_], f"--model_dir={tmp_path / 'other'}",
                    f"--refit_from_cv={cv_dir}"),
               f"cross-validated the training file {toy_dir / 'Toy_TRAIN.ts'}, not "
               f"{changed / 'Toy_TRAIN.ts'} (their sha256 differ)")
    assert not (tmp_path / "other").exists()


# ------------------------------------------------------------------ tools/train.py

def _train_flags(*args):
    from kasm_keras.cli import train

    flag_values = flags.FlagValues()
    train.define_flags(flag_values)
    flag_values(["train.py", *args])
    return train.config_from_flags(flag_values)


def test_train_picks_the_task_from_the_dataset_and_refuses_other_tasks_flags():
    config = _train_flags("--model=rkm_lstm", "--ngram=3", "--dataset=japanese_vowels")
    assert isinstance(config, time_series.TimeSeriesConfig)
    assert config.model_dir == os.path.join("runs", "japanese_vowels", "rkm_lstm_3gram")
    assert (config.units, config.precision, config.validation_fraction) == (
        time_series.TimeSeriesConfig.units, "float32", tsd.VALIDATION_FRACTION)
    # The other tasks' settings are what they were before the time series came.
    classifier = _train_flags("--model=rkm_lstm", "--dataset=ag_news")
    assert (classifier.units, classifier.precision, classifier.validation_fraction) == (
        300, "auto", 0.05)
    assert isinstance(_train_flags("--model=lstm", "--dataset=ptb"),
                      language_model.LanguageModelConfig)
    for flag, task in [("--embeddings=none", "document classification"),
                       ("--bptt=5", "a language model"),
                       ("--embedding_dim=5", "document classification and a language model")]:
        with pytest.raises(time_series.TrainingError,
                           match=f"^{flag.split('=')[0]} applies to {task}, not to "
                                 "--dataset=basic_motions$"):
            _train_flags("--model=lstm", "--dataset=basic_motions", flag)
    with pytest.raises(time_series.TrainingError, match="--ngram applies to document "
                                                        "classification and a time-series"):
        _train_flags("--model=lstm", "--dataset=ptb", "--ngram=3")
    with pytest.raises(time_series.TrainingError, match="--dataset=ts_files reads your own"):
        _train_flags("--model=lstm", "--dataset=ts_files")


@pytest.fixture
def tool(monkeypatch, capsys):
    return lambda name, *args: run_tool(name, *args, monkeypatch=monkeypatch, capsys=capsys)


TINY = ["--units=4", "--batch_size=8", "--max_steps=6", "--eval_every=3", "--log_every=3",
        "--validation_fraction=0.25"]


def test_a_tiny_run_trains_evaluates_cross_validates_and_exports(tool, toy_dir, tmp_path, rng):
    run = tmp_path / "run"
    result = tool("train", "--model=rkm_cifg", "--ngram=3", "--dataset=ts_files",
                  f"--data_dir={toy_dir}", f"--model_dir={run}", *TINY)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["task"] == "time_series" and metrics["splits"] == {
        "train": 27, "validation": 9, "test": 12}
    assert metrics["channels"] == 2 and metrics["classes"] == ["a", "b", "c"]
    assert metrics["files"]["train"]["sha256"] == hashlib.sha256(
        (toy_dir / "Toy_TRAIN.ts").read_bytes()).hexdigest()

    report = json.loads(tool("evaluate", f"--model_dir={run}", "--json").stdout)
    assert report["cases"] == 12 and report["accuracy"] == pytest.approx(
        metrics["test_accuracy"])
    error_line(tool("evaluate", f"--model_dir={run}", "--text=hello"),
               "--text applies to text models")

    # Leave-one-group-out with the run's recipe: two folds, each from scratch.
    cv_dir = tmp_path / "cv"
    cv = tool("evaluate", "--cv=leave_one_group_out", f"--model_dir={run}",
              f"--groups={toy_dir / 'groups.csv'}", "--group_column=animal",
              f"--cv_dir={cv_dir}", "--json")
    assert cv.returncode == 0, cv.stderr[-3000:]
    report = json.loads(cv.stdout)
    assert [f["group"] for f in report["folds"]] == ["mouse 0", "mouse 1"]
    groups = [line.split(",")[1] for line in (toy_dir / "groups.csv").read_text().splitlines()[1:]]
    for index, fold in enumerate(report["folds"]):
        fold_metrics = json.loads((pathlib.Path(fold["model_dir"]) / "metrics.json").read_text())
        assert fold_metrics["fold"]["group"] == fold["group"]
        assert fold_metrics["splits"]["test"] == groups.count(fold["group"]) == 18
        assert fold_metrics["splits"]["train"] + fold_metrics["splits"]["validation"] == 18
        assert pathlib.Path(fold["model_dir"]).name == f"fold_{index:02d}_mouse_{index}"
    assert report["mean_accuracy"] == pytest.approx(
        np.mean([f["test_accuracy"] for f in report["folds"]]))
    assert json.loads((cv_dir / "cv.json").read_text()) == report
    again = tool("evaluate", "--cv=leave_one_group_out", f"--model_dir={run}",
                 f"--groups={toy_dir / 'groups.csv'}", "--group_column=animal",
                 f"--cv_dir={cv_dir}")
    assert again.stderr.count("finished before, read back") == 2  # resumable
    assert "mean accuracy" in again.stdout
    # Another recipe is refused there, not read back as if it had trained those folds.
    other = tmp_path / "other_recipe"
    other.mkdir()
    settings = json.loads((run / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**settings, "learning_rate": 0.01}))
    error_line(tool("evaluate", "--cv=leave_one_group_out", f"--model_dir={other}",
                    f"--groups={toy_dir / 'groups.csv'}", "--group_column=animal",
                    f"--cv_dir={cv_dir}"), "holds a fold trained otherwise (learning_rate differ)")
    # A fold's own run is not evaluated as if it had the whole test file.
    error_line(tool("evaluate", f"--model_dir={report['folds'][0]['model_dir']}"),
               "is one fold of a cross-validation (group 'mouse 0')")

    # Published into a private zoo: measured again from the stored files, listed and verified.
    zoo_dir = tmp_path / "zoo"
    zoo_dir.mkdir()
    (zoo_dir / "registry.json").write_text("{}")  # its own registry, not the package's
    # A test file with a value that does not fit float32 is refused at its line; nothing written.
    spoiled = tmp_path / "spoiled"
    shutil.copytree(toy_dir, spoiled)
    with open(spoiled / "Toy_TEST.ts", "a") as f:
        f.write("1e39,1:1,2:a\n")
    line = len((spoiled / "Toy_TEST.ts").read_text().splitlines())
    before = tree(zoo_dir)
    error_line(tool("zoo", "publish", f"--model_dir={run}", "--name=toy/rkm_cifg_3gram",
                    f"--data_dir={spoiled}", f"--zoo_dir={zoo_dir}", "--url="),
               f"{spoiled / 'Toy_TEST.ts'}:{line}: channel 1: 1e39 does not fit float32")
    assert tree(zoo_dir) == before
    result = tool("zoo", "publish", f"--model_dir={run}", "--name=toy/rkm_cifg_3gram",
                  f"--data_dir={toy_dir}", f"--zoo_dir={zoo_dir}", "--url=")
    assert result.returncode == 0, result.stderr[-3000:]
    info = zoo.info("toy/rkm_cifg_3gram", str(zoo_dir))
    assert info["task"] == "time_series" and info["storage"] == zoo_time_series.STORAGE
    assert info["test_accuracy"] == pytest.approx(100 * metrics["test_accuracy"])
    assert sorted(os.listdir(zoo_dir / "toy/rkm_cifg_3gram")) == sorted(
        zoo_time_series.PRESET_FILES)
    verified = tool("zoo", "verify", f"--zoo_dir={zoo_dir}", f"--data_dir={toy_dir}")
    assert verified.returncode == 0 and verified.stdout.startswith("ok      toy/rkm_cifg_3gram")
    # Without its files, the entry fails on its own line (the others would still be checked).
    empty = tmp_path / "no_series"
    empty.mkdir()
    unverified = tool("zoo", "verify", f"--zoo_dir={zoo_dir}", f"--data_dir={empty}")
    assert unverified.returncode == 1 and "Traceback" not in unverified.stderr
    assert unverified.stdout.startswith(f"FAILED  toy/rkm_cifg_3gram: --data_dir={empty}")
    assert "training cases" in tool("zoo", "list", f"--zoo_dir={zoo_dir}").stdout

    # The SavedModel standardises inside and matches Keras on raw float input, any padding.
    result = tool("export", f"--model_dir={run}", f"--export_dir={tmp_path / 'export'}")
    assert result.returncode == 0, result.stderr[-3000:]
    serve = tf.saved_model.load(str(tmp_path / "export" / "1")).signatures[serving.WITH_LENGTHS]
    series = [rng.normal(2.0, 1.0, size=(n, 2)).astype(np.float32) for n in (1, 4, 9, 6)]
    values, lengths = tsd.pad(series, 12)
    values[0, 1:] = 1e6  # padding with anything
    got = serve(series=tf.constant(values), lengths=tf.constant(lengths))
    expected = zoo.load_model(str(run)).probabilities(series)
    np.testing.assert_allclose(got["probabilities"].numpy(), expected, atol=1e-5)
    assert got["class_name"].numpy().tolist() == [
        "abc"[i].encode() for i in expected.argmax(-1)]
    values[2, 3, 1] = np.nan  # a real step: an error status naming the series, not an answer
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"series \(index\):\] \[2\]"):
        serve(series=tf.constant(values), lengths=tf.constant(lengths))


def test_the_savedmodel_of_a_float_input_matches_keras_for_ngram_windows(tmp_path, rng):
    """Without training: random weights, 3-gram windows, statistics far from 0 and 1."""
    model = build_time_series_classifier(3, 4, "rkm_lstm", mean=[5.0, -2.0, 0.5],
                                         std=[3.0, 0.1, 1.0], units=5, ngram=3, hidden_dim=6,
                                         class_names=list("wxyz"))
    path = serving.export_saved_model(model, str(tmp_path / "saved"))
    loaded = tf.saved_model.load(path)
    # The default signature: a float tensor alone, every step real.
    same_length = rng.normal([5.0, -2.0, 0.5], [3.0, 0.1, 1.0], size=(4, 6, 3)).astype(np.float32)
    got = loaded.signatures["serving_default"](series=tf.constant(same_length))
    assert sorted(got) == ["class_id", "class_name", "probabilities"]
    np.testing.assert_allclose(got["probabilities"].numpy(), model.probabilities(list(same_length)),
                               atol=1e-6)
    # Unequal lengths: padded series and their lengths.
    serve = loaded.signatures[serving.WITH_LENGTHS]
    series = [rng.normal([5.0, -2.0, 0.5], [3.0, 0.1, 1.0], size=(n, 3)).astype(np.float32)
              for n in (7, 2, 11)]
    values, lengths = tsd.pad(series)
    got = serve(series=tf.constant(values), lengths=tf.constant(lengths))
    np.testing.assert_allclose(got["probabilities"].numpy(), model.probabilities(series),
                               atol=1e-6)
    with pytest.raises(Exception, match="lengths must give one length per series"):
        serve(series=tf.constant(values), lengths=tf.constant(lengths[:2]))


# ------------------------------------------------------------------ the zoo

def test_the_time_series_names_and_the_papers_table_4():
    assert zoo.time_series_names() == [
        f"japanese_vowels/{v}_{n}gram" for n in (1, 3)
        for v in ("lstm", "rkm_lstm", "rkm_cifg", "gated_cnn")]
    assert zoo.name_task("japanese_vowels/gated_cnn_3gram") == zoo.TIME_SERIES
    assert paper.TABLE4_ACCURACY == {"lstm": 80.24, "rkm_lstm": 79.02, "rkm_cifg": 77.58,
                                     "linear_kernel_ot": 76.11, "linear_kernel": 73.13,
                                     "gated_cnn": 76.02, "cnn": 73.40}
    assert zoo.make_commands("japanese_vowels/rkm_lstm_3gram")[0] == (
        "python tools/train.py --model=rkm_lstm --dataset=japanese_vowels --ngram=3 "
        "--model_dir=runs/japanese_vowels/rkm_lstm_3gram")


def test_every_time_series_entry_is_a_measured_preset_that_loads():
    names = zoo.names(task=zoo.TIME_SERIES)
    assert len(names) == 8  # japanese_vowels: lstm, rkm_lstm, rkm_cifg, gated_cnn at n = 1, 3
    for name in names:
        entry, info = zoo.registry()[name], zoo.info(name)
        assert sorted(entry["files"]) == sorted(zoo_time_series.PRESET_FILES)
        dataset, variant, ngram = zoo.parse_time_series_name(name)
        assert (info["dataset"], info["variant"], info["ngram"]) == (dataset, variant, ngram)
        assert info["test_accuracy"] == pytest.approx(100 * entry["metadata"]["test_accuracy"])
        assert info["goal"] == 100 * zoo_time_series.GOALS[variant]
        assert info["paper_lfp_accuracy"] == paper.table4_accuracy(variant)
        assert info["training_cases"] + info["validation_cases"] == 270
        assert info["test_cases"] == 370 and info["channels"] == 12
        assert info["command"].startswith("python tools/train.py")
    name = names[0]
    classifier = zoo.load(name)
    assert isinstance(classifier, TimeSeriesClassifier) and name in TimeSeriesClassifier.presets
    same = TimeSeriesClassifier.from_preset(zoo.entry_dir(name))  # keras-hub's loader
    series = [np.random.default_rng(0).normal(size=(n, 12)) for n in (7, 20)]
    np.testing.assert_allclose(same.probabilities(series), classifier.probabilities(series),
                               atol=1e-6)
    assert classifier.activation is keras.activations.softmax
    with pytest.raises(zoo.ZooError, match="is a time-series classifier, not a document"):
        from kasm_keras.models.kernel_classifier import KernelTextClassifier
        KernelTextClassifier.from_preset(name)


def test_docs_show_the_current_time_series_table():
    from benchmarks import docs_site
    from benchmarks.reporting import time_series as time_series_table

    block = docs_site.block("time_series")
    assert block == time_series_table.readme_block()
    for name in zoo.names(task=zoo.TIME_SERIES):
        assert f"zoo: {name} |" in block
    assert "another data set" in block


def test_the_time_series_table_shows_each_entrys_seeds_and_how_it_was_chosen():
    from benchmarks.reporting import results
    from benchmarks.reporting import time_series as time_series_table

    name = "japanese_vowels/lstm_3gram"
    info = zoo.info(name)
    runs = {name: [{"seed": 7, "val_accuracy": 0.5, "test_accuracy": 0.9, "recipe": {}}]}
    row = next(line for line in time_series_table.readme_block(seed_runs=runs).splitlines()
               if line.endswith(f"zoo: {name} |"))
    mean, sd = results.mean_sd([info["test_accuracy"], 90.0])
    assert f"| {mean:.2f} ± {sd:.2f} (2 seeds) |" in row
    if info["cv_accuracy"] is None:  # chosen on a validation split, or by cross-validation
        assert f"| validation {info['val_accuracy']:.2f} |" in row
    else:
        cv = info["cross_validation"]
        assert (f"| {cv['fold_count']}-fold CV {100 * cv['mean_accuracy']:.2f} ± "
                f"{100 * cv['sd_accuracy']:.2f} |") in row
    # A seed its family would choose first (by validation or cross-validated accuracy) is
    # pointed out; one trained otherwise is refused.
    better = {name: [{"seed": 7, "cv_accuracy": 1.5, "test_accuracy": 0.9, "recipe": {}}]}
    _, warnings = results.seed_accuracies(runs=better, task=zoo.TIME_SERIES)
    assert len(warnings) == 1 and "seed 7" in warnings[0] and "cross-validated" in warnings[0]
    other = {name: [{"seed": 7, "val_accuracy": 0.5, "test_accuracy": 0.9,
                     "recipe": {"units": info["recipe"]["units"] + 1}}]}
    with pytest.raises(zoo.ZooError, match="not a seed of the same cell"):
        results.seed_accuracies(runs=other, task=zoo.TIME_SERIES)
    assert time_series_table.chosen_by({"cv_accuracy": 96.0, "cross_validation": {
        "fold_count": 5, "sd_accuracy": 0.012}}) == "5-fold CV 96.00 ± 1.20"


def test_a_time_series_entry_reproduces_its_test_accuracy_on_the_real_data(tmp_path):
    names = zoo.names(task=zoo.TIME_SERIES)
    assert len(names) == 8  # japanese_vowels: lstm, rkm_lstm, rkm_cifg, gated_cnn at n = 1, 3
    data_dir = real_time_series_data()
    name = names[0]
    classes, series, labels = zoo_time_series.split_cases(
        "japanese_vowels", "test", data_dir, str(tmp_path))
    accuracy = zoo_time_series.accuracy(zoo.load(name), series, labels)
    assert 100 * accuracy == pytest.approx(zoo.info(name)["test_accuracy"], abs=1e-7)
