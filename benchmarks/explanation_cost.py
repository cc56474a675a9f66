"""What the exact decomposition (`kasm_keras.layers.held_values`) costs beside a plain forward
pass of the same batch, on zoo entries: `python -m benchmarks.explanation_cost [--batch=32]`.

Prints one row per model: the median time of the traced forward pass, of the decomposition
for each document's predicted class and for every class by reverse accumulation (one backward
pass per class, vectorised), and by forward accumulation (one copy per token), each
also as a multiple of the forward pass. Tracing is left out (each
function runs once before it is timed); tokenising and building the results are left out.
"""

import argparse
import time

import numpy as np
import tensorflow as tf

from kasm_keras import zoo
from kasm_keras.layers import held_values
from kasm_keras.models import explanation
from kasm_keras.models.kernel_classifier.preprocessor import trim_to_longest

CLASSIFIERS = ("ag_news/rkm_cifg_1gram", "ag_news/lstm_1gram", "ag_news/gated_cnn_3gram",
               "ag_news/rkm_lstm_3gram", "dbpedia/rkm_cifg_1gram")


def median_seconds(run, repeats):
    run()  # traced here
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def documents(model, batch, length, seed=0):
    """`batch` documents of `length` words drawn from the model's vocabulary."""
    words = model.preprocessor.tokenizer.get_vocabulary()[2:5000]
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(words, length)) for _ in range(batch)]


def classifier_row(name, batch, length, repeats):
    model = zoo.load(name)
    inputs = trim_to_longest(model.preprocessor(tf.constant(documents(model, batch, length))))
    mask = tf.cast(inputs["padding_mask"], tf.bool)
    source = model.backbone.token_embedding(inputs["token_ids"])
    extras = (mask, tf.zeros_like(source[:, :1, :1]))

    def decomposition(mode, chosen=None):
        return lambda: explanation.decompose(model, model.held_logits, source, extras, 1,
                                             model.num_classes, mode, chosen)

    forward = median_seconds(lambda: model._network(inputs), repeats)
    times = {
        "predicted class, reverse": median_seconds(
            decomposition("reverse", held_values.TOP), repeats),
        f"{model.num_classes} classes, reverse": median_seconds(
            decomposition("reverse"), repeats),
        f"{model.num_classes} classes, forward": median_seconds(
            decomposition("forward"), repeats),
    }
    return name, forward, times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=40, help="words per document")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"batch {args.batch}, {args.length} tokens per document, median of {args.repeats}; "
          "seconds (x forward)")
    for name in CLASSIFIERS:
        name, forward, times = classifier_row(name, args.batch, args.length, args.repeats)
        cells = "  ".join(f"{what}: {t:.4f} ({t / forward:.1f}x)" for what, t in times.items())
        print(f"{name:26s} forward {forward:.4f}  {cells}")


if __name__ == "__main__":
    main()
