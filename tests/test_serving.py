"""tools/evaluate.py and tools/export.py on the zoo's entries (a run of tools/train.py is
evaluated in test_train_tool.py; the zoo library itself is tested in test_zoo.py)."""

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
from kasm_keras.models.kernel_classifier import serving
from tests.conftest import real_data, same_worker
from tests.test_faults_tools import error_line, tool  # noqa: F401 (fixture)

ROOT = pathlib.Path(__file__).resolve().parents[1]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
ENTRY = "ag_news/rkm_cifg_1gram"
HOSTILE = ["", "word " * 20_000, "Ünïcödé ТЕКСТ 東京 café 🙂", b"invalid \xff\xfe\xc3 bytes",
           "Stocks rallied on Wall Street as oil prices fell"]


EXPORTED = same_worker("serving_exported")
DATA_CACHE = same_worker("serving_data_cache")


def _tool(name, *args, check=True):
    result = subprocess.run([sys.executable, str(ROOT / "tools" / f"{name}.py"), *args],
                            capture_output=True, text=True, env=ENV)
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_evaluate_without_a_model_says_so(tool, tmp_path):
    line = error_line(tool("evaluate", f"--model_dir={tmp_path}", "--text=x"))
    assert line.startswith(f"error: {tmp_path}"), line


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The zoo's ag_news entry as version 1 under a new model base path, as TensorFlow Serving
    reads it."""
    base = tmp_path_factory.mktemp("serving_export") / "ag_news"
    result = _tool("export", f"--zoo={ENTRY}", f"--export_dir={base}", "--tflite", "--explain")
    assert f"SavedModel written to {base / '1'}\n" in result.stdout
    assert sorted(os.listdir(base)) == ["1"]
    return base / "1"


EXPLAINED = ["Stocks fell sharply on Wall Street today", "NASA launches a probe", ""]


@pytest.fixture(scope="module")
def served(exported, tmp_path_factory):
    """The export's answers to HOSTILE (serving_default) and to EXPLAINED (explain), from one
    process that loads it with TensorFlow alone and checks that it never imported kasm_keras,
    keras_hub or tensorflow_text."""
    folder = tmp_path_factory.mktemp("served")
    texts = tf.constant([t.encode() if isinstance(t, str) else t for t in HOSTILE])
    tf.io.write_file(str(folder / "texts.pb"), tf.io.serialize_tensor(texts))
    script = f"""
import json, sys, numpy as np, tensorflow as tf
model = tf.saved_model.load({str(exported)!r})
texts = tf.io.parse_tensor(tf.io.read_file({str(folder / 'texts.pb')!r}), tf.string)
out = model.signatures["serving_default"](text=texts)
# A request larger than the serving slice runs slice by slice, with the same answers.
big = model.signatures["serving_default"](text=tf.tile(texts, [60]))["probabilities"].numpy()
np.testing.assert_allclose(big, np.tile(out["probabilities"].numpy(), [60, 1]), atol=1e-6)
explained = model.signatures["explain"](text=tf.constant({EXPLAINED!r}))
assert not any(m.startswith(("kasm_keras", "keras_hub", "tensorflow_text")) for m in sys.modules), "imported"
print(json.dumps({{
    "serving_default": {{k: v.numpy().tolist() for k, v in out.items() if k != "class_name"}},
    "explain": {{k: (v.numpy().astype(str) if v.dtype == tf.string else v.numpy()).tolist()
                for k, v in explained.items()}}}}))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=ENV, cwd=folder)
    assert result.returncode == 0, result.stderr[-3000:]
    return {"texts": list(texts.numpy()), **json.loads(result.stdout)}


@EXPORTED
def test_savedmodel_in_a_process_without_kasm_keras_keras_hub_or_tensorflow_text(served):
    probabilities = np.array(served["serving_default"]["probabilities"], np.float32)
    assert probabilities.shape == (len(HOSTILE), 4)
    assert np.isfinite(probabilities).all() and (probabilities >= 0).all()
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-5)
    keras_model = zoo.load(ENTRY)
    np.testing.assert_allclose(probabilities, keras_model.probabilities(served["texts"]),
                               atol=1e-5)
    assert served["serving_default"]["class_id"] == probabilities.argmax(-1).tolist()


