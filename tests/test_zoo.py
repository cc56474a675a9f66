"""The zoo: keras-hub presets verified before use, fetched atomically (loaded from an installed
wheel: test_wheel.py)."""

import json
import pathlib
import shutil

import keras
import keras_hub
import numpy as np
import pytest

from kasm_keras import paper, zoo
from kasm_keras.models.kernel_classifier import KernelTextClassifier, build_classifier

ROOT = pathlib.Path(__file__).resolve().parents[1]
ENTRY = "ag_news/rkm_cifg_1gram"
TEXTS = ["Oil prices rose as markets opened", "The striker scored twice in the final",
         "", "Ünïcödé ТЕКСТ 東京 café 🙂"]


def _private_zoo(tmp_path, names=(ENTRY,), url=None):
    """A copy of shipped entries with its own registry (tests never touch the package's)."""
    zoo_dir = tmp_path / "zoo"
    entries = {}
    for name in names:
        shutil.copytree(zoo.entry_dir(name), zoo_dir / name)
        entries[name] = dict(zoo.registry()[name])
        if url:
            entries[name]["url"] = f"{url}/{name}"
    (zoo_dir / "registry.json").write_text(json.dumps(entries))
    return zoo_dir


def test_every_shipped_entry_is_a_complete_preset_with_measured_metadata():
    assert zoo.names(), "the zoo ships entries"
    for name in zoo.names(task=zoo.CLASSIFICATION):  # language models: test_language_model_tools.py
        entry = zoo.registry()[name]
        assert sorted(entry["files"]) == sorted(zoo.PRESET_FILES)
        assert entry["url"].endswith(entry["path"])
        info = zoo.info(name)
        assert info["dataset"] == name.split("/")[0]
        assert f"{info['variant']}_{info['ngram']}gram" == name.split("/")[1]
        # Accuracies in percent; the registry keeps the test accuracy as a fraction.
        assert info["test_accuracy"] == pytest.approx(100 * entry["metadata"]["test_accuracy"])
        assert 85 < info["test_accuracy"] <= 100 and info["paper_accuracy"] > 90
        cell = (info["dataset"], info["variant"], info["ngram"])
        assert info["paper_accuracy"] == paper.table2_accuracy(*cell)
        assert info["pytorch_accuracy"] == paper.pytorch_table2_accuracy(*cell) > 85
        assert info["table2_parameters"] == info["parameters"]["table2"] > 0
        assert info["paper_parameters"] == info["parameters"]["table2_at_paper_sizes"]
        assert info["total_parameters"] == info["parameters"]["total"] > info["table2_parameters"]
        assert info["training_documents"] > 0 and info["word_vectors"].startswith("glove")
        assert isinstance(info["seed"], int)
        assert info["versions"]["keras"] and info["command"].startswith("python tools/train.py")
        assert name in zoo.known_names() and name not in zoo.unpublished_names()
        directory = pathlib.Path(zoo.entry_dir(name))
        assert sum((directory / f).stat().st_size for f in zoo.PRESET_FILES) <= zoo.MAX_ENTRY_BYTES
        config = json.loads((directory / "task.json").read_text())
        assert config["registered_name"] == "kasm_keras>KernelTextClassifier"
        assert config["config"]["activation"] == "softmax"
        vocabulary = (directory / "assets/tokenizer/vocabulary.txt").read_text().split("\n")
        assert vocabulary[:2] == ["[PAD]", "[UNK]"] and "\t" not in vocabulary[2]


def test_keras_hub_loads_an_entry_and_predicts_what_zoo_load_predicts():
    ours = zoo.load(ENTRY)
    theirs = keras_hub.models.TextClassifier.from_preset(zoo.entry_dir(ENTRY))
    assert type(theirs) is KernelTextClassifier
    probabilities = ours.predict(TEXTS, verbose=0)
    np.testing.assert_allclose(theirs.predict(TEXTS, verbose=0), probabilities, atol=1e-6)
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-5)
    assert ours.classify(TEXTS[:2]) == ["Business", "Sports"]
    assert ours.class_names == ["World", "Sports", "Business", "Sci/Tech"]
    same = KernelTextClassifier.from_preset(ENTRY)
    np.testing.assert_allclose(same.predict(TEXTS, verbose=0), probabilities, atol=1e-6)
    assert ENTRY in KernelTextClassifier.presets
    # zoo.load takes a keras-hub preset handle too (here a local preset directory).
    handle = zoo.load(zoo.entry_dir(ENTRY))
    np.testing.assert_allclose(handle.predict(TEXTS, verbose=0), probabilities, atol=1e-6)


def test_load_refuses_a_preset_handle_that_is_no_keras_hub_preset(tmp_path):
    with pytest.raises(zoo.ZooError, match="not a loadable keras-hub preset"):
        zoo.load(str(tmp_path))


