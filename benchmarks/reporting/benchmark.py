"""Speed and memory of every variant against keras.layers.LSTM, measured in one run on one machine.

Each (layer, n-gram, precision) runs in a child process of its own so that its peak memory is its
own; the dense-matmul rate of the machine is measured first (in float32, and in each lower
precision measured), so each variant's achieved FLOP/s can be read as a share of what the
hardware does at the precision it runs in. Also here: the classifier end to end on real AG News
batches (padded float32 against length-aware batches at the automatic precision), the scaling of
training cost and memory with sequence length and batch size, serving latency, and the goals
each figure is held to. `markdown(report)` renders a report; every figure in it comes from the
report, and a figure the report lacks reads "not measured".
"""

import dataclasses
import itertools
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np

from benchmarks.reporting import language_model_benchmark
from benchmarks.reporting.child import in_child
from kasm_keras.layers.variants import VARIANT_TABLE

BASELINE = "keras_lstm"
FLOAT32 = "float32"
# The rates measured for each dtype a measured precision multiplies in: float32's at the top
# of a report (where reports before precisions kept them), the others' under "matmul_rates".
RATE_FIELDS = ("matmul_flops_per_second", "loop_matmul_flops_per_second",
               "sequence_matmul_flops_per_second")


@dataclasses.dataclass(frozen=True)
class Shape:
    batch: int = 64
    time: int = 128
    input_dim: int = 300
    units: int = 300


def _variant(layer):
    """The Table 1 row a measured layer computes: Keras' LSTM does lstm's arithmetic."""
    return VARIANT_TABLE["lstm" if layer == BASELINE else layer]


def _window(layer, ngram):
    """The n-gram width a measured layer computes (Keras' LSTM has no n-grams)."""
    return 1 if layer == BASELINE else ngram


def _product_flops(layer, shape, ngram):
    """FLOPs per token of one W x product and of one h' U product (0 without feedback)."""
    m, d = shape.input_dim, shape.units
    variant = _variant(layer)
    n = _window(layer, ngram)
    return 2 * n * m * variant.k * d, (2 * d * variant.k * d if variant.recurrent else 0)


def training_flops_per_token(layer, shape, ngram):
    """FLOPs of one training step's matmuls per token: W x forward and dW backward (the
    benchmark's input is data, so no dx), and for the recurrent variants h U forward, dU and
    dh' = dz U^T backward."""
    projection, recurrent = _product_flops(layer, shape, ngram)
    return 2 * projection + 3 * recurrent


def compute_dtype(policy):
    """The dtype a Keras dtype policy multiplies in: "mixed_bfloat16" -> "bfloat16"."""
    return policy.rsplit("_", 1)[-1]


def resolve_precisions(values):
    """The Keras policies of `--precisions` values, in order, each once ("auto" is
    `kasm_keras.training.precision.auto_policy()` on this machine)."""
    from kasm_keras.training import precision

    return list(dict.fromkeys(precision.resolve(value) for value in values))


def row_precision(row):
    """The policy a row was measured under (rows of reports before precisions: float32)."""
    return row.get("precision", FLOAT32)


def precision_rates(report, policy=FLOAT32):
    """{RATE_FIELDS: rate} at the dtype `policy` multiplies in, or None where the report has no
    rates in that dtype (reports before precisions have float32's only)."""
    dtype = compute_dtype(policy)
    if dtype == FLOAT32:
        return {name: report.get(name) for name in RATE_FIELDS}
    return (report.get("matmul_rates") or {}).get(dtype)


def _normal(shape, dtype, stddev=1.0):
    import tensorflow as tf

    return tf.cast(tf.random.normal(shape, stddev=stddev), dtype)


def matmul_rate(size=2048, seconds=2.0, dtype=FLOAT32):
    """FLOP/s of a size x size matmul in `dtype`, the machine's dense-compute yardstick."""
    import tensorflow as tf

    a = _normal([size, size], dtype)
    b = _normal([size, size], dtype)
    product = tf.function(lambda a, b: tf.reduce_sum(tf.matmul(a, b)))
    product(a, b).numpy()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        product(a, b).numpy()
        count += 1
    return 2 * size**3 * count / (time.perf_counter() - start)


def loop_matmul_rate(shape, blocks=4, repeats=5, dtype=FLOAT32):
    """FLOP/s of the recurrent product h'_{t-1} U, (batch, d) x (d, blocks d) in `dtype`, one
    step at a time inside a `tf.while_loop` over the sequence: the rate the sequential variants'
    loop can reach."""
    import tensorflow as tf

    h = _normal([shape.batch, shape.units], dtype)
    kernel = _normal([shape.units, blocks * shape.units], dtype, stddev=shape.units**-0.5)

    @tf.function
    def loop(h):
        def body(t, h):
            return t + 1, tf.tanh(tf.matmul(h, kernel)[:, : shape.units])

        return tf.while_loop(lambda t, h: t < shape.time, body, (0, h))[1]

    loop(h).numpy()
    seconds = min(_time(loop, (h,), 0, 3) for _ in range(repeats))
    return 2 * shape.batch * shape.units * blocks * shape.units * shape.time / seconds


def sequence_matmul_rate(shape, ngram=1, blocks=4, repeats=5, dtype=FLOAT32):
    """FLOP/s of the three whole-sequence products of a recurrent layer's training step, at its
    shapes and in `dtype`: W x ((batch time, n m) x (n m, k d)), dW = x^T dz and dU = h'^T dz;
    timed, not assumed to run at the 2048x2048 rate (at k = 1 they are narrow products)."""
    import tensorflow as tf

    rows, cols = shape.batch * shape.time, blocks * shape.units
    x = _normal([rows, ngram * shape.input_dim], dtype)
    w = _normal([ngram * shape.input_dim, cols], dtype)
    h = _normal([rows, shape.units], dtype)
    dz = _normal([rows, cols], dtype)

    @tf.function
    def products(x, w, h, dz):
        return (tf.reduce_sum(tf.matmul(x, w)) + tf.reduce_sum(tf.matmul(x, dz, transpose_a=True))
                + tf.reduce_sum(tf.matmul(h, dz, transpose_a=True)))

    products(x, w, h, dz).numpy()
    seconds = min(_time(products, (x, w, h, dz), 1, 3) for _ in range(repeats))
    return 2 * rows * cols * (2 * ngram * shape.input_dim + shape.units) / seconds


