"""Speed and memory of every variant against keras.layers.LSTM, measured in one run on one machine.

Each (layer, n-gram) runs in a child process of its own so that its peak memory is its own; the
dense-matmul rate of the machine is measured first, so each variant's achieved FLOP/s can be
read as a share of what the hardware does.
"""

import dataclasses
import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np

from kasm_keras.layers.variants import VARIANT_TABLE

BASELINE = "keras_lstm"


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


def matmul_rate(size=2048, seconds=2.0):
    """FLOP/s of a float32 size x size matmul, the machine's dense-compute yardstick."""
    import tensorflow as tf

    a = tf.random.normal([size, size])
    b = tf.random.normal([size, size])
    product = tf.function(lambda a, b: tf.reduce_sum(tf.matmul(a, b)))
    product(a, b).numpy()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        product(a, b).numpy()
        count += 1
    return 2 * size**3 * count / (time.perf_counter() - start)


def loop_matmul_rate(shape, blocks=4, repeats=5):
    """FLOP/s of the recurrent product h'_{t-1} U, (batch, d) x (d, blocks d), one step at a time
    inside a `tf.while_loop` over the sequence: the rate the sequential variants' loop can reach."""
    import tensorflow as tf

    h = tf.random.normal([shape.batch, shape.units])
    kernel = tf.random.normal([shape.units, blocks * shape.units], stddev=shape.units**-0.5)

    @tf.function
    def loop(h):
        def body(t, h):
            return t + 1, tf.tanh(tf.matmul(h, kernel)[:, : shape.units])

        return tf.while_loop(lambda t, h: t < shape.time, body, (0, h))[1]

    loop(h).numpy()
    seconds = min(_time(loop, (h,), 0, 3) for _ in range(repeats))
    return 2 * shape.batch * shape.units * blocks * shape.units * shape.time / seconds


def sequence_matmul_rate(shape, ngram=1, blocks=4, repeats=5):
    """FLOP/s of the three whole-sequence products of a recurrent layer's training step, at its
    shapes: W x ((batch time, n m) x (n m, k d)), dW = x^T dz and dU = h'^T dz; timed, not
    assumed to run at the 2048x2048 rate (at k = 1 they are narrow products)."""
    import tensorflow as tf

    rows, cols = shape.batch * shape.time, blocks * shape.units
    x = tf.random.normal([rows, ngram * shape.input_dim])
    w = tf.random.normal([ngram * shape.input_dim, cols])
    h = tf.random.normal([rows, shape.units])
    dz = tf.random.normal([rows, cols])

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
    """`training_ceiling` of a measured row, or None for a layer without a time loop. Reports
    written before the whole-sequence products were timed fall back to the 2048x2048 rate."""
    blocks = _recurrent_blocks(row["layer"])
    rates = report.get("loop_matmul_flops_per_second") or {}
    if blocks is None or str(blocks) not in rates:
        return None
    sequence_rate = (report.get("sequence_matmul_flops_per_second") or {}).get(
        _sequence_key(row["layer"], row["ngram"]), report["matmul_flops_per_second"])
    return training_ceiling(row["layer"], Shape(**report["shape"]), row["ngram"],
                            rates[str(blocks)], sequence_rate)


def ceiling_share(report, row):
    """The share of the 2048x2048 matmul rate that `row_ceiling` would reach: the most a layer's
    FLOP/s can be here, given how fast its products of their own shapes run."""
    ceiling = row_ceiling(report, row)
    if ceiling is None:
        return None
    flops = training_flops_per_token(row["layer"], Shape(**report["shape"]), row["ngram"])
    return ceiling * flops / report["matmul_flops_per_second"]


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