def test_an_entry_fine_tunes_on_raw_text():
    classifier = zoo.load(ENTRY)
    before = [w.numpy().copy() for w in classifier.trainable_weights]
    classifier.compile(optimizer=keras.optimizers.Adam(1e-3))  # loss and metrics: keras-hub's
    # keras-hub batches raw texts into a dataset of its own, which Keras does not shuffle (and
    # warns that shuffle=True, its default, is ignored).
    history = classifier.fit(TEXTS[:2], np.array([2, 1]), batch_size=2, epochs=2, verbose=0,
                             shuffle=False)
    assert np.isfinite(history.history["loss"]).all()
    assert any(not np.array_equal(a, w.numpy()) for a, w in zip(before, classifier.trainable_weights))


@pytest.mark.parametrize("file_name", zoo.PRESET_FILES)
def test_a_flipped_byte_in_any_file_is_refused_naming_the_file(tmp_path, file_name):
    zoo_dir = _private_zoo(tmp_path)
    path = zoo_dir / ENTRY / file_name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(zoo.ZooError, match=f"{file_name}: sha256 .* differs"):
        zoo.load(ENTRY, zoo_dir=str(zoo_dir))


def test_files_that_agree_with_their_digests_but_not_each_other_are_refused(tmp_path):
    zoo_dir = _private_zoo(tmp_path)
    vocabulary = zoo_dir / ENTRY / "assets/tokenizer/vocabulary.txt"
    vocabulary.write_text("".join(vocabulary.read_text().splitlines(keepends=True)[:-5]))
    registry = json.loads((zoo_dir / "registry.json").read_text())
    registry[ENTRY]["files"]["assets/tokenizer/vocabulary.txt"] = zoo.file_digest(str(vocabulary))
    (zoo_dir / "registry.json").write_text(json.dumps(registry))
    with pytest.raises(zoo.ZooError, match="vocabulary.txt has .* tokens, config.json's"):
        zoo.load(ENTRY, zoo_dir=str(zoo_dir))


def _rewrite(zoo_dir, file_name, change):
    """Changes a JSON file of the private zoo's entry and records its new digest, so only the
    files' agreement with each other is wrong."""
    path = zoo_dir / ENTRY / file_name
    value = json.loads(path.read_text())
    change(value)
    path.write_text(json.dumps(value))
    registry = json.loads((zoo_dir / "registry.json").read_text())
    registry[ENTRY]["files"][file_name] = zoo.file_digest(str(path))
    (zoo_dir / "registry.json").write_text(json.dumps(registry))


@pytest.mark.parametrize("file_name, change, named", [
    ("metadata.json", lambda m: m["kasm_keras"]["classes"].pop(), "metadata.json names the classes"),
    ("task.json", lambda t: t["config"]["backbone"]["config"].update(units=64),
     "task.weights.h5 does not fit"),
    ("task.json", lambda t: t["config"]["backbone"]["config"].update(ngram=3),
     "model.weights.h5 does not fit"),
    ("task.json", lambda t: t["config"].update(num_classes=5),
     "do not make a kasm_keras classifier"),
])
def test_configs_that_do_not_fit_each_other_or_the_weights_are_refused(tmp_path, file_name, change,
                                                                         named):
    zoo_dir = _private_zoo(tmp_path)
    _rewrite(zoo_dir, file_name, change)
    with pytest.raises(zoo.ZooError, match=named):
        zoo.load(ENTRY, zoo_dir=str(zoo_dir))


