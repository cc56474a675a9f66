"""evaluate, export and the zoo, on a model trained here on real AG News."""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from kasm_keras import zoo
from kasm_keras.models.kernel_classifier.text_classifier import TextClassifier
from tests.conftest import real_data

ROOT = pathlib.Path(__file__).resolve().parents[1]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
HOSTILE = ["", "word " * 20_000, "Ünïcödé ТЕКСТ 東京 café 🙂", b"invalid \xff\xfe\xc3 bytes",
           "Stocks rallied on Wall Street as oil prices fell"]


def _tool(name, *args, check=True):
    result = subprocess.run([sys.executable, str(ROOT / "tools" / f"{name}.py"), *args],
                            capture_output=True, text=True, env=ENV)
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("serving")
    data_dir, cache = real_data("ag_news"), root / "cache"
    model_dir = root / "run"
    _tool("train", "--model=rkm_cifg", "--ngram=2", "--dataset=ag_news", f"--data_dir={data_dir}",
          f"--cache_dir={cache}", "--units=16", "--embeddings=none", "--embedding_dim=16",
          "--max_len=32", "--batch_size=32", "--max_steps=10", "--eval_every=5",
          f"--model_dir={model_dir}")
    return {"model_dir": model_dir, "data_dir": data_dir, "cache": cache, "root": root}


def test_evaluate_reproduces_the_training_runs_test_accuracy(trained):
    result = _tool("evaluate", f"--model_dir={trained['model_dir']}", f"--data_dir={trained['data_dir']}",
                   f"--cache_dir={trained['cache']}", "--json")
    report = json.loads(result.stdout)
    with open(trained["model_dir"] / "metrics.json") as f:
        metrics = json.load(f)
    assert report["documents"] == 7_600
    assert report["accuracy"] == pytest.approx(metrics["test_accuracy"], abs=1e-9)
    assert np.sum(report["confusion_matrix"]) == 7_600
    assert [s["support"] for s in report["per_class"].values()] == [1_900] * 4
    table = _tool("evaluate", f"--model_dir={trained['model_dir']}", f"--data_dir={trained['data_dir']}",
                  f"--cache_dir={trained['cache']}", "--split=validation").stdout
    assert "validation: accuracy" in table and "confusion matrix" in table


