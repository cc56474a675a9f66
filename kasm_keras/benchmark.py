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

from kasm_keras.variants import VARIANT_TABLE

BASELINE = "keras_lstm"


@dataclasses.dataclass(frozen=True)
class Shape:
    batch: int = 64
    time: int = 128
    input_dim: int = 300
    units: int = 300


def forward_flops_per_token(layer, shape, ngram):
    """Multiply-adds of the layer's matmuls per token, times two (the figure FLOP/s counts)."""
    m, d = shape.input_dim, shape.units
    variant = VARIANT_TABLE["lstm" if layer == BASELINE else layer]  # Keras' LSTM has lstm's weights
    return 2 * variant.weight_entries(m, d, 1 if layer == BASELINE else ngram)


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


def _build(layer, ngram, shape):
    import keras

    from kasm_keras import KernelRNN

    inputs = keras.Input((shape.time, shape.input_dim))
    if layer == BASELINE:
        rnn = keras.layers.LSTM(shape.units, return_sequences=True)
    else:
        rnn = KernelRNN(shape.units, variant=layer, ngram=ngram, return_sequences=True)
    outputs = keras.ops.mean(rnn(inputs), axis=1)
    return keras.Model(inputs, outputs)


def _time(function, args, warmup, steps):
    for _ in range(warmup):
        function(*args).numpy()
    start = time.perf_counter()
    for _ in range(steps):
        function(*args).numpy()
    return (time.perf_counter() - start) / steps


def measure_one(layer, ngram, shape, steps, warmup, xla_modes=(False, True)):
    """Training and inference tokens/s of one layer, with and without XLA, in this process."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    x = tf.random.normal([shape.batch, shape.time, shape.input_dim])
    rows = []
    for xla in xla_modes:
        model = _build(layer, ngram, shape)
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
        rows.append({"layer": layer, "ngram": ngram, "xla": xla,
                     "train_tokens_per_second": tokens / train_seconds,
                     "inference_tokens_per_second": tokens / infer_seconds,
                     "train_flops_per_second": 3 * forward_flops_per_token(layer, shape, ngram)
                     * tokens / train_seconds})
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    for row in rows:
        row["peak_memory_mib"] = peak
    return rows


def _child(layer, ngram, shape, steps, warmup, xla_modes):
    code = ("import json, sys; from kasm_keras import benchmark as b; "
            f"print('ROWS' + json.dumps(b.measure_one({layer!r}, {ngram}, "
            f"b.Shape(**{dataclasses.asdict(shape)!r}), {steps}, {warmup}, {tuple(xla_modes)!r})))")
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
        log=print):
    layers = list(layers or VARIANT_TABLE) + [BASELINE]
    report = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine(),
              "shape": dataclasses.asdict(shape), "steps": steps,
              "matmul_flops_per_second": matmul_rate(), "rows": []}
    for layer in layers:
        for ngram in ngrams if layer != BASELINE else (1,):
            log(f"measuring {layer} n={ngram} ...")
            report["rows"].extend(_child(layer, ngram, shape, steps, warmup, xla_modes))
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


def markdown(report):
    rows = report["rows"]
    peak = report["matmul_flops_per_second"]
    lstm = {r["xla"]: r for r in rows if r["layer"] == BASELINE}
    rkm = {(r["ngram"], r["xla"]): r for r in rows if r["layer"] == "rkm_lstm"}
    m = report["machine"]
    lines = [f"Measured {report['date']} on {m['cpu']} ({m['cores']} cores"
             f"{', GPUs: ' + ', '.join(m['gpus']) if m['gpus'] else ', no GPU'}), TensorFlow "
             f"{m['tensorflow']}; batch {report['shape']['batch']}, sequence "
             f"{report['shape']['time']}, m = d = {report['shape']['units']}; dense matmul "
             f"(2048x2048, float32): {peak / 1e9:.1f} GFLOP/s.", "",
             "| layer | n | XLA | train tokens/s | vs Keras LSTM | vs rkm_lstm | inference tokens/s "
             "| train GFLOP/s | share of matmul | peak memory MiB |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        def versus(other):
            return f"{r['train_tokens_per_second'] / other['train_tokens_per_second']:.2f}x" \
                if other else ""
        lines.append(
            f"| `{r['layer']}` | {r['ngram']} | {'on' if r['xla'] else 'off'} | "
            f"{r['train_tokens_per_second']:,.0f} | {versus(lstm.get(r['xla']))} | "
            f"{versus(rkm.get((r['ngram'], r['xla'])))} | {r['inference_tokens_per_second']:,.0f} | "
            f"{r['train_flops_per_second'] / 1e9:.1f} | {r['train_flops_per_second'] / peak:.0%} | "
            f"{r['peak_memory_mib']:,.0f} |")
    if "serving" in report:
        s = report["serving"]
        lines += ["", f"Serving ({s['model']}): one document p50 {s['p50_ms']:.1f} ms, p99 "
                  f"{s['p99_ms']:.1f} ms; {s['documents_per_second']:,.0f} documents/s at batch "
                  f"{s['batch']}."]
    return "\n".join(lines)