def training_ceiling(layer, shape, ngram, loop_rate, sequence_rate):
    """Tokens/s a recurrent layer could train at if it did nothing but the matmuls that
    `training_flops_per_token` counts: the two per-step products (h U forward, dz U^T backward)
    at `loop_rate`, the whole-sequence ones (W x, dW, dU) at `sequence_rate`; no other work."""
    projection, recurrent = _product_flops(layer, shape, ngram)
    return 1.0 / (2 * recurrent / loop_rate + (2 * projection + recurrent) / sequence_rate)


def _recurrent_blocks(layer):
    """k of a layer whose step multiplies h'_{t-1}, or None for the feed-forward ones."""
    variant = _variant(layer)
    return variant.k if variant.recurrent else None


def _sequence_key(layer, ngram):
    """Which `sequence_matmul_rate` a layer's row reads: "n,k"."""
    return f"{_window(layer, ngram)},{_variant(layer).k}"


def row_ceiling(report, row):
    """`training_ceiling` of a measured row, with the products at the rates of the row's
    precision (a mixed_bfloat16 row's in bfloat16), or None for a layer without a time loop or
    a precision whose rates were not measured. Reports written before the whole-sequence
    products were timed fall back to the 2048x2048 rate."""
    blocks = _recurrent_blocks(row["layer"])
    measured = precision_rates(report, row_precision(row))
    rates = (measured or {}).get("loop_matmul_flops_per_second") or {}
    if blocks is None or str(blocks) not in rates:
        return None
    sequence_rate = (measured.get("sequence_matmul_flops_per_second") or {}).get(
        _sequence_key(row["layer"], row["ngram"]), measured["matmul_flops_per_second"])
    return training_ceiling(row["layer"], Shape(**report["shape"]), row["ngram"],
                            rates[str(blocks)], sequence_rate)


def ceiling_share(report, row):
    """The share of the 2048x2048 matmul rate (at the row's precision) that `row_ceiling` would
    reach: the most a layer's FLOP/s can be here, given how fast its products of their own
    shapes run."""
    ceiling = row_ceiling(report, row)
    if ceiling is None:
        return None
    flops = training_flops_per_token(row["layer"], Shape(**report["shape"]), row["ngram"])
    return ceiling * flops / precision_rates(report, row_precision(row))["matmul_flops_per_second"]


def _build(layer, ngram, shape, implementation="auto"):
    import keras

    from kasm_keras import KernelRNN

    inputs = keras.Input((shape.time, shape.input_dim))
    if layer == BASELINE:
        rnn = keras.layers.LSTM(shape.units, return_sequences=True)
    else:
        rnn = KernelRNN(shape.units, variant=layer, ngram=ngram, return_sequences=True,
                        implementation=implementation)
    outputs = keras.ops.mean(rnn(inputs), axis=1)
    return keras.Model(inputs, outputs)


def _time(function, args, warmup, steps):
    """Median seconds per call: this shared 2-core machine has bursts of outside load."""
    for _ in range(warmup):
        function(*args).numpy()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        function(*args).numpy()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def measure_one(layer, ngram, shape, steps, warmup, xla_modes=(False, True), implementation="auto",
                precision=FLOAT32, inference=True):
    """Training (and with `inference`, inference) tokens/s of one layer, with and without XLA,
    built and run under the Keras dtype policy `precision`, in this process."""
    import keras
    import tensorflow as tf

    from kasm_keras.training import precision as policies

    keras.utils.set_random_seed(0)
    x = tf.random.normal([shape.batch, shape.time, shape.input_dim])
    rows = []
    with policies.policy_scope(precision):
        for xla in xla_modes:
            model = _build(layer, ngram, shape, implementation)
            optimizer = keras.optimizers.Adam(1e-3)
            if policies.needs_loss_scaling(precision):
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            optimizer.build(model.trainable_variables)

            @tf.function(jit_compile=xla)
            def train_step(x):
                with tf.GradientTape() as tape:
                    outputs = tf.cast(model(x, training=True), tf.float32)
                    loss = tf.reduce_mean(tf.square(outputs))
                    scaled = optimizer.scale_loss(loss)
                optimizer.apply(tape.gradient(scaled, model.trainable_variables),
                                model.trainable_variables)
                return loss

            tokens = shape.batch * shape.time
            train_seconds = _time(train_step, (x,), warmup, steps)
            row = {"layer": layer, "ngram": ngram, "xla": xla, "implementation": implementation,
                   "precision": precision, "train_tokens_per_second": tokens / train_seconds}
            if inference:
                infer = tf.function(lambda x: tf.reduce_sum(tf.cast(model(x, training=False),
                                                                    tf.float32)),
                                    jit_compile=xla)
                row["inference_tokens_per_second"] = tokens / _time(infer, (x,), warmup, steps)
            row["train_flops_per_second"] = (training_flops_per_token(layer, shape, ngram)
                                             * tokens / train_seconds)
            rows.append(row)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    for row in rows:
        row["peak_memory_mib"] = peak
    return rows


def _child(layer, ngram, shape, steps, warmup, xla_modes, implementation="auto",
           precision=FLOAT32, inference=True):
    return in_child(
        __name__,
        f"m.measure_one({layer!r}, {ngram}, m.Shape(**{dataclasses.asdict(shape)!r}), {steps}, "
        f"{warmup}, {tuple(xla_modes)!r}, {implementation!r}, {precision!r}, {inference!r})",
        f"{layer} n={ngram} ({precision})")


def machine():
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "gpus": [g.name for g in gpus],
            "tensorflow": tf.__version__, "python": platform.python_version()}