@EXPORTED
def test_the_explain_signature_serves_the_kernel_view_without_kasm_keras(served):
    """`tools/export.py --explain`: raw text in; tokens, contributions, constant and logits out,
    equal to `KernelTextClassifier.explain`'s, in a process that never imports kasm_keras."""
    served = {k: np.array(v) for k, v in served["explain"].items()}
    expected = zoo.load(ENTRY).explain(EXPLAINED)
    assert served["length"].tolist() == [len(e.tokens) for e in expected]
    for row, e in enumerate(expected):
        n = len(e.tokens)
        assert served["tokens"][row, :n].tolist() == e.tokens
        assert set(served["tokens"][row, n:]) <= {""}
        assert not served["contributions"][row, n:].any()  # padding contributes nothing
        np.testing.assert_allclose(served["contributions"][row, :n], e.contributions, atol=1e-5)
        np.testing.assert_allclose(served["constant"][row], e.constant, atol=1e-5)
        np.testing.assert_allclose(served["logits"][row], e.logits, atol=1e-5)
        total = served["contributions"][row].sum(0) + served["constant"][row]
        np.testing.assert_allclose(total, served["logits"][row],
                                   atol=1e-4 * np.abs(served["logits"][row]).max())


@EXPORTED
def test_saved_model_cli_runs_it(exported):
    # The module, not the console script, which is on PATH only in an activated environment:
    # the bare PATH below stands for an environment that is not.
    result = subprocess.run(
        [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli", "run", "--dir",
         str(exported), "--tag_set", "serve", "--signature_def", "serving_default",
         "--input_exprs", 'text=["Stocks rallied on Friday", ""]'],
        capture_output=True, text=True, env={**ENV, "PATH": os.defpath})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Result for output key class_name" in result.stdout
    assert "Result for output key probabilities" in result.stdout


@EXPORTED
def test_tflite_model_matches_keras(exported):
    classifier = zoo.load(ENTRY)
    interpreter = tf.lite.Interpreter(str(exported / "model.tflite"))
    interpreter.allocate_tensors()
    text = "Oil prices rose as markets opened"
    ids, _ = serving.ServingModule(classifier).encoder(tf.constant([text]))
    ids = tf.pad(ids, [[0, 0], [0, classifier.sequence_length - ids.shape[1]]])  # LiteRT: fixed
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], ids.numpy())
    interpreter.invoke()
    got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(got, classifier.probabilities([text]), atol=1e-5)
    assert (exported / "vocabulary.txt").exists()


@EXPORTED
def test_export_never_replaces_a_version(tool, exported):
    stamp = (exported / "saved_model.pb").stat().st_mtime_ns
    line = error_line(tool("export", f"--zoo={ENTRY}", f"--export_dir={exported.parent}",
                           "--version=1"))
    assert line == (f"error: {exported} exists; a version is never replaced: pass another "
                    "--version, or none for 2")
    assert (exported / "saved_model.pb").stat().st_mtime_ns == stamp


# tools/export.py's version folders, with a stand-in for the SavedModel writer, on a local disk
# and on a filesystem reached through tf.io.gfile only (ram://, in memory, standing in for gs://).
VERSIONS = f"""
import json, os, sys
import tensorflow as tf
from kasm_keras.cli import export

def write(folder):  # what tools/export.py writes, in miniature
    os.makedirs(os.path.join(folder, "variables"))
    for name in ("saved_model.pb", "variables/variables.index", "model.tflite"):
        with open(os.path.join(folder, name), "w") as f:
            f.write(name)

out = {{}}
for base in sys.argv[1:]:
    paths = [export.write_version(export.version_dir(base), write),
             export.write_version(export.version_dir(base), write),
             export.write_version(export.version_dir(base, 7), write),
             export.version_dir(base)]
    try:
        export.version_dir(base, 2)
        refused = None
    except FileExistsError as error:
        refused = str(error)
    files = sorted(os.path.relpath(os.path.join(folder, name), paths[1]).replace(os.sep, "/")
                   for folder, _, names in tf.io.gfile.walk(paths[1]) for name in names)
    with tf.io.gfile.GFile(paths[1] + "/saved_model.pb") as f:
        content = f.read()
    out[base] = dict(paths=paths, refused=refused, files=files, content=content,
                     listing=sorted(name.rstrip("/") for name in tf.io.gfile.listdir(base)))
print(json.dumps(out))
"""


def test_export_numbers_versions_on_any_filesystem(tmp_path):
    local, remote = str(tmp_path / "models" / "ag_news"), "ram://models/ag_news"
    result = subprocess.run([sys.executable, "-c", VERSIONS, local, remote], capture_output=True,
                            text=True, env=ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.splitlines()[-1])
    for base, sep in ((local, os.sep), (remote, "/")):
        got = out[base]
        assert got["paths"] == [f"{base}{sep}{v}" for v in (1, 2, 7, 8)]
        assert got["listing"] == ["1", "2", "7"]  # no staging folder left behind
        assert got["refused"].startswith(f"{base}{sep}2 exists; a version is never replaced")
        assert got["files"] == ["model.tflite", "saved_model.pb", "variables/variables.index"]
        assert got["content"] == "saved_model.pb"


