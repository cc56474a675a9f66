"""Which precision to train in: `--precision=auto|float32|mixed_bfloat16|mixed_float16`.

`auto` picks `mixed_bfloat16` where the hardware multiplies bfloat16 fast and `float32`
elsewhere. On a GPU the answer is its compute capability (8.0 and later have bfloat16 tensor
cores). On a CPU it is measured: a CPU without AVX512_BF16 or AMX runs TensorFlow's bfloat16
matmul several times slower than float32, one with them faster, and a short timed product tells
the two apart more reliably than a list of CPU names.

Under either mixed policy the cells keep their gates, state and layer norm in float32
(`kasm_keras.layers.kernel_cell.math_dtype`) and the variables stay float32, so the optimizer
updates float32 weights and a saved model's weights are float32 whatever it was trained in.
Only `mixed_float16` needs loss scaling.
"""

import contextlib
import functools
import time

import keras
import tensorflow as tf

PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
POLICIES = PRECISIONS[1:]
# bfloat16 must beat float32 by this factor on the timed product to be chosen.
MIN_SPEEDUP = 1.25
_SIZE = 1024


def _seconds_per_product(dtype, repeats=5):
    a = tf.random.stateless_normal([_SIZE, _SIZE], seed=[1, 2], dtype=tf.float32)
    a = tf.cast(a, dtype)
    product = tf.function(lambda x: tf.matmul(x, x), jit_compile=False)
    product(a).numpy()  # trace and warm up
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        product(a).numpy()
        best = min(best, time.perf_counter() - started)
    return best


@functools.cache
def bfloat16_speedup():
    """float32 time / bfloat16 time of a 1024x1024 matmul on the default device (measured once
    per process)."""
    return _seconds_per_product(tf.float32) / _seconds_per_product(tf.bfloat16)


def gpu_has_fast_bfloat16():
    """Whether every GPU multiplies bfloat16 fast (compute capability 8.0 or later).

    Returns:
        None without a GPU; else True or False.

    Examples:
        >>> from kasm_keras.training import precision
        >>> precision.gpu_has_fast_bfloat16() in (None, True, False)
        True
    """
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return None
    capabilities = [tf.config.experimental.get_device_details(g).get("compute_capability", (0, 0))
                    for g in gpus]
    return all(tuple(c) >= (8, 0) for c in capabilities)


@functools.cache
def auto_policy():
    """The policy `--precision=auto` resolves to on this machine."""
    gpu = gpu_has_fast_bfloat16()
    fast = gpu if gpu is not None else bfloat16_speedup() >= MIN_SPEEDUP
    return "mixed_bfloat16" if fast else "float32"


_auto_fixed = []  # the policies `auto_resolves_to` blocks give "auto", innermost last


def resolve(precision):
    """The Keras dtype policy name for a `--precision` value.

    Args:
        precision: one of `PRECISIONS`; "auto" picks `mixed_bfloat16` where this machine
            multiplies bfloat16 fast, else `float32` (unless `auto_resolves_to` fixes it).

    Returns:
        A policy name: "float32", "mixed_bfloat16" or "mixed_float16".

    Raises:
        ValueError: `precision` is not one of `PRECISIONS`.

    Examples:
        >>> from kasm_keras.training import precision
        >>> precision.resolve("mixed_float16")
        'mixed_float16'
        >>> precision.resolve("auto") in ("float32", "mixed_bfloat16")
        True
    """
    if precision not in PRECISIONS:
        raise ValueError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision != "auto":
        return precision
    return _auto_fixed[-1] if _auto_fixed else auto_policy()


@contextlib.contextmanager
def auto_resolves_to(policy):
    """Within the block, `resolve("auto")` returns `policy`.

    A resumed run keeps the policy its start chose, whatever a timed product on a busy machine
    would say now.

    Args:
        policy: one of "float32", "mixed_bfloat16" or "mixed_float16".

    Returns:
        A context manager.

    Raises:
        ValueError: `policy` is not a dtype policy.

    Examples:
        >>> from kasm_keras.training import precision
        >>> with precision.auto_resolves_to("mixed_bfloat16"):
        ...     precision.resolve("auto")
        'mixed_bfloat16'
    """
    if policy not in POLICIES:
        raise ValueError(f"not a dtype policy: {policy!r}")
    _auto_fixed.append(policy)
    try:
        yield
    finally:
        _auto_fixed.pop()


def needs_loss_scaling(policy):
    """Whether training under `policy` needs a LossScaleOptimizer (float16's small range).

    Args:
        policy: a Keras dtype policy name.

    Returns:
        True for "mixed_float16" alone.

    Examples:
        >>> from kasm_keras.training import precision
        >>> precision.needs_loss_scaling("mixed_float16")
        True
        >>> precision.needs_loss_scaling("mixed_bfloat16")
        False
    """
    return policy == "mixed_float16"


class policy_scope:
    """Sets Keras' global dtype policy for a block and restores the previous one after it.

    Args:
        policy: a Keras dtype policy name, e.g. "mixed_bfloat16".

    Examples:
        >>> import keras
        >>> from kasm_keras.training import precision
        >>> with precision.policy_scope("mixed_bfloat16"):
        ...     keras.config.dtype_policy().name
        'mixed_bfloat16'
        >>> keras.config.dtype_policy().name
        'float32'
    """

    def __init__(self, policy):
        self.policy = policy

    def __enter__(self):
        self.previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy(self.policy)
        return self

    def __exit__(self, *exc):
        keras.config.set_dtype_policy(self.previous)
        return False
