"""How faithful the exact decomposition is beside the methods users would pick instead, on AG
News test documents and zoo classifiers:

python -m benchmarks.explanation_faithfulness --data_dir=../shared/data [--documents=500] \
    [--models=ag_news/rkm_lstm_1gram,...] [--output=benchmarks/explanations.json]

Each document's tokens are scored for its predicted class by
  - `kernel`: `KernelTextClassifier.explain(classes="predicted")`'s contributions
    (`kasm_keras.layers.held_values`), from the text (tokenising included in its time);
  - `gradient_x_input`: the predicted logit's gradient on the token embeddings, times them;
  - `integrated_gradients`: 50 midpoint steps from the zero embedding, times the embeddings;
  - `occlusion`: the predicted class's log-probability less its value with the token removed
    from the document;
  - `random`: a random order (seeded).
Deletion removes the tokens from the document in the order of their scores, highest first, and
insertion puts them back into an empty document in that order (keeping the document's word
order); the curve is the predicted class's probability at each `FRACTIONS` of the tokens moved,
and its area (the curve's mean over the fractions, by the trapezoid rule) is the figure:
lower is better for deletion, higher for insertion. Each method's time per document is the
wall time of its scores alone (the curves' passes are left out), after the first batch and a
smaller one have been scored untimed (tracing for any batch and length).

The report (JSON) is what `benchmarks/reporting/explanations.py` renders in the documentation.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import tensorflow as tf

from kasm_keras import zoo
from kasm_keras.models import explanation
from kasm_keras.models.kernel_classifier.preprocessor import trim_to_longest
from kasm_keras.utils import files

# The 1-gram cells first, then the 3-gram ones: a run stopped early has every variant once.
MODELS = tuple(f"ag_news/{variant}_{n}gram" for n in (1, 3)
               for variant in ("rkm_lstm", "rkm_cifg", "lstm", "gated_cnn"))
METHODS = ("kernel", "gradient_x_input", "integrated_gradients", "occlusion", "random")
FRACTIONS = tuple(np.round(np.linspace(0.0, 1.0, 21), 2).tolist())
IG_STEPS = 50
IG_BATCH = 10  # steps run together, as copies of the batch
BATCH = 50


def documents(data_dir, count, seed=0):
    """`count` AG News test documents, drawn without replacement by `seed`."""
    _, texts, _ = zoo.split_texts("ag_news", "test", data_dir)
    order = np.random.default_rng(seed).permutation(len(texts))[:count]
    return [texts[i].decode() if isinstance(texts[i], bytes) else texts[i] for i in order]


class Scorer:
    """One classifier's token scores by each method, and its probabilities of token lists."""

    def __init__(self, model):
        self.model = model
        self.names = explanation.names_or_ids(model.class_names, model.num_classes)
        self.pad = 0

    def encode(self, texts):
        inputs = trim_to_longest(self.model.preprocessor(tf.constant(texts)))
        ids = np.asarray(inputs["token_ids"])
        lengths = np.asarray(inputs["padding_mask"]).sum(1)
        return [ids[row, :n] for row, n in enumerate(lengths)]

    def _packed(self, sequences):
        width = max(1, max(len(s) for s in sequences))
        ids = np.full((len(sequences), width), self.pad, np.int32)
        for row, s in enumerate(sequences):
            ids[row, :len(s)] = s
        lengths = np.array([len(s) for s in sequences])
        return tf.constant(ids), tf.constant(np.arange(width)[None] < lengths[:, None])

    def logits(self, sequences):
        ids, mask = self._packed(sequences)
        return self._logits(ids, mask).numpy()

    @tf.function(reduce_retracing=True)
    def _logits(self, ids, mask):
        return self.model({"token_ids": ids, "padding_mask": mask}, training=False)

    def all_probabilities(self, sequences):
        """The class probabilities of token lists, whatever the model's output activation."""
        return np.concatenate([self.model.as_probabilities(self.logits(sequences[i:i + 512]))
                               for i in range(0, len(sequences), 512)])

    def probabilities(self, sequences, classes):
        p = self.all_probabilities(sequences)
        return p[np.arange(len(p)), classes]

    @tf.function(reduce_retracing=True)
    def _gradient(self, embedded, mask, classes):
        with tf.GradientTape() as tape:
            tape.watch(embedded)
            logits = self.model.held_logits(embedded, 1, mask, tf.zeros_like(embedded[:, :1, :1]))
            chosen = tf.gather(logits, classes, batch_dims=1)
        return tape.gradient(chosen, embedded)

    def gradient_x_input(self, sequences, classes):
        ids, mask = self._packed(sequences)
        embedded = self.model.backbone.token_embedding(ids)
        grad = self._gradient(embedded, mask, tf.constant(classes, tf.int32))
        return _rows(tf.reduce_sum(grad * embedded, -1).numpy(), sequences)

    def integrated_gradients(self, sequences, classes):
        """The steps in batches of `IG_BATCH` copies of the documents, scaled."""
        ids, mask = self._packed(sequences)
        embedded = self.model.backbone.token_embedding(ids)
        rows = len(sequences)
        total = tf.zeros_like(embedded)
        for first in range(0, IG_STEPS, IG_BATCH):
            alphas = (tf.range(first, min(first + IG_BATCH, IG_STEPS), dtype=tf.float32)
                      + 0.5) / IG_STEPS
            copies = int(alphas.shape[0])
            scaled = tf.reshape(alphas[:, None, None, None] * embedded[None],
                                [copies * rows, *embedded.shape[1:]])
            grad = self._gradient(scaled, tf.tile(mask, [copies, 1]),
                                  tf.constant(np.tile(classes, copies), tf.int32))
            total += tf.reduce_sum(tf.reshape(grad, [copies, rows, *embedded.shape[1:]]), 0)
        return _rows(tf.reduce_sum(total / IG_STEPS * embedded, -1).numpy(), sequences)

    def occlusion(self, sequences, classes):
        """The predicted class's log-probability less its value with each token removed."""
        scores = []
        for s, k in zip(sequences, classes):
            variants = [s] + [np.delete(s, t) for t in range(len(s))]
            log_p = np.log(np.maximum(self.all_probabilities(variants)[:, k], 1e-30))
            scores.append(log_p[0] - log_p[1:])
        return scores

    def kernel(self, texts, classes):
        results = self.model.explain(texts, classes="predicted", batch_size=BATCH)
        assert all(r.class_names == [self.names[k]] for r, k in zip(results, classes))
        return [r.contributions[:, 0] for r in results], results