def test_evaluate_classifies_text(trained):
    result = _tool("evaluate", f"--model_dir={trained['model_dir']}", "--text=Stocks fell",
                   "--text=", "--json")
    answers = json.loads(result.stdout)
    assert [a["text"] for a in answers] == ["Stocks fell", ""]
    for answer in answers:
        assert answer["class_name"] in ("World", "Sports", "Business", "Sci/Tech")
        assert sum(answer["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)


def test_evaluate_without_a_model_says_so(tmp_path):
    result = _tool("evaluate", f"--model_dir={tmp_path}", "--text=x", check=False)
    assert result.returncode != 0 and "best.keras" in result.stderr


@pytest.fixture(scope="module")
def exported(trained):
    export_dir = trained["root"] / "export"
    _tool("export", f"--model_dir={trained['model_dir']}", f"--export_dir={export_dir}", "--tflite")
    return export_dir


def test_savedmodel_in_a_process_without_kasm_keras_or_tensorflow_text(trained, exported, tmp_path):
    texts = tf.constant([t.encode() if isinstance(t, str) else t for t in HOSTILE])
    tf.io.write_file(str(tmp_path / "texts.pb"), tf.io.serialize_tensor(texts))
    script = f"""
import json, sys, numpy as np, tensorflow as tf
model = tf.saved_model.load({str(exported)!r})
texts = tf.io.parse_tensor(tf.io.read_file({str(tmp_path / 'texts.pb')!r}), tf.string)
out = model.signatures["serving_default"](text=texts)
assert not any(m.startswith(("kasm_keras", "tensorflow_text")) for m in sys.modules), "imported"
print(json.dumps({{k: v.numpy().tolist() for k, v in out.items() if k != "class_name"}}))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=ENV, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    served = json.loads(result.stdout)
    probabilities = np.array(served["probabilities"], np.float32)
    assert probabilities.shape == (len(HOSTILE), 4)
    assert np.isfinite(probabilities).all() and (probabilities >= 0).all()
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-5)
    keras_model = TextClassifier.from_model_dir(trained["model_dir"])
    np.testing.assert_allclose(probabilities, keras_model.probabilities(texts.numpy()), atol=1e-5)
    assert served["class_id"] == probabilities.argmax(-1).tolist()


def test_saved_model_cli_runs_it(exported):
    result = subprocess.run(
        [shutil.which("saved_model_cli") or "saved_model_cli", "run", "--dir", str(exported),
         "--tag_set", "serve", "--signature_def", "serving_default",
         "--input_exprs", 'text=["Stocks rallied on Friday", ""]'],
        capture_output=True, text=True, env=ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Result for output key class_name" in result.stdout
    assert "Result for output key probabilities" in result.stdout


def test_tflite_model_matches_keras(trained, exported):
    classifier = TextClassifier.from_model_dir(trained["model_dir"])
    interpreter = tf.lite.Interpreter(str(exported / "model.tflite"))
    interpreter.allocate_tensors()
    text = "Oil prices rose as markets opened"
    ids, _ = classifier.encoder(tf.constant([text]))
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], ids.numpy())
    interpreter.invoke()
    got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(got, classifier.probabilities([text]), atol=1e-5)
    assert (exported / "vocabulary.txt").exists()


def test_zoo_publish_load_verify_and_fetch(trained, tmp_path, server):
    zoo_dir = tmp_path / "zoo"
    zoo.publish(trained["model_dir"], "ag_news/tiny", zoo_dir=str(zoo_dir))
    registry = zoo.registry(str(zoo_dir))
    assert set(registry["ag_news/tiny"]["files"]) == set(zoo.FILES)
    loaded = zoo.load("ag_news/tiny", zoo_dir=str(zoo_dir))
    original = TextClassifier.from_model_dir(trained["model_dir"])
    np.testing.assert_allclose(loaded.probabilities(HOSTILE), original.probabilities(HOSTILE),
                               atol=1e-6)
    assert loaded.info["metrics"]["steps"] == 10 and loaded.classes == original.classes

    with pytest.raises(zoo.ZooError, match="No zoo entry 'ag_news/nope'.*ag_news/tiny"):
        zoo.load("ag_news/nope", zoo_dir=str(zoo_dir))

    # A changed file in the zoo is refused.
    entry = zoo_dir / "ag_news" / "tiny"
    vocabulary = (entry / "vocabulary.txt").read_bytes()
    (entry / "vocabulary.txt").write_bytes(vocabulary + b"extra\t1\n")
    with pytest.raises(zoo.ZooError, match="vocabulary.txt: sha256"):
        zoo.load("ag_news/tiny", zoo_dir=str(zoo_dir))
    (entry / "vocabulary.txt").write_bytes(vocabulary)

    # A file missing here is fetched from the entry's url and checked; a corrupt cached copy
    # is fetched again.
    for name in zoo.FILES:
        server.files[f"/tiny/{name}"] = (entry / name).read_bytes()
    registry["ag_news/tiny"]["url"] = server.url("/tiny")
    (zoo_dir / "registry.json").write_text(json.dumps(registry))
    shutil.rmtree(entry)
    cache = str(tmp_path / "cache")
    fetched = zoo.load("ag_news/tiny", zoo_dir=str(zoo_dir), cache_dir=cache)
    np.testing.assert_allclose(fetched.probabilities(HOSTILE[:2]), original.probabilities(HOSTILE[:2]),
                               atol=1e-6)
    assert len(server.requests) == len(zoo.FILES)
    local = pathlib.Path(zoo.entry_dir("ag_news/tiny", zoo_dir=str(zoo_dir), cache_dir=cache))
    (local / "model.weights.h5").write_bytes(b"corrupt")
    zoo.load("ag_news/tiny", zoo_dir=str(zoo_dir), cache_dir=cache)
    assert server.requests[-1] == "/tiny/model.weights.h5"


@pytest.mark.parametrize("name", zoo.names())
def test_shipped_zoo_entries_reproduce_their_test_accuracy(name, tmp_path):
    metadata = zoo.load(name).info
    result = _tool("evaluate", f"--zoo={name}", f"--data_dir={real_data(metadata['dataset'])}",
                   f"--cache_dir={tmp_path}", "--json")
    report = json.loads(result.stdout)
    assert report["accuracy"] == pytest.approx(metadata["metrics"]["test_accuracy"], abs=1e-9)


def test_export_never_replaces_a_folder_that_is_not_a_savedmodel(trained, tmp_path):
    keep = tmp_path / "precious"
    keep.mkdir()
    (keep / "notes.txt").write_text("mine")
    result = _tool("export", f"--model_dir={trained['model_dir']}", f"--export_dir={keep}",
                   check=False)
    assert result.returncode != 0 and "not a SavedModel" in result.stderr
    assert (keep / "notes.txt").read_text() == "mine"


def test_zoo_refuses_bad_names_and_incomplete_entries(trained, tmp_path):
    with pytest.raises(zoo.ZooError, match="look like"):
        zoo.publish(trained["model_dir"], "../escape", zoo_dir=str(tmp_path))
    (tmp_path / "registry.json").write_text(json.dumps(
        {"ag_news/partial": {"path": "ag_news/partial", "files": {"config.json": "0" * 64}}}))
    with pytest.raises(zoo.ZooError, match="expected"):
        zoo.load("ag_news/partial", zoo_dir=str(tmp_path))