def _private_zoo(tmp_path, name):
    """The shipped ag_news entry under another name, in a zoo of its own."""
    zoo_dir = tmp_path / "zoo"
    shutil.copytree(zoo.entry_dir(ENTRY), zoo_dir / name)
    entry = {**zoo.registry()[ENTRY], "path": name}
    entry.pop("url", None)
    (zoo_dir / "registry.json").write_text(json.dumps({name: entry}))
    return zoo_dir


def test_evaluate_and_export_read_the_given_zoo(tool, tmp_path):
    zoo_dir = _private_zoo(tmp_path, "ag_news/private_1gram")
    result = tool("evaluate", "--zoo=ag_news/private_1gram", f"--zoo_dir={zoo_dir}",
                  "--text=Stocks fell", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout)[0]
    want = zoo.load(ENTRY).probabilities(["Stocks fell"])[0]
    np.testing.assert_allclose(list(answer["probabilities"].values()), want, atol=1e-5)
    error_line(tool("export", "--zoo=ag_news/nope", f"--zoo_dir={zoo_dir}",
                    f"--export_dir={tmp_path / 'export'}"),
               "No zoo entry 'ag_news/nope'; available: ag_news/private_1gram")


@pytest.fixture(scope="module")
def data_cache(real_data_cache):
    return real_data_cache  # each dataset prepared once a session


@DATA_CACHE
def test_tools_evaluate_reproduces_a_shipped_entry(data_cache):
    info = zoo.info(ENTRY)
    result = _tool("evaluate", f"--zoo={ENTRY}", f"--data_dir={real_data(info['dataset'])}",
                   f"--cache_dir={data_cache}", "--json")
    report = json.loads(result.stdout)
    assert 100 * report["accuracy"] == pytest.approx(info["test_accuracy"], abs=1e-7)  # info: %


def test_xla_export_gives_the_same_answers(tmp_path):
    """--jit_compile pads each request to a length multiple of 16 and a power-of-two batch for
    XLA; the answers are the plain export's (and the Keras model's) for any batch and length,
    and the `explain` signature's are `KernelTextClassifier.explain`'s."""
    base = tmp_path / "xla"
    _tool("export", f"--zoo={ENTRY}", f"--export_dir={base}", "--jit_compile", "--explain")
    serve = tf.saved_model.load(str(base / "1")).signatures["serving_default"]
    keras_model = zoo.load(ENTRY)
    texts = [t.encode() if isinstance(t, str) else t for t in HOSTILE]
    texts += [b"Oil prices rose as markets opened " * k for k in range(1, 31, 3)]
    for count in (1, 3, len(texts)):  # batches padded to 1, 4 and 16 rows
        got = serve(text=tf.constant(texts[-count:]))["probabilities"].numpy()
        assert got.shape == (count, 4)
        np.testing.assert_allclose(got, keras_model.probabilities(texts[-count:]), atol=1e-5)
    graph = serve.graph.as_graph_def()
    functions = list(graph.library.function)
    assert any(f.attr["_XlaMustCompile"].b for f in functions), "the network must be XLA-compiled"
    explain = tf.saved_model.load(str(base / "1")).signatures["explain"]
    for chosen in (texts[-1:], texts[:3]):
        served = explain(text=tf.constant(chosen))
        for row, expected in enumerate(keras_model.explain([t.decode() for t in chosen])):
            n = len(expected.tokens)
            assert int(served["length"][row]) == n
            np.testing.assert_allclose(served["contributions"][row, :n], expected.contributions,
                                       atol=1e-4)
            np.testing.assert_allclose(served["logits"][row], expected.logits, atol=1e-5)


@DATA_CACHE
def test_zoo_verify_measures_the_accuracy_again(tool, data_cache):
    """One entry of each dataset is measured again from its stored files here (this one and
    `test_tools_evaluate_reproduces_a_shipped_entry`'s); every entry: `tools/zoo.py verify
    --data_dir`, a tool run, since the zoo outgrows the test suite's time."""
    name = "dbpedia/rkm_cifg_1gram"
    result = _tool("zoo", "verify", f"--data_dir={real_data('dbpedia')}",
                   f"--cache_dir={data_cache}", f"--names={name}")
    recorded = zoo.info(name)["test_accuracy"]
    assert result.stdout.splitlines() == [
        f"ok      {name}  test accuracy {recorded:.2f}% (recorded {recorded:.2f}%, +0.00)"]
    error_line(tool("zoo", "verify", "--names=yelp/cnn_1gram"),
               "--names: not published: yelp/cnn_1gram")
