"""The kernel view of a prediction: each input's exact share of the outputs.

Hold at their values in the forward pass every sigmoid gate (eta_t, f_t, o_t, so 1 - f_t too),
each step's layer-norm 1/sigma and each nonlinearity's secant (tanh(a)/a, 1 at a = 0; ReLU's
0/1 mask). The network is then an affine map of its inputs: what reaches the outputs from the
input projections W_j x_{t-j}, carried through U h'_{t-1}, later layers, the masked mean and a
head, is linear in the inputs, and the rest (biases, the layer norm's beta, any offset) is a
constant. An input's *contribution* is its share of the linear part; contributions and constant
add up to the outputs exactly, to float32 rounding.

How it is computed: the batch holds several copies of the documents (copy-major: rows
[k * batch, (k + 1) * batch) are copy k). Copy 0 gets the real inputs, and every held factor is
taken from it, for all copies, as a constant of the differentiation (`holding`). So copy 0's
outputs are the network's own, and
  - "reverse": copy 0 alone, differentiated for each output (one backward pass per output,
    vectorised over the outputs): gradient x input is the exact share, since the held map is
    linear, and the constant is the outputs less the shares;
  - "forward": a copy whose inputs are zero gives the constant, and one copy per source
    carrying that source alone gives, less the constant, the source's contributions (about
    one pass per source).
`decompose` picks the cheaper one. `KernelCell.update` reads its nonlinearities from
`current()`, so every variant of Table 1 is held by the same code; layers call `current()`
too for nonlinearities of their own (a head's ReLU).
"""

import contextlib
import threading

import tensorflow as tf
from keras import activations, ops

MODES = ("auto", "reverse", "forward")

# f(a) / a at a = 0, where the secant is its limit: tanh's slope, ReLU's mask (a > 0 is off).
_SECANT_AT_ZERO = {"tanh": 1.0, "relu": 0.0}


class Actual:
    """The nonlinearities as they are: what `current()` gives outside `holding`."""

    def sigmoid(self, x):
        return ops.sigmoid(x)

    def activation(self, name, x):
        return activations.get(name)(x)

    def hold(self, x):
        return x


class Held(Actual):
    """The nonlinearities of copy 0, held: each factor is computed on copy 0's rows (the real
    inputs) and given to every copy as a constant of the differentiation.

    Args:
        rows: the batch size of one copy (an int or a scalar tensor).
    """

    def __init__(self, rows):
        self.rows = rows

    def hold(self, x):
        first = x[: self.rows]
        copies = tf.shape(x)[0] // self.rows
        multiples = tf.concat([[copies], tf.ones([tf.rank(x) - 1], tf.int32)], axis=0)
        held = tf.tile(first, multiples)
        held.set_shape(x.shape)  # a loop's state keeps its static shape
        return tf.stop_gradient(held)

    def sigmoid(self, x):
        return self.hold(ops.sigmoid(x))

    def activation(self, name, x):
        if name == "linear":
            return x
        if name not in _SECANT_AT_ZERO:
            raise ValueError(f"no held form for the activation {name!r}; held are "
                             f"{sorted(_SECANT_AT_ZERO)} and 'linear'")
        zero = ops.equal(x, 0)
        safe = ops.where(zero, ops.ones_like(x), x)
        secant = ops.where(zero, ops.full_like(x, _SECANT_AT_ZERO[name]),
                           activations.get(name)(safe) / safe)
        return self.hold(secant) * x


_state = threading.local()
_ACTUAL = Actual()


def current():
    """The nonlinearities in force: `Held` inside `holding`, `Actual` otherwise."""
    return getattr(_state, "held", None) or _ACTUAL


def is_holding():
    return getattr(_state, "held", None) is not None


@contextlib.contextmanager
def holding(rows):
    """A context in which the cells (and whatever reads `current()`) hold copy 0's values.

    Inside it, every gate, layer-norm 1/sigma and nonlinearity's secant is computed on the
    batch's first `rows` rows (copy 0, the real inputs) and given to every copy as a
    constant of the differentiation, so the network is linear in its inputs (see the module's
    docstring). Contexts nest; the previous one is restored on leaving.

    Args:
        rows: one copy's batch size (an int or a scalar tensor).

    Yields:
        The `Held` nonlinearities in force.

    Examples:
        >>> import numpy as np, kasm_keras
        >>> from kasm_keras.layers import held_values
        >>> rnn = kasm_keras.KernelRNN(8, variant="rkm_cifg")
        >>> x = np.random.randn(2, 5, 4).astype("float32")
        >>> with held_values.holding(rows=2):
        ...     y = rnn(np.concatenate([x, np.zeros_like(x)]))  # copy 1 runs under copy 0's gates
        >>> y.shape
        TensorShape([4, 8])
    """
    previous = getattr(_state, "held", None)
    _state.held = Held(rows)
    try:
        yield _state.held
    finally:
        _state.held = previous