def _measure_rates(rates, shape, blocks, sequence_keys, dtype):
    """Raises each of `rates` ({RATE_FIELDS: ...}, in `dtype`) to this round's figure if higher."""
    rates["matmul_flops_per_second"] = max(rates["matmul_flops_per_second"],
                                           matmul_rate(dtype=dtype))
    loop = rates["loop_matmul_flops_per_second"]
    for k in blocks:
        loop[str(k)] = max(loop[str(k)], loop_matmul_rate(shape, k, dtype=dtype))
    sequence = rates["sequence_matmul_flops_per_second"]
    for key in sequence_keys:
        ngram, k = map(int, key.split(","))
        sequence[key] = max(sequence[key], sequence_matmul_rate(shape, ngram, k, dtype=dtype))


def run(shape=Shape(), steps=10, warmup=3, ngrams=(1, 3), layers=None, xla_modes=(False, True),
        repeats=1, compare_loop=True, precisions=(FLOAT32,), log=print):
    """Every layer in its own process, at each of `precisions` (`--precisions` values: Keras
    policies or "auto"), `repeats` rounds in turn; each figure is the best round's, since outside
    load on a shared machine only ever slows a round down. With `compare_loop`, the sequential
    variants are also measured at their smallest n-gram with implementation="loop" (Keras'
    `backend.rnn` and automatic gradients), the design that "auto" replaces, at the first
    precision only. The matmul rates are measured in float32 and in each other dtype a measured
    precision multiplies in."""
    from kasm_keras.training import precision as policies

    chosen = resolve_precisions(precisions)
    layers = list(layers or VARIANT_TABLE) + [BASELINE]
    jobs = []
    for layer in layers:
        for policy in chosen:
            for ngram in ngrams if layer != BASELINE else (1,):
                jobs.append((layer, ngram, "auto", policy))
        if compare_loop and layer != BASELINE and VARIANT_TABLE[layer].sequential:
            jobs.append((layer, min(ngrams), "loop", chosen[0]))
    blocks = sorted({b for b in map(_recurrent_blocks, layers) if b is not None})
    sequence_keys = sorted({_sequence_key(layer, ngram) for layer, ngram, _, _ in jobs
                            if _recurrent_blocks(layer) is not None})

    def zeros():
        return {"matmul_flops_per_second": 0.0,
                "loop_matmul_flops_per_second": {str(k): 0.0 for k in blocks},
                "sequence_matmul_flops_per_second": {key: 0.0 for key in sequence_keys}}

    report = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine(),
              "shape": dataclasses.asdict(shape), "steps": steps, "repeats": repeats,
              "precisions": chosen, "auto_precision": policies.auto_policy(), **zeros(),
              "matmul_rates": {dtype: zeros() for dtype in dict.fromkeys(map(compute_dtype, chosen))
                               if dtype != FLOAT32},
              "rows": []}
    best = {}
    for round_ in range(repeats):
        _measure_rates(report, shape, blocks, sequence_keys, FLOAT32)
        for dtype, rates in report["matmul_rates"].items():
            _measure_rates(rates, shape, blocks, sequence_keys, dtype)
        for layer, ngram, implementation, policy in jobs:
            log(f"measuring {layer} n={ngram} implementation={implementation} precision={policy} "
                f"(round {round_ + 1} of {repeats}) ...")
            for row in _child(layer, ngram, shape, steps, warmup, xla_modes, implementation,
                              policy):
                key = (row["layer"], row["ngram"], row["xla"], row["implementation"],
                       row["precision"])
                if key not in best:
                    best[key] = row
                    continue
                kept = best[key]
                if row["train_tokens_per_second"] > kept["train_tokens_per_second"]:
                    for name in ("train_tokens_per_second", "train_flops_per_second"):
                        kept[name] = row[name]
                kept["inference_tokens_per_second"] = max(
                    kept["inference_tokens_per_second"], row["inference_tokens_per_second"])
                kept["peak_memory_mib"] = max(kept["peak_memory_mib"], row["peak_memory_mib"])
    report["rows"] = list(best.values())
    return report


# ------------------------------------------------------------------ end to end on AG News

# The classifier tools/train.py trains by default on AG News, at its batch sizes.
END_TO_END = {"dataset": "ag_news", "model": "rkm_cifg", "ngram": 1, "embedding_dim": 50,
              "units": 300, "train_batch": 64, "inference_batch": 256}
# mode: (length-aware batches, --precision value). "old" is the design before length-aware
# batches and automatic precision: every batch padded to max_length, float32.
END_TO_END_MODES = {"old": (False, FLOAT32), "new": (True, "auto")}