def _rows(values, sequences):
    return [values[row, :len(s)] for row, s in enumerate(sequences)]


def curves(scorer, sequences, scores, classes):
    """(deletion, insertion) curves `[documents, len(FRACTIONS)]`."""
    deleted, inserted, owners = [], [], []
    for row, (s, score) in enumerate(zip(sequences, scores)):
        order = np.argsort(-np.asarray(score), kind="stable")
        for f in FRACTIONS:
            moved = order[:int(np.ceil(f * len(s)))]
            keep = np.ones(len(s), bool)
            keep[moved] = False
            deleted.append(s[keep])
            inserted.append(s[~keep])
            owners.append(classes[row])
    owners = np.asarray(owners)
    shape = (len(sequences), len(FRACTIONS))
    return (scorer.probabilities(deleted, owners).reshape(shape),
            scorer.probabilities(inserted, owners).reshape(shape))


def area(curve):
    """The mean of the curve over FRACTIONS (trapezoid rule), per document."""
    return np.trapezoid(curve, FRACTIONS, axis=-1) / (FRACTIONS[-1] - FRACTIONS[0])


def measure(name, texts, log=print):
    model = zoo.load(name)
    scorer = Scorer(model)
    sequences = scorer.encode(texts)
    keep = [i for i, s in enumerate(sequences) if len(s)]
    texts, sequences = [texts[i] for i in keep], [sequences[i] for i in keep]
    classes = np.concatenate([scorer.logits(sequences[i:i + BATCH]).argmax(-1)
                              for i in range(0, len(sequences), BATCH)])
    rng = np.random.default_rng(0)
    methods = {}
    completeness = 0.0
    for method in METHODS:
        scores, seconds = [], 0.0
        for start in range(0, len(texts), BATCH):
            part = slice(start, start + BATCH)
            if start == 0 and method != "random":
                # Traced before the clock runs: on this batch, then on a smaller one of another
                # length, after which TensorFlow's functions take any batch and length.
                _score(scorer, method, texts[part], sequences[part], classes[part], rng)
                few = slice(0, 7)
                _score(scorer, method, texts[part][few], sequences[part][few],
                       classes[part][few], rng)
            began = time.perf_counter()
            batch_scores, results = _score(scorer, method, texts[part], sequences[part],
                                           classes[part], rng)
            seconds += time.perf_counter() - began
            scores += batch_scores
            if results:
                completeness = max(completeness, max(
                    r.completeness_error() / max(1e-12, float(np.abs(r.logits).max()))
                    for r in results))
        deletion, insertion = curves(scorer, sequences, scores, classes)
        methods[method] = {
            "deletion_auc": float(area(deletion).mean()),
            "insertion_auc": float(area(insertion).mean()),
            "deletion_curve": deletion.mean(0).round(5).tolist(),
            "insertion_curve": insertion.mean(0).round(5).tolist(),
            "seconds_per_document": seconds / len(texts)}
        log(f"{name} {method}: deletion {methods[method]['deletion_auc']:.3f}, insertion "
            f"{methods[method]['insertion_auc']:.3f}, "
            f"{1000 * methods[method]['seconds_per_document']:.2f} ms/document")
    tokens = [len(s) for s in sequences]
    return {"documents": len(texts), "mean_tokens": float(np.mean(tokens)),
            "relative_completeness_error": completeness, "methods": methods}


