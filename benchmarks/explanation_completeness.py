"""Completeness of the kernel view on every zoo entry: the shares plus the constant against the
logits, |sum + constant - logit| / max|logit|, on real inputs of each entry's own data set
(its test split's first documents, sentences or cases), in float32, and again in float64 for the
entries float32 leaves outside the goal; with the largest share against the largest logit,
which says why (shares far larger than the logits cancel, and float32 keeps too few digits of
their sum):

python -m benchmarks.explanation_completeness --data_dir=../shared/data \
    [--time_series_data_dir=$KASM_KERAS_TIME_SERIES_DATA] [--inputs=50] \
    [--output=benchmarks/explanation_completeness.json]

An entry whose data is not there is reported as skipped, naming what was missing.
"""

import argparse
import gzip
import json
import os
import sys

import numpy as np

from kasm_keras import zoo
from kasm_keras.models import task_family
from kasm_keras.models.time_series_classifier.family import split_cases
from kasm_keras.utils import files

GOAL = 1e-4  # issue 28: |sum + constant - logit| <= 1e-4 x max|logit| in float32


def inputs(kind, dataset, count, data_dir, time_series_data_dir):
    """The first `count` test inputs of `dataset` as the task's `explain` reads them."""
    if kind == "text":
        _, texts, _ = zoo.split_texts(dataset, "test", data_dir)
        return [t.decode() if isinstance(t, bytes) else t for t in texts[:count]]
    if kind == "prompt":
        with gzip.open(os.path.join(data_dir, dataset, f"{dataset}.test.txt.gz"), "rt") as f:
            return [line.strip() for line in f if line.strip()][:count]
    _, series, _ = split_cases(dataset, "test", time_series_data_dir)
    return list(series[:count])


def worst_error(results):
    """The largest |sum + constant - logit| / max|logit| of the results."""
    return float(max(r.completeness_error() / max(1e-12, float(np.abs(r.logits).max()))
                     for r in results))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--time_series_data_dir",
                        default=os.environ.get("KASM_KERAS_TIME_SERIES_DATA"))
    parser.add_argument("--inputs", type=int, default=50)
    parser.add_argument("--output", default="benchmarks/explanation_completeness.json")
    args = parser.parse_args(argv)
    report = {"inputs": args.inputs, "goal": GOAL, "entries": {}}
    for name in zoo.names():
        info = zoo.info(name)
        family = task_family.of_entry(zoo.registry()[name])
        try:
            values = inputs(family.explains, info["dataset"], args.inputs, args.data_dir,
                            args.time_series_data_dir)
        except (OSError, ValueError) as error:
            report["entries"][name] = {"skipped": f"{type(error).__name__}: {error}"}
            print(f"{name}: skipped ({error})", file=sys.stderr)
            continue
        model = zoo.load(name)
        results = model.explain(values)
        entry = {"task": family.name, "inputs": len(results),
                 "max_relative_error": worst_error(results),
                 "largest_share": float(max(np.abs(r.contributions).max(initial=0.0) /
                                            max(1e-12, float(np.abs(r.logits).max()))
                                            for r in results))}
        if entry["max_relative_error"] > GOAL:
            entry["float64_max_relative_error"] = worst_error(model.explain(values,
                                                                            dtype="float64"))
        report["entries"][name] = entry
        errors = [entry["max_relative_error"]]
        print(f"{name}: {max(errors):.2e}", file=sys.stderr)
        files.write_text(args.output, json.dumps(report, indent=1) + "\n")
    print(f"written: {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