def end_to_end_one(mode, data_dir, cache_dir=None, train_batches=40, warmup=5,
                   inference_batches=None, precision=None):
    """Documents/s of the AG News classifier in one of `END_TO_END_MODES`, in this process:
    training (forward, backward, Adam(1e-3, clipvalue=1); `train_batches` shuffled batches of the
    training split after `warmup`), and inference over the whole test split (its first
    `inference_batches` batches if given), the input pipeline included. One `tf.function` step
    whose input signature leaves the length open serves every batch length. `precision`, the
    policy, is the mode's own resolved here unless given."""
    import keras
    import tensorflow as tf

    from kasm_keras.data import datasets
    from kasm_keras.models.kernel_classifier import build_classifier
    from kasm_keras.training import precision as policies

    by_length, wanted = END_TO_END_MODES[mode]
    policy = precision or policies.resolve(wanted)
    c = END_TO_END
    data = datasets.load_classification(c["dataset"], data_dir, cache_dir=cache_dir)
    keras.utils.set_random_seed(0)
    with policies.policy_scope(policy):
        model = build_classifier(len(data.vocabulary), data.num_classes, c["model"],
                                 units=c["units"], ngram=c["ngram"], max_length=data.max_length,
                                 embedding_dim=c["embedding_dim"])
        optimizer = keras.optimizers.Adam(1e-3, clipvalue=1.0)
        if policies.needs_loss_scaling(policy):
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    optimizer.build(model.trainable_variables)
    ids_spec = tf.TensorSpec([None, None], tf.int32)

    @tf.function(input_signature=[ids_spec, tf.TensorSpec([None], tf.int32)], jit_compile=False)
    def train_step(ids, labels):
        with tf.GradientTape() as tape:
            logits = tf.cast(model(ids, training=True), tf.float32)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
            scaled = optimizer.scale_loss(loss)
        optimizer.apply(tape.gradient(scaled, model.trainable_variables),
                        model.trainable_variables)
        return loss

    @tf.function(input_signature=[ids_spec], jit_compile=False)
    def infer(ids):
        return tf.argmax(model(ids, training=False), axis=-1)

    def timed(batches, step, count=None):
        """(seconds, documents, tokens computed) over `count` batches (all by default)."""
        documents = tokens = 0
        start = time.perf_counter()
        for ids, labels in itertools.islice(batches, count):
            step(ids, labels).numpy()
            documents += int(ids.shape[0])
            tokens += int(ids.shape[0]) * int(ids.shape[1])
        return time.perf_counter() - start, documents, tokens

    train = iter(data.batches("train", c["train_batch"], shuffle=True, repeat=True, seed=0,
                              by_length=by_length))
    timed(train, train_step, warmup)
    train_seconds, train_documents, train_tokens = timed(train, train_step, train_batches)
    test = data.batches("test", c["inference_batch"], by_length=by_length)
    timed(test, lambda ids, labels: infer(ids), 1)  # traced and warm
    if inference_batches:
        test = test.take(inference_batches)
    test_seconds, test_documents, test_tokens = timed(test, lambda ids, labels: infer(ids))
    return {"by_length": by_length, "precision": policy,
            "train_documents_per_second": train_documents / train_seconds,
            "train_tokens_per_document": train_tokens / train_documents,
            "inference_documents": test_documents,
            "inference_documents_per_second": test_documents / test_seconds,
            "inference_tokens_per_document": test_tokens / test_documents,
            "peak_memory_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def end_to_end(data_dir, cache_dir=None, repeats=1, train_batches=40, warmup=5,
               inference_batches=None, log=print):
    """`end_to_end_one` for every mode, each in a child process of its own, `repeats` rounds in
    turn; each figure is the best round's."""
    from kasm_keras.training import precision as policies

    result = {**END_TO_END, "xla": False, "train_batches": train_batches, "warmup_batches": warmup,
              "modes": {}}
    chosen = {mode: policies.resolve(wanted) for mode, (_, wanted) in END_TO_END_MODES.items()}
    data_dir = os.path.abspath(data_dir)
    cache_dir = cache_dir and os.path.abspath(cache_dir)
    for round_ in range(repeats):
        for mode in END_TO_END_MODES:
            log(f"measuring {result['dataset']} end to end, {mode} (round {round_ + 1} of "
                f"{repeats}) ...")
            row = in_child(__name__,
                           f"m.end_to_end_one({mode!r}, {data_dir!r}, {cache_dir!r}, "
                           f"{train_batches}, {warmup}, {inference_batches!r}, "
                           f"{chosen[mode]!r})",
                           f"{result['dataset']} end to end ({mode})")
            kept = result["modes"].setdefault(mode, row)
            for name in ("train_documents_per_second", "inference_documents_per_second",
                         "peak_memory_mib"):
                kept[name] = max(kept[name], row[name])
    return result