def tile_rows(x, copies):
    """`x` repeated `copies` times along the batch axis, copy-major (as the inputs are)."""
    x = tf.convert_to_tensor(x)
    if isinstance(copies, int) and copies == 1:
        return x
    multiples = tf.concat([[copies], tf.ones([tf.rank(x) - 1], tf.int32)], axis=0)
    return tf.tile(x, multiples)


def cheaper_mode(sources, outputs):
    """"forward" when there are no more sources than outputs: both cost about one pass per
    source or output, besides the real and the constant's copies."""
    return "forward" if sources <= outputs else "reverse"


def decompose(forward, source, extras, feature_axes, num_outputs, mode="reverse"):
    """Contributions of each source to each output, the constant, and the outputs.

    Args:
        forward: `forward(inputs, copies, *extras)` -> `[copies * batch, num_outputs]`: the
            network on `inputs` (`source`'s shape with `copies * batch` rows); it tiles
            whatever else it reads per row (`extras`, masks) with `tile_rows`. It runs inside
            `holding`, and must be linear in `inputs` under held values (what is not
            proportional to the source, offsets included, it adds itself).
        source: float32 `[batch, *sources, *features]`, the part of the input shared out.
        extras: tensors passed on to `forward`.
        feature_axes: how many trailing axes of `source` belong to one source (summed over).
        num_outputs: the outputs' width.
        mode: "reverse" or "forward" (the choice is the caller's, e.g. by `cheaper_mode`).

    Returns:
        (contributions `[batch, *sources, num_outputs]`, constant `[batch, num_outputs]`,
            outputs `[batch, num_outputs]`), float32 tensors.

    Examples:
        >>> import keras, numpy as np, kasm_keras
        >>> from kasm_keras.layers import held_values
        >>> rnn, head = kasm_keras.KernelRNN(8, variant="rkm_cifg"), keras.layers.Dense(3)
        >>> def forward(inputs, copies):
        ...     return head(rnn(inputs))
        >>> x = np.random.randn(2, 5, 4).astype("float32")  # 2 sequences of 5 steps
        >>> contributions, constant, outputs = held_values.decompose(forward, x, (), 1, 3)
        >>> contributions.shape  # each step's share of each output
        TensorShape([2, 5, 3])
        >>> np.allclose(np.sum(contributions, axis=1) + constant, outputs, atol=1e-5)
        True
    """
    if mode not in ("reverse", "forward"):
        raise ValueError(f"mode must be 'reverse' or 'forward', got {mode!r}")
    source = tf.convert_to_tensor(source, tf.float32)
    rows = tf.shape(source)[0]
    rank = source.shape.rank
    source_rank = rank - 1 - feature_axes  # axes that index the sources
    source_shape = tf.shape(source)[1:1 + source_rank]
    zeros = tf.zeros_like(source)
    if mode == "reverse":
        with tf.GradientTape() as tape:
            tape.watch(source)
            with holding(rows):
                outputs = forward(source, 1, *extras)
        # One backward pass per output, vectorised over the outputs (pfor); row b's outputs
        # depend on row b's source alone.
        grad = tape.batch_jacobian(outputs, source)  # [batch, outputs, *source.shape[1:]]
        share = grad * source[:, None]
        if feature_axes:
            share = tf.reduce_sum(share, axis=list(range(-feature_axes, 0)))
        contributions = tf.transpose(share, [0, *range(2, source_rank + 2), 1])
        total = tf.reduce_sum(tf.reshape(share, [rows, num_outputs, -1]), axis=-1)
        return contributions, outputs - total, outputs
    count = tf.reduce_prod(source_shape)
    copies = count + 2  # the real inputs, the constant's, then one per source
    one_hot = tf.reshape(tf.eye(count), tf.concat(
        [[count, 1], source_shape, tf.ones([feature_axes], tf.int32)], axis=0))
    alone = tf.reshape(one_hot * source[None], tf.concat([[-1], tf.shape(source)[1:]], axis=0))
    inputs = tf.concat([source, zeros, alone], axis=0)
    with holding(rows):
        out = tf.reshape(forward(inputs, copies, *extras), [copies, rows, num_outputs])
    constant = out[1]
    share = tf.reshape(out[2:] - constant[None],
                       tf.concat([source_shape, [rows, num_outputs]], axis=0))
    contributions = tf.transpose(share, [source_rank, *range(source_rank), source_rank + 1])
    return contributions, constant, out[0]