def _score(scorer, method, texts, sequences, classes, rng):
    """(scores per document, the kernel's Explanations or None)."""
    if method == "kernel":
        return scorer.kernel(texts, classes)
    if method == "random":
        return [rng.permutation(len(s)).astype(np.float32) for s in sequences], None
    return getattr(scorer, method)(sequences, classes), None


def served_latency(name, texts, requests=200):
    """Milliseconds per request of `name`'s SavedModel (`tools/export.py --explain`, without
    and with `--jit_compile`), one document per request, loaded with TensorFlow alone: for each
    export the `explain` signature's and, beside it, `serving_default`'s p50 and p90, after 10
    untimed requests; {"model", "requests", "mean_tokens", "plain", "xla"}."""
    import tempfile

    from kasm_keras.models import task_family

    model = zoo.load(name)
    family = task_family.of_model(model)
    report = {"model": name}
    for export, jit_compile in (("plain", False), ("xla", True)):
        with tempfile.TemporaryDirectory() as folder:
            family.export_saved_model(model, folder, jit_compile=jit_compile, explain=True)
            signatures = tf.saved_model.load(folder).signatures
            report[export] = {}
            for signature in ("explain", "serving_default"):
                function = signatures[signature]
                for text in texts[:10]:
                    function(text=tf.constant([text]))
                times = []
                for text in texts[:requests]:
                    began = time.perf_counter()
                    out = function(text=tf.constant([text]))
                    times.append(1000 * (time.perf_counter() - began))
                    if signature == "explain" and export == "plain":
                        report.setdefault("tokens", []).append(int(out["length"][0]))
                report[export][signature] = {"p50": float(np.percentile(times, 50)),
                                             "p90": float(np.percentile(times, 90))}
    tokens = report.pop("tokens")
    return {**report, "requests": len(tokens), "mean_tokens": float(np.mean(tokens))}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_dir", required=True, help="a folder holding ag_news")
    parser.add_argument("--documents", type=int, default=500)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--output", default="benchmarks/explanations.json")
    parser.add_argument("--served", default=None, help="also time this zoo classifier's "
                        "served explain signature (one document per request)")
    args = parser.parse_args(argv)
    if not os.path.isdir(os.path.join(args.data_dir, "ag_news")):
        parser.error(f"--data_dir={args.data_dir}: no ag_news folder in it")
    texts = documents(args.data_dir, args.documents)
    report = {"dataset": "ag_news", "split": "test", "fractions": list(FRACTIONS),
              "ig_steps": IG_STEPS, "models": {}}
    previous = {}
    if os.path.exists(args.output):  # a resumed run keeps the models already measured
        with open(args.output, encoding="utf-8") as f:
            previous = json.load(f)
        if previous.get("fractions") == report["fractions"]:
            report["models"] = {k: v for k, v in previous["models"].items()
                                if v["requested"] == args.documents}
    if "served" in previous:
        report["served"] = previous["served"]
    for name in filter(None, args.models.split(",")):
        if name in report["models"]:
            continue
        report["models"][name] = {"requested": args.documents, **measure(name, texts)}
        files.write_text(args.output, json.dumps(report, indent=1) + "\n")
    if args.served:
        report["served"] = served_latency(args.served, texts)
        for export in ("plain", "xla"):
            timed = report["served"][export]["explain"]
            print(f"served explain of {args.served} ({export}): p50 {timed['p50']:.1f} ms, p90 "
                  f"{timed['p90']:.1f} ms", file=sys.stderr)
        files.write_text(args.output, json.dumps(report, indent=1) + "\n")
    print(f"written: {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