def typical_document(data_dir, cache_dir=None):
    """(text, tokens) of the AG News test document of median token length (the lower middle
    one); preparing the data here also readies it for `end_to_end`'s children."""
    from kasm_keras.data import datasets

    data = datasets.load_classification(END_TO_END["dataset"], data_dir, cache_dir=cache_dir)
    lengths = data.lengths("test")
    index = int(np.argsort(lengths, kind="stable")[(len(lengths) - 1) // 2])
    text, _ = next(data.texts("test").skip(index).take(1).as_numpy_iterator())
    return text.decode("utf-8"), int(lengths[index])


# ------------------------------------------------------------------ scaling

SCALING_LAYERS = ("rkm_cifg", "cnn")
SCALING_LENGTHS = tuple(16 * 2**i for i in range(8))  # 16, 32, ..., 2048
SCALING_BATCHES = (1, 4, 16, 64, 256)
SCALING_BATCH, SCALING_LENGTH = 64, 128  # the length curve's batch, the batch curve's length


def scaling_steps(tokens, budget=1 << 17, most=8, least=2):
    """Timed steps of a scaling point with `tokens` per step: about `budget` tokens in all, so a
    long sequence takes few steps, but at least `least` and at most `most`."""
    return max(least, min(most, round(budget / tokens)))


def scaling(units, precision, layers=SCALING_LAYERS, lengths=SCALING_LENGTHS,
            batches=SCALING_BATCHES, batch=SCALING_BATCH, length=SCALING_LENGTH, most=8,
            log=print):
    """Training tokens/s and peak memory of each layer (1-gram, m = d = `units`, under the
    policy `precision`, XLA as tools/train.py chooses it) at each sequence length in `lengths`
    (batch `batch`) and each batch size in `batches` (length `length`), every point in a child
    process of its own, after one warm-up step."""
    import tensorflow as tf

    gpu = bool(tf.config.list_physical_devices("GPU"))
    result = {"precision": precision, "units": units, "layers": {}}
    for layer in layers:
        xla = gpu or not VARIANT_TABLE[layer].sequential  # tools/train.py's --jit_compile=auto
        points = {}

        def point(b, t):
            if (b, t) not in points:
                steps = scaling_steps(b * t, most=most)
                log(f"scaling {layer}: batch {b}, length {t} ({steps} steps) ...")
                row, = _child(layer, 1, Shape(b, t, units, units), steps, 1, (xla,), "auto",
                              precision, inference=False)
                points[b, t] = {"batch": b, "time": t, "steps": steps,
                                "train_tokens_per_second": row["train_tokens_per_second"],
                                "peak_memory_mib": row["peak_memory_mib"]}
            return points[b, t]

        result["layers"][layer] = {
            "xla": xla,
            "length": {"batch": batch, "points": [point(batch, t) for t in lengths]},
            "batch": {"time": length, "points": [point(b, length) for b in batches]}}
    return result


def curve_shape(points, along):
    """The shape of a scaling curve whose points vary `along` ("time" or "batch"): the cost per
    token (1 / tokens/s) at the largest value over that at the smallest (1 = flat), and peak
    memory as a least-squares line in `along` with its R^2; None with fewer than two points."""
    points = sorted(points, key=lambda p: p[along])
    if len(points) < 2:
        return None
    x = np.array([p[along] for p in points], dtype=float)
    y = np.array([p["peak_memory_mib"] for p in points], dtype=float)
    slope, intercept = np.polyfit(x, y, 1)
    residual = float(np.sum((y - (slope * x + intercept)) ** 2))
    total = float(np.sum((y - y.mean()) ** 2))
    return {"from": points[0][along], "to": points[-1][along],
            "cost_ratio": points[0]["train_tokens_per_second"]
            / points[-1]["train_tokens_per_second"],
            "memory_slope_mib": float(slope), "memory_intercept_mib": float(intercept),
            "memory_r2": 1.0 - residual / total if total > 0 else 1.0}


# ------------------------------------------------------------------ serving


def serving_latency(export_dir, texts, single=200, batch=256, batches=10):
    """p50/p99 latency of one document and documents/s at `batch` for a SavedModel."""
    import tensorflow as tf

    serve = tf.saved_model.load(export_dir).signatures["serving_default"]
    rng = np.random.default_rng(0)
    for _ in range(5):
        serve(text=tf.constant([texts[0]]))
    latencies = []
    for i in range(single):
        one = tf.constant([texts[rng.integers(len(texts))]])
        start = time.perf_counter()
        serve(text=one)["probabilities"].numpy()
        latencies.append(time.perf_counter() - start)
    block = tf.constant([texts[i % len(texts)] for i in range(batch)])
    serve(text=block)
    start = time.perf_counter()
    for _ in range(batches):
        serve(text=block)["probabilities"].numpy()
    return {"p50_ms": 1000 * float(np.percentile(latencies, 50)),
            "p99_ms": 1000 * float(np.percentile(latencies, 99)),
            "batch": batch, "documents_per_second": batch * batches / (time.perf_counter() - start)}


def serving_memory(export_dir, texts, sizes=(1, 1_000, 10_000)):
    """Peak memory (MiB) of a process serving one request of each size, the SavedModel loaded
    and called once on one document first; each size in a fresh process, since the peak only
    grows."""
    import tempfile

    import tensorflow as tf

    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            path = os.path.join(tmp, f"texts{size}.pb")
            block = tf.constant([texts[i % len(texts)] for i in range(size)])
            tf.io.write_file(path, tf.io.serialize_tensor(block))
            code = (
                "import resource, tensorflow as tf; "
                f"serve = tf.saved_model.load({export_dir!r}).signatures['serving_default']; "
                f"texts = tf.io.parse_tensor(tf.io.read_file({path!r}), tf.string); "
                "serve(text=texts[:1]); "
                "serve(text=texts)['probabilities'].numpy(); "
                "print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
            env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
            run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
            lines = [line for line in run.stdout.splitlines() if line.startswith("PEAK")]
            if run.returncode != 0 or not lines:
                raise RuntimeError(f"serving memory at {size} documents failed:\n{run.stderr[-3000:]}")
            result[str(size)] = float(lines[-1].split()[1])
    return result


def time_to_accuracy(m, metrics_path):
    """The figures of one `tools/train.py` run that say how fast it got there, from `m`, its
    metrics.json (read from `metrics_path`, which error messages name)."""
    if not isinstance(m, dict):
        raise ValueError(f"{metrics_path}: not a tools/train.py metrics.json (not an object)")
    try:
        return {"command": m["command"], "dataset": m["dataset"], "model": m["model"],
                "steps": m["steps"], "minutes": m["train_seconds"] / 60,
                "test_accuracy": m["test_accuracy"]}
    except KeyError as missing:
        raise ValueError(f"{metrics_path}: not a tools/train.py metrics.json (no {missing})") from None


def with_previous(new, old):
    """`new`, a `time_to_accuracy` figure, keeping `old` (the report's figure before, if any) as
    its "previous"; the same run given again keeps the previous figure it had."""
    if not old:
        return new
    before = {k: v for k, v in old.items() if k != "previous"}
    if before == new:
        return old
    return {**new, "previous": before}


def _other_rates(report):
    """{dtype: rates} of the dtypes other than float32 whose matmul rates the report holds."""
    return {dtype: rates for dtype, rates in (report.get("matmul_rates") or {}).items() if rates}


def _product_rates(report, shape):
    """A table of the measured product rates (GFLOP/s), one row per product and shape, one
    column per dtype: the recurrent product inside the time loop, then the whole-sequence
    products at the layers' own shapes."""
    dtypes = {FLOAT32: report, **_other_rates(report)}
    products = [("loop_matmul_flops_per_second", k,
                 f"h'_(t-1) U in the time loop ({shape.batch}x{shape.units} by "
                 f"{shape.units}x({k} {shape.units}))")
                for k in sorted(report.get("loop_matmul_flops_per_second") or {})]
    products += [("sequence_matmul_flops_per_second", key,
                  f"W x, dW and dU over the sequence (n = {key.split(',')[0]}, "
                  f"k = {key.split(',')[1]})")
                 for key in sorted(report.get("sequence_matmul_flops_per_second") or {})]
    lines = ["The products' measured rates, GFLOP/s:", "",
             "| product | " + " | ".join(dtypes) + " |", "|---" * (len(dtypes) + 1) + "|"]
    for field, key, label in products:
        cells = [(rates.get(field) or {}).get(key) for rates in dtypes.values()]
        lines.append(f"| {label} | " + " | ".join(
            "" if rate is None else f"{float(rate) / 1e9:.1f}" for rate in cells) + " |")
    return "\n".join(lines)


def _ceiling(report):
    """The Speed page's sentences on how fast the recurrent layers could train here at best, from
    the measured product rates, and what the goal of 1.5x Keras' LSTM would take."""
    lstm = [r for r in report["rows"] if r["layer"] == BASELINE and row_precision(r) == FLOAT32]
    ceiling = row_ceiling(report, {"layer": "rkm_lstm", "ngram": 1})
    if ceiling is None or not lstm:
        return []
    shape = Shape(**report["shape"])
    peak = report["matmul_flops_per_second"]
    keras_best = max(lstm, key=lambda r: r["train_tokens_per_second"])
    baseline = keras_best["train_tokens_per_second"]
    flops = training_flops_per_token("rkm_lstm", shape, 1)
    sequence = report.get("sequence_matmul_flops_per_second") or {}
    sentences = [_product_rates(report, shape)]
    where = "their own rates" if sequence else "the 2048x2048 rate"
    sentences.append(
        f"The ceiling column is what a recurrent layer could train at with its two per-step "
        f"products at the time loop's rates, W x, dW and dU at {where} and no other work at "
        f"all; "
        f"its share column is that ceiling's FLOP/s as a share of the 2048x2048 rate, the most "
        f"the layer's share of matmul can be here. For `rkm_lstm` at 1-gram (the same five "
        f"products as Keras' LSTM) the ceiling is {ceiling:,.0f} tokens/s, "
        f"{ceiling / baseline:.2f}x Keras' LSTM (XLA {'on' if keras_best['xla'] else 'off'}, its "
        f"faster mode); 1.5x would take {1.5 * baseline * flops / 1e9:.1f} GFLOP/s, "
        f"{1.5 * baseline * flops / peak:.0%} of the 2048x2048 rate.")
    if _other_rates(report):
        sentences[-1] = sentences[-1][:-1] + " (float32 rows)."
        sentences.append(
            "Each row's share of matmul, ceiling, its share and of ceiling use the rates of the "
            "row's own precision: " + ", ".join(
                f"for the `{policy}` rows the products and the 2048x2048 rate in "
                f"{compute_dtype(policy)}" for policy in report.get("precisions", ())
                if compute_dtype(policy) != FLOAT32) + ".")
    return sentences


def _is_current(report):
    """Whether `report` is of the form with precisions, end to end and scaling figures: only
    such a report gets a goals section (an earlier report renders as it always did)."""
    return any(key in report for key in ("precisions", "end_to_end", "scaling"))


def _header(report):
    m = report["machine"]
    peak = report["matmul_flops_per_second"]
    precisions = ""
    if "precisions" in report:
        auto = report.get("auto_precision")
        precisions = (f"; precisions {', '.join(report['precisions'])}"
                      + (f" (`auto` is {auto} here)" if auto else ""))
    others = "".join(f", {dtype}: {rates['matmul_flops_per_second'] / 1e9:.1f} GFLOP/s"
                     for dtype, rates in _other_rates(report).items())
    return (f"Measured {report['date']} on {m['cpu']} ({m['cores']} cores"
            f"{', GPUs: ' + ', '.join(m['gpus']) if m['gpus'] else ', no GPU'}), TensorFlow "
            f"{m['tensorflow']}; batch {report['shape']['batch']}, sequence "
            f"{report['shape']['time']}, m = d = {report['shape']['units']}{precisions}; dense "
            f"matmul (2048x2048, float32): {peak / 1e9:.1f} GFLOP/s{others}.")


def _table(report):
    rows = report["rows"]
    with_precision = "precisions" in report
    lstm = {(r["xla"], row_precision(r)): r for r in rows if r["layer"] == BASELINE}
    rkm = {(r["ngram"], r["xla"], row_precision(r)): r for r in rows
           if r["layer"] == "rkm_lstm" and r.get("implementation", "auto") == "auto"}
    lines = ["| layer | n | XLA | " + "precision | " * with_precision + "train tokens/s "
             "| vs Keras LSTM | vs rkm_lstm | inference tokens/s | train GFLOP/s | share of matmul "
             "| ceiling tokens/s | its share | of ceiling | peak memory MiB |",
             "|---" * (13 + with_precision) + "|"]
    for r in rows:
        def versus(other):
            return f"{r['train_tokens_per_second'] / other['train_tokens_per_second']:.2f}x" \
                if other else ""
        precision = row_precision(r)
        peak = (precision_rates(report, precision) or {}).get("matmul_flops_per_second")
        ceiling = row_ceiling(report, r)
        implementation = r.get("implementation", "auto")
        label = "" if implementation == "auto" else f" ({implementation})"
        of_ceiling = "" if ceiling is None else f"{r['train_tokens_per_second'] / ceiling:.0%}"
        share = "" if ceiling is None else f"{ceiling_share(report, r):.0%}"
        lines.append(
            f"| `{r['layer']}`{label} | {r['ngram']} | {'on' if r['xla'] else 'off'} | "
            + f"{precision} | " * with_precision +
            f"{r['train_tokens_per_second']:,.0f} | {versus(lstm.get((r['xla'], precision)))} | "
            f"{versus(rkm.get((r['ngram'], r['xla'], precision)))} | "
            f"{r['inference_tokens_per_second']:,.0f} | "
            f"{r['train_flops_per_second'] / 1e9:.1f} | "
            f"{'' if not peak else format(r['train_flops_per_second'] / peak, '.0%')} | "
            f"{'' if ceiling is None else f'{ceiling:,.0f}'} | {share} | "
            f"{of_ceiling} | "
            f"{r['peak_memory_mib']:,.0f} |")
    return lines


def _time_to_accuracy_lines(t):
    before = ""
    if "previous" in t:
        p = t["previous"]
        before = (f"; beside the figure before: `{p['command']}` reached "
                  f"{100 * p['test_accuracy']:.2f}% on {p['dataset']} in {p['minutes']:.1f} "
                  f"minutes ({p['steps']:,} steps)")
    return ["", f"Time to accuracy: `{t['command']}` reached {100 * t['test_accuracy']:.2f}% "
            f"on the {t['dataset']} test split in {t['minutes']:.1f} minutes of training "
            f"({t['steps']:,} steps) on this machine{before}."]


def _serving_lines(s):
    document = ""
    if "document_tokens" in s:
        document = f" ({s['document']}, {s['document_tokens']} tokens)"
    lines = ["", f"Serving ({s['model']}): one document{document} p50 {s['p50_ms']:.1f} ms, p99 "
             f"{s['p99_ms']:.1f} ms; {s['documents_per_second']:,.0f} documents/s at batch "
             f"{s['batch']}."]
    if "xla" in s:
        x = s["xla"]
        lines[-1] += (f" Exported with XLA (`tools/export.py --jit_compile`): p50 "
                      f"{x['p50_ms']:.1f} ms, p99 {x['p99_ms']:.1f} ms; "
                      f"{x['documents_per_second']:,.0f} documents/s at batch {x['batch']}.")
    if "memory_mib" in s:
        added = "; ".join(f"{int(n):,} document{'' if int(n) == 1 else 's'} {mib:,.0f} MiB"
                          for n, mib in sorted(s["memory_mib"].items(), key=lambda i: int(i[0])))
        lines += ["", f"Peak memory of a process serving one request (SavedModel loaded): "
                      f"{added} (the network runs on slices of 128 documents)."]
    return lines


def _ratio(modes, name):
    """new / old of an end-to-end figure, or None where a mode is missing."""
    if "new" in modes and "old" in modes and modes["old"][name]:
        return modes["new"][name] / modes["old"][name]
    return None


def _end_to_end_lines(e):
    modes = e["modes"]
    inference = next(iter(modes.values()), {}).get("inference_documents")
    lines = ["", f"End to end on {e['dataset']} (`{e['model']}`, {e['ngram']}-gram, "
             f"m = {e['embedding_dim']}, d = {e['units']}, Adam, "
             f"XLA {'on' if e['xla'] else 'off'}; "
             f"training: {e['train_batches']} shuffled batches of {e['train_batch']} after "
             f"{e['warmup_batches']} warm-up; inference: "
             + (f"{inference:,} test documents" if inference else "the test split")
             + f" at batch {e['inference_batch']}; the input pipeline included):", "",
             "| mode | batches | precision | train documents/s | inference documents/s "
             "| tokens computed per training document | peak memory MiB |",
             "|---|---|---|---|---|---|---|"]
    for mode, m in modes.items():
        batches = "length-aware" if m["by_length"] else "padded to the maximum length"
        lines.append(f"| {mode} | {batches} | {m['precision']} | "
                     f"{m['train_documents_per_second']:,.0f} | "
                     f"{m['inference_documents_per_second']:,.0f} | "
                     f"{m['train_tokens_per_document']:.1f} | {m['peak_memory_mib']:,.0f} |")
    train, infer = _ratio(modes, "train_documents_per_second"), _ratio(
        modes, "inference_documents_per_second")
    if train is not None:
        lines += ["", f"New vs old: training {train:.2f}x, inference {infer:.2f}x the documents/s."]
    return lines


def _scaling_lines(s):
    lines = ["", f"Scaling (`--scaling`): training tokens/s and peak memory at 1-gram, "
             f"m = d = {s['units']}, {s['precision']}, each point in a process of its own:", "",
             "| layer | XLA | batch | length | train tokens/s "
             "| cost per token vs the curve's first | peak memory MiB |",
             "|---|---|---|---|---|---|---|"]
    shapes = []
    for layer, curves in s["layers"].items():
        for along, unit in (("time", "token of length"), ("batch", "document")):
            curve = curves["length" if along == "time" else "batch"]
            points = sorted(curve["points"], key=lambda p: p[along])
            first = points[0]["train_tokens_per_second"] if points else None
            for p in points:
                lines.append(f"| `{layer}` | {'on' if curves['xla'] else 'off'} | {p['batch']} | "
                             f"{p['time']} | {p['train_tokens_per_second']:,.0f} | "
                             f"{first / p['train_tokens_per_second']:.2f}x | "
                             f"{p['peak_memory_mib']:,.0f} |")
            shape = curve_shape(points, along)
            if shape is None:
                continue
            fixed = (f"at batch {curve['batch']}" if along == "time"
                     else f"at length {curve['time']}")
            name = "length" if along == "time" else "batch"
            shapes.append(
                f"| `{layer}` | {name} {shape['from']:,} to {shape['to']:,} {fixed} | "
                f"{shape['cost_ratio']:.2f}x | {shape['memory_intercept_mib']:,.0f} MiB + "
                f"{shape['memory_slope_mib']:.3f} MiB per {unit} | {shape['memory_r2']:.3f} |")
    if shapes:
        lines += ["", "The curves' shapes, from the points above: cost per token at the largest "
                  "value over that at the smallest (1.00x: flat), and peak memory as a "
                  "least-squares line (R^2 = 1: linear):", "",
                  "| layer | curve | cost per token, largest vs smallest | peak memory, linear fit "
                  "| R^2 |", "|---|---|---|---|---|"] + shapes
    return lines


# The goals each figure is held to.
GOAL_MINUTES_TO_90 = 2.0
GOAL_SERVING_P50_MS, GOAL_SERVING_P99_MS = 5.0, 10.0
GOAL_END_TO_END_TRAINING = 3.0
GOAL_RKM_LSTM_VS_FLOAT32, GOAL_RKM_LSTM_VS_SAME = 1.5, 1.0
GOAL_OF_CEILING = 0.85


def _row(report, layer, policy, ngram=1, xla=False):
    """The measured row of `layer` (implementation "auto"), or None."""
    return next((r for r in report.get("rows", []) if r["layer"] == layer and r["ngram"] == ngram
                 and r["xla"] == xla and row_precision(r) == policy
                 and r.get("implementation", "auto") == "auto"), None)


def goals(report):
    """[{goal, measured, target, met}], every measured figure from `report`; `measured` and
    `met` are None where the report lacks the measurement."""
    result = []

    def add(goal, target, measured=None, met=None):
        result.append({"goal": goal, "measured": measured, "target": target,
                       "met": None if measured is None else bool(met)})

    t = report.get("time_to_accuracy")
    goal = f"time to 90% test accuracy (`tools/train.py`{', ' + t['dataset'] if t else ''})"
    target = f"<= {GOAL_MINUTES_TO_90:.1f} minutes"
    if t is None:
        add(goal, target)
    else:
        reached = t["test_accuracy"] >= 0.90
        measured = (f"{t['minutes']:.1f} minutes ({100 * t['test_accuracy']:.2f}%)" if reached else
                    f"90% not reached ({100 * t['test_accuracy']:.2f}% after {t['minutes']:.1f} "
                    "minutes)")
        if "previous" in t:
            p = t["previous"]
            measured += (f"; before: {p['minutes']:.1f} minutes "
                         f"({100 * p['test_accuracy']:.2f}%)")
        add(goal, target, measured, reached and t["minutes"] <= GOAL_MINUTES_TO_90)

    s = report.get("serving")
    what = ""
    if s:
        what = (f" ({s['document']}, {s['document_tokens']} tokens)" if "document_tokens" in s
                else " (hand-written texts)")
    exports = [("", s)] + ([(" (XLA export)", s["xla"])] if s and "xla" in s else [])
    for label, measured in exports:
        for name, field, limit in (("p50", "p50_ms", GOAL_SERVING_P50_MS),
                                   ("p99", "p99_ms", GOAL_SERVING_P99_MS)):
            goal = f"serving one typical document{label}, {name}"
            if measured is None:
                add(goal, f"<= {limit:g} ms")
            else:
                add(goal, f"<= {limit:g} ms", f"{measured[field]:.1f} ms{what}",
                    measured[field] <= limit)

    e = report.get("end_to_end")
    goal = "training documents/s end to end, new / old"
    ratio = _ratio(e["modes"], "train_documents_per_second") if e else None
    if ratio is None:
        add(goal, f">= {GOAL_END_TO_END_TRAINING:.1f}x")
    else:
        m = e["modes"]
        add(goal, f">= {GOAL_END_TO_END_TRAINING:.1f}x",
            f"{ratio:.2f}x ({m['new']['train_documents_per_second']:,.0f} vs "
            f"{m['old']['train_documents_per_second']:,.0f})", ratio >= GOAL_END_TO_END_TRAINING)

    auto = report.get("auto_precision")
    rkm = _row(report, "rkm_lstm", auto) if auto else None
    for against, limit in ((FLOAT32, GOAL_RKM_LSTM_VS_FLOAT32), (auto, GOAL_RKM_LSTM_VS_SAME)):
        goal = (f"`rkm_lstm` 1-gram at {auto or '`auto`'} vs `keras_lstm` at "
                f"{against or '`auto`'}, training tokens/s (XLA off)")
        keras_row = _row(report, BASELINE, against) if against else None
        if rkm is None or keras_row is None:
            add(goal, f">= {limit:.1f}x")
        else:
            ratio = rkm["train_tokens_per_second"] / keras_row["train_tokens_per_second"]
            add(goal, f">= {limit:.1f}x", f"{ratio:.2f}x ({rkm['train_tokens_per_second']:,.0f} vs "
                f"{keras_row['train_tokens_per_second']:,.0f})", ratio >= limit)

    target = f">= {GOAL_OF_CEILING:.0%}"
    for layer, variant in VARIANT_TABLE.items():
        if not variant.sequential:
            continue
        rows = [r for r in report.get("rows", []) if r["layer"] == layer and not r["xla"]
                and row_precision(r) == auto and r.get("implementation", "auto") == "auto"]
        if not rows:
            add(f"`{layer}` at {auto or '`auto`'} (XLA off), share of its ceiling", target)
        for r in sorted(rows, key=lambda r: r["ngram"]):
            goal = f"`{layer}` {r['ngram']}-gram at {auto} (XLA off), share of its ceiling"
            ceiling = row_ceiling(report, r)
            if ceiling is None:
                add(goal, target)
            else:
                share = r["train_tokens_per_second"] / ceiling
                add(goal, target, f"{share:.0%} ({r['train_tokens_per_second']:,.0f} of "
                    f"{ceiling:,.0f} tokens/s)", share >= GOAL_OF_CEILING)
    return result


def _goal_lines(report):
    lines = ["", "Goals, each against the figure measured above:", "",
             "| goal | measured | target | status |", "|---|---|---|---|"]
    for g in goals(report):
        status = {None: "not measured", True: "met", False: "not met"}[g["met"]]
        lines.append(f"| {g['goal']} | {g['measured'] or 'not measured'} | {g['target']} | "
                     f"{status} |")
    return lines


def markdown(report):
    """The report as the documentation's Speed section (a report written before precisions, end to
    end and scaling figures renders as it did then)."""
    if not isinstance(report["rows"], list):  # checked first: every report has its rows
        raise TypeError("'rows' is not a list")
    lines = [_header(report), ""] + [
        line for sentence in _ceiling(report) for line in (sentence, "")] + _table(report)
    if "time_to_accuracy" in report:
        lines += _time_to_accuracy_lines(report["time_to_accuracy"])
    if "serving" in report:
        lines += _serving_lines(report["serving"])
    if "end_to_end" in report:
        lines += _end_to_end_lines(report["end_to_end"])
    if "scaling" in report:
        lines += _scaling_lines(report["scaling"])
    if "language_models" in report:
        lines += language_model_benchmark.lines(report["language_models"])
    if _is_current(report):
        lines += _goal_lines(report)
    return "\n".join(lines)
