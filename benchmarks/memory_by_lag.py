"""How far back each of Table 1's cells remembers: the memory kernel
(`kasm_keras.layers.memory_kernel`) of zoo classifiers, averaged over AG News test documents by
lag (t - s), written as a report that the documentation plots:

python -m benchmarks.memory_by_lag --data_dir=../shared/data [--documents=200] \
    [--models=ag_news/rkm_lstm_1gram,...] [--output=benchmarks/memory_by_lag.json]

Each model's row holds, per lag, the mean of K[t, t - lag] over every real step of every
document, and the same divided by its lag-0 value (the weight of a token `lag` steps back
relative to the current one's).
"""

import argparse
import json
import os
import sys

import numpy as np

from benchmarks.explanation_faithfulness import documents
from kasm_keras import zoo
from kasm_keras.layers.memory_kernel import by_lag
from kasm_keras.layers.variants import VARIANTS
from kasm_keras.utils import files

MODELS = tuple(f"ag_news/{variant}_{n}gram" for n in (1, 3) for variant in VARIANTS)
MAX_LAG = 40


def measure(name, texts):
    model = zoo.load(name)
    kernels = model.memory_kernel(texts)
    lengths = [len(k) for k in kernels]
    width = max(lengths)
    padded = np.zeros([len(kernels), width, width], np.float32)
    for row, k in enumerate(kernels):
        padded[row, :len(k), :len(k)] = k
    means, counts = by_lag(padded, lengths)
    means, counts = means[:MAX_LAG + 1], counts[:MAX_LAG + 1]
    return {"documents": len(texts), "mean_tokens": float(np.mean(lengths)),
            "mean": means.round(6).tolist(),
            "relative": (means / means[0]).round(6).tolist() if means[0] else None,
            "pairs": counts.astype(int).tolist()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_dir", required=True, help="a folder holding ag_news")
    parser.add_argument("--documents", type=int, default=200)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--output", default="benchmarks/memory_by_lag.json")
    args = parser.parse_args(argv)
    if not os.path.isdir(os.path.join(args.data_dir, "ag_news")):
        parser.error(f"--data_dir={args.data_dir}: no ag_news folder in it")
    texts = documents(args.data_dir, args.documents)
    report = {"dataset": "ag_news", "split": "test", "documents": args.documents,
              "models": {}}
    for name in args.models.split(","):
        report["models"][name] = measure(name, texts)
        row = report["models"][name]["relative"] or []
        print(f"{name}: relative weight at lag 1, 5, 10: "
              + ", ".join(f"{row[lag]:.3f}" for lag in (1, 5, 10) if lag < len(row)),
              file=sys.stderr)
        files.write_text(args.output, json.dumps(report, indent=1) + "\n")
    print(f"written: {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