def test_missing_files_download_into_the_cache_verified_and_a_broken_download_is_never_used(
        tmp_path, server):
    source = pathlib.Path(zoo.entry_dir(ENTRY))
    for name in zoo.PRESET_FILES:
        server.files[f"/mirror/{ENTRY}/{name}"] = (source / name).read_bytes()
    zoo_dir = _private_zoo(tmp_path, url=server.url("/mirror"))
    shutil.rmtree(zoo_dir / ENTRY)
    cache = tmp_path / "cache"

    # A truncated file fails its digest: the load stops and nothing is left in its place.
    weights = f"/mirror/{ENTRY}/model.weights.h5"
    whole = server.files[weights]
    server.files[weights] = whole[: len(whole) // 2]
    with pytest.raises(Exception, match="checksum mismatch"):
        zoo.load(ENTRY, zoo_dir=str(zoo_dir), cache_dir=str(cache))
    assert not (cache / ENTRY / "model.weights.h5").exists()
    assert not [p for p in (cache / ENTRY).rglob("*") if p.name.startswith(".")]

    server.files[weights] = whole
    fetched = zoo.load(ENTRY, zoo_dir=str(zoo_dir), cache_dir=str(cache))
    np.testing.assert_allclose(fetched.predict(TEXTS, verbose=0),
                               zoo.load(ENTRY).predict(TEXTS, verbose=0), atol=1e-6)
    requests = len(server.requests)
    zoo.load(ENTRY, zoo_dir=str(zoo_dir), cache_dir=str(cache))  # verified cache: no requests
    assert len(server.requests) == requests


def test_registry_errors_name_the_file(tmp_path):
    (tmp_path / "registry.json").write_text("{broken")
    with pytest.raises(zoo.ZooError, match="registry.json: not a readable zoo registry"):
        zoo.names(str(tmp_path))
    (tmp_path / "registry.json").write_text(json.dumps(
        {"ag_news/partial": {"path": "ag_news/partial", "files": {"config.json": "0" * 64}}}))
    with pytest.raises(zoo.ZooError, match="expected"):
        zoo.load("ag_news/partial", zoo_dir=str(tmp_path))
    with pytest.raises(zoo.ZooError, match="No zoo entry 'ag_news/nope'"):
        zoo.load("ag_news/nope")
    with pytest.raises(zoo.ZooError, match="missing: no such zoo directory"):
        zoo.names(str(tmp_path / "missing"))


def test_publish_refuses_bad_names_and_stores_a_loadable_compact_entry(tmp_path):
    vocabulary = ["[PAD]", "[UNK]"] + [f"w{i}" for i in range(50)]
    classifier = build_classifier(len(vocabulary), 3, "rkm_cifg", units=8, embedding_dim=6,
                                  max_length=12, hidden=5, vocabulary=vocabulary,
                                  class_names=["a", "b", "c"])
    with pytest.raises(zoo.ZooError, match="look like"):
        zoo.publish(classifier, "../escape", {}, zoo_dir=str(tmp_path))
    texts = ["w1 w2 w3", "w4 w5", "w9 zz"]
    path = zoo.publish(classifier, "toy/rkm_cifg_1gram", {"dataset": "toy"},
                       evaluate=lambda c: 0.5, zoo_dir=str(tmp_path), url=None)
    assert pathlib.Path(path) == tmp_path / "toy/rkm_cifg_1gram"
    assert zoo.info("toy/rkm_cifg_1gram", str(tmp_path))["test_accuracy"] == 50.0  # percent
    # keras-hub's metadata names the task's own class, not a mixin's.
    metadata = json.loads((tmp_path / "toy/rkm_cifg_1gram/metadata.json").read_text())
    assert metadata["tasks"] == ["KernelTextClassifier"]
    stored = zoo.load("toy/rkm_cifg_1gram", zoo_dir=str(tmp_path))
    np.testing.assert_allclose(stored.predict(texts, verbose=0),
                               classifier.probabilities(texts), atol=2e-3)
    with pytest.raises(zoo.ZooError, match="compact storage moved it"):
        zoo.publish(classifier, "toy/rkm_cifg_1gram", {}, evaluate=lambda c: 0.5,
                    zoo_dir=str(tmp_path), reference=0.6)
    assert zoo.info("toy/rkm_cifg_1gram", str(tmp_path))["test_accuracy"] == 50.0  # untouched
    # A recipe search's run (tools/train.py --notest) has no test result to publish.
    run = tmp_path / "search_run"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps({"dataset": "ag_news", "model": "cnn",
                                                  "ngram": 1, "test_evaluated": False}))
    with pytest.raises(zoo.ZooError, match="search_run was trained with --notest"):
        zoo.publish_run(str(run), "ag_news/cnn_1gram", zoo_dir=str(tmp_path))


def test_the_classification_entries_together_stay_within_80_mb():
    """Issue 13's budget for Table 2's 28 entries (AG News and DBpedia): the repository stays
    light. A full table at this mean entry size must fit too."""
    names = zoo.names(task="classification")
    sizes = [sum((pathlib.Path(zoo.entry_dir(n)) / f).stat().st_size for f in zoo.PRESET_FILES)
             for n in names]
    assert sum(sizes) <= 80_000_000
    assert sum(sizes) / len(sizes) * 28 <= 80_000_000


def test_every_published_entry_names_its_own_task_class():
    """keras-hub's metadata.json of each entry in the checkout's zoo records the task's own
    class (what a preset's loader and a model card read), not a mixin's."""
    from kasm_keras.models import task_family

    root = pathlib.Path(__file__).resolve().parents[1] / "zoo"
    for name, entry in zoo.registry(str(root)).items():
        metadata = json.loads((root / name / "metadata.json").read_text())
        expected = task_family.of_entry(entry).task_class().__name__
        assert metadata["tasks"] == [expected], name