def measure_one(layer, ngram, shape, steps, warmup, xla_modes=(False, True), implementation="auto"):
    """Training and inference tokens/s of one layer, with and without XLA, in this process."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    x = tf.random.normal([shape.batch, shape.time, shape.input_dim])
    rows = []
    for xla in xla_modes:
        model = _build(layer, ngram, shape, implementation)
        optimizer = keras.optimizers.Adam(1e-3)
        optimizer.build(model.trainable_variables)

        @tf.function(jit_compile=xla)
        def train_step(x):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model(x, training=True)))
            optimizer.apply(tape.gradient(loss, model.trainable_variables),
                            model.trainable_variables)
            return loss

        infer = tf.function(lambda x: tf.reduce_sum(model(x, training=False)), jit_compile=xla)
        tokens = shape.batch * shape.time
        train_seconds = _time(train_step, (x,), warmup, steps)
        infer_seconds = _time(infer, (x,), warmup, steps)
        rows.append({"layer": layer, "ngram": ngram, "xla": xla, "implementation": implementation,
                     "train_tokens_per_second": tokens / train_seconds,
                     "inference_tokens_per_second": tokens / infer_seconds,
                     "train_flops_per_second": training_flops_per_token(layer, shape, ngram)
                     * tokens / train_seconds})
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    for row in rows:
        row["peak_memory_mib"] = peak
    return rows


def _child(layer, ngram, shape, steps, warmup, xla_modes, implementation="auto"):
    code = (f"import json, sys; sys.path.insert(0, {os.path.dirname(os.path.dirname(os.path.abspath(__file__)))!r}); "
            "from reporting import benchmark as b; "
            f"print('ROWS' + json.dumps(b.measure_one({layer!r}, {ngram}, "
            f"b.Shape(**{dataclasses.asdict(shape)!r}), {steps}, {warmup}, {tuple(xla_modes)!r}, "
            f"{implementation!r})))")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    lines = [line for line in result.stdout.splitlines() if line.startswith("ROWS")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"benchmark of {layer} n={ngram} failed:\n{result.stderr[-3000:]}")
    return json.loads(lines[-1][4:])


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


def run(shape=Shape(), steps=10, warmup=3, ngrams=(1, 3), layers=None, xla_modes=(False, True),
        repeats=1, compare_loop=True, log=print):
    """Every layer in its own process, `repeats` rounds in turn; each figure is the best round's,
    since outside load on a shared machine only ever slows a round down. With `compare_loop`,
    the sequential variants are also measured at their smallest n-gram with
    implementation="loop" (Keras' `backend.rnn` and automatic gradients), the design that
    "auto" replaces."""
    layers = list(layers or VARIANT_TABLE) + [BASELINE]
    jobs = []
    for layer in layers:
        for ngram in ngrams if layer != BASELINE else (1,):
            jobs.append((layer, ngram, "auto"))
        if compare_loop and layer != BASELINE and VARIANT_TABLE[layer].sequential:
            jobs.append((layer, min(ngrams), "loop"))
    blocks = sorted({b for b in map(_recurrent_blocks, layers) if b is not None})
    sequence_keys = sorted({_sequence_key(layer, ngram) for layer, ngram, _ in jobs
                            if _recurrent_blocks(layer) is not None})
    report = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine(),
              "shape": dataclasses.asdict(shape), "steps": steps, "repeats": repeats,
              "matmul_flops_per_second": 0.0,
              "loop_matmul_flops_per_second": {str(k): 0.0 for k in blocks},
              "sequence_matmul_flops_per_second": {key: 0.0 for key in sequence_keys}, "rows": []}
    best = {}
    for round_ in range(repeats):
        report["matmul_flops_per_second"] = max(report["matmul_flops_per_second"], matmul_rate())
        rates = report["loop_matmul_flops_per_second"]
        for k in blocks:
            rates[str(k)] = max(rates[str(k)], loop_matmul_rate(shape, k))
        rates = report["sequence_matmul_flops_per_second"]
        for key in sequence_keys:
            ngram, k = map(int, key.split(","))
            rates[key] = max(rates[key], sequence_matmul_rate(shape, ngram, k))
        for layer, ngram, implementation in jobs:
            log(f"measuring {layer} n={ngram} implementation={implementation} "
                f"(round {round_ + 1} of {repeats}) ...")
            for row in _child(layer, ngram, shape, steps, warmup, xla_modes, implementation):
                key = (row["layer"], row["ngram"], row["xla"], row["implementation"])
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


def _ceiling(report):
    """The README's sentences on how fast the recurrent layers could train here at best, from
    the measured product rates, and what the goal of 1.5x Keras' LSTM would take."""
    rates = report.get("loop_matmul_flops_per_second") or {}
    lstm = [r for r in report["rows"] if r["layer"] == BASELINE]
    ceiling = row_ceiling(report, {"layer": "rkm_lstm", "ngram": 1})
    if ceiling is None or not lstm:
        return []
    shape = Shape(**report["shape"])
    peak = report["matmul_flops_per_second"]
    keras_best = max(lstm, key=lambda r: r["train_tokens_per_second"])
    baseline = keras_best["train_tokens_per_second"]
    flops = training_flops_per_token("rkm_lstm", shape, 1)
    measured = ", ".join(f"{float(rates[k]) / 1e9:.1f} (k = {k})" for k in sorted(rates))
    sentences = [f"Inside the time loop the recurrent product h'_(t-1) U ({shape.batch}x{shape.units} "
                 f"by {shape.units}x(k {shape.units})) runs at {measured} GFLOP/s."]
    sequence = report.get("sequence_matmul_flops_per_second") or {}
    if sequence:
        listed = ", ".join(f"{float(sequence[key]) / 1e9:.1f} (n = {key.split(',')[0]}, "
                           f"k = {key.split(',')[1]})" for key in sorted(sequence))
        sentences.append(f"The whole-sequence products W x, dW and dU, at the layers' own shapes, "
                         f"run at {listed} GFLOP/s.")
    where = "their own rates" if sequence else "the 2048x2048 rate"
    sentences.append(
        f"The ceiling column is what a recurrent layer could train at with its two per-step "
        f"products at the first rate, W x, dW and dU at {where} and no other work at all; "
        f"its share column is that ceiling's FLOP/s as a share of the 2048x2048 rate, the most "
        f"the layer's share of matmul can be here. For `rkm_lstm` at 1-gram (the same five "
        f"products as Keras' LSTM) the ceiling is {ceiling:,.0f} tokens/s, "
        f"{ceiling / baseline:.2f}x Keras' LSTM (XLA {'on' if keras_best['xla'] else 'off'}, its "
        f"faster mode); 1.5x would take {1.5 * baseline * flops / 1e9:.1f} GFLOP/s, "
        f"{1.5 * baseline * flops / peak:.0%} of the 2048x2048 rate.")
    return sentences


def markdown(report):
    rows = report["rows"]
    peak = report["matmul_flops_per_second"]
    lstm = {r["xla"]: r for r in rows if r["layer"] == BASELINE}
    rkm = {(r["ngram"], r["xla"]): r for r in rows
           if r["layer"] == "rkm_lstm" and r.get("implementation", "auto") == "auto"}
    m = report["machine"]
    lines = [f"Measured {report['date']} on {m['cpu']} ({m['cores']} cores"
             f"{', GPUs: ' + ', '.join(m['gpus']) if m['gpus'] else ', no GPU'}), TensorFlow "
             f"{m['tensorflow']}; batch {report['shape']['batch']}, sequence "
             f"{report['shape']['time']}, m = d = {report['shape']['units']}; dense matmul "
             f"(2048x2048, float32): {peak / 1e9:.1f} GFLOP/s.", ""] + [
             line for sentence in _ceiling(report) for line in (sentence, "")] + [
             "| layer | n | XLA | train tokens/s | vs Keras LSTM | vs rkm_lstm | inference tokens/s "
             "| train GFLOP/s | share of matmul | ceiling tokens/s | its share | of ceiling "
             "| peak memory MiB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        def versus(other):
            return f"{r['train_tokens_per_second'] / other['train_tokens_per_second']:.2f}x" \
                if other else ""
        ceiling = row_ceiling(report, r)
        implementation = r.get("implementation", "auto")
        label = "" if implementation == "auto" else f" ({implementation})"
        of_ceiling = "" if ceiling is None else f"{r['train_tokens_per_second'] / ceiling:.0%}"
        share = "" if ceiling is None else f"{ceiling_share(report, r):.0%}"
        lines.append(
            f"| `{r['layer']}`{label} | {r['ngram']} | {'on' if r['xla'] else 'off'} | "
            f"{r['train_tokens_per_second']:,.0f} | {versus(lstm.get(r['xla']))} | "
            f"{versus(rkm.get((r['ngram'], r['xla'])))} | {r['inference_tokens_per_second']:,.0f} | "
            f"{r['train_flops_per_second'] / 1e9:.1f} | {r['train_flops_per_second'] / peak:.0%} | "
            f"{'' if ceiling is None else f'{ceiling:,.0f}'} | {share} | "
            f"{of_ceiling} | "
            f"{r['peak_memory_mib']:,.0f} |")
    if "time_to_accuracy" in report:
        t = report["time_to_accuracy"]
        lines += ["", f"Time to accuracy: `{t['command']}` reached {100 * t['test_accuracy']:.2f}% "
                  f"on the {t['dataset']} test split in {t['minutes']:.1f} minutes of training "
                  f"({t['steps']:,} steps) on this machine."]
    if "serving" in report:
        s = report["serving"]
        lines += ["", f"Serving ({s['model']}): one document p50 {s['p50_ms']:.1f} ms, p99 "
                  f"{s['p99_ms']:.1f} ms; {s['documents_per_second']:,.0f} documents/s at batch "
                  f"{s['batch']}."]
        if "memory_mib" in s:
            added = "; ".join(f"{int(n):,} document{'' if int(n) == 1 else 's'} {mib:,.0f} MiB"
                              for n, mib in sorted(s["memory_mib"].items(), key=lambda i: int(i[0])))
            lines += ["", f"Peak memory of a process serving one request (SavedModel loaded): "
                          f"{added} (the network runs on slices of 128 documents)."]
    return "\n".join(lines)
