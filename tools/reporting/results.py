"""Tables of measured results, generated from the metrics.json files that tools/train.py wrote."""

import glob
import json
import os

from kasm_keras import paper, zoo


def collect(runs_dir=None, zoo_dir=None):
    """Metrics of the zoo's entries (and of finished runs under `runs_dir`), as a list of dicts."""
    found = []
    for name in zoo.names(zoo_dir):
        with open(os.path.join(zoo.entry_dir(name, zoo_dir), "metadata.json")) as f:
            found.append({**json.load(f)["metrics"], "source": f"zoo: {name}"})
    if runs_dir:
        for path in sorted(glob.glob(os.path.join(runs_dir, "**", "metrics.json"), recursive=True)):
            with open(path) as f:
                found.append({**json.load(f), "source": os.path.relpath(os.path.dirname(path))})
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
