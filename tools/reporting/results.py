"""Tables of measured results, generated from the metrics.json files that tools/train.py wrote."""

import os

from kasm_keras import paper, zoo
from kasm_keras.utils.files import read_json as _read_json


def _source(folder):
    """How the table names a run: relative to here when local, the URL otherwise."""
    return os.path.relpath(folder) if "://" not in folder else folder


def collect(runs_dir=None, zoo_dir=None):
    """Metrics of the zoo's entries (and of finished runs under `runs_dir`, a local or any
    tf.io.gfile path such as gs://...), as a list of dicts."""
    import tensorflow as tf

    found = []
    for name in zoo.names(zoo_dir):
        metadata = _read_json(os.path.join(zoo.entry_dir(name, zoo_dir), "metadata.json"))
        # keras-hub's metadata.json holds the entry's own under "kasm_keras".
        metadata = metadata.get("kasm_keras", metadata)
        # The entry's test accuracy is the one measured from its stored files.
        found.append({**metadata["metrics"], "test_accuracy": metadata["test_accuracy"],
                      "source": f"zoo: {name}"})
    if runs_dir:
        if not tf.io.gfile.isdir(runs_dir):
            raise FileNotFoundError(f"--runs_dir={runs_dir}: no such folder")
        paths = sorted(f"{folder.rstrip('/')}/metrics.json" if "://" in folder
                       else os.path.join(folder, "metrics.json")
                       for folder, _, files in tf.io.gfile.walk(runs_dir) if "metrics.json" in files)
        for path in paths:
            found.append({**_read_json(path), "source": _source(os.path.dirname(path))})
    return found


def markdown_table(metrics):
    lines = ["| dataset | variant | n | test accuracy | paper | difference | validation | "
             "training documents | word vectors | steps | minutes | source |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for m in sorted(metrics, key=lambda m: (m["dataset"], m["model"], m["ngram"], m["source"])):
        reported = paper.table2_accuracy(m["dataset"], m["model"], m["ngram"])
        ours = 100 * m["test_accuracy"]
        vectors = f"{m['parameters']['embedding_dim']}d " + (
            m["word_vectors"].split(":")[0] if m.get("word_vectors") else "random")
        lines.append(
            f"| {m['dataset']} | `{m['model']}` | {m['ngram']} | {ours:.2f} | "
            f"{'' if reported is None else f'{reported:.2f}'} | "
            f"{'' if reported is None else f'{ours - reported:+.2f}'} | "
            f"{100 * m['val_accuracy']:.2f} | {m['splits']['train'] + m['splits']['validation']:,} | "
            f"{vectors} | {m['steps']:,} | {m['train_seconds'] / 60:.1f} | {m['source']} |")
    return "\n".join(lines)
