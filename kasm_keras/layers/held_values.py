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
  - "reverse": copy 0 alone, differentiated for each output explained (one backward pass per
    output, vectorised over the outputs; under XLA one copy per output instead): gradient x
    input is the exact share, since the held map is linear; a copy whose inputs are zero gives
    the constant (one more forward pass);
  - "forward": a copy whose inputs are zero gives the constant, and one copy per source
    carrying that source alone gives, less the constant, the source's contributions (about
    one pass per source).
`cheaper_mode` picks the cheaper one. `KernelCell.update` reads its nonlinearities from
`current()`, so every variant of Table 1 is held by the same code; layers call `current()`
too for nonlinearities of their own (a head's ReLU).
"""

import contextlib
import threading

import tensorflow as tf
from keras import activations, ops

MODES = ("auto", "reverse", "forward")
TOP = "top"  # `decompose(chosen=TOP)`: each row's largest output

# f(a) / a at a = 0, where the secant is its limit: tanh's slope, ReLU's mask (a > 0 is off).
_SECANT_AT_ZERO = {"tanh": 1.0, "relu": 0.0}


class Actual:
    """The nonlinearities as they are: what `current()` gives outside `holding`.

    Code that must also run held (a cell's update, a head's ReLU) calls its nonlinearities
    through `current()`, which is this object except while explaining.

    Examples:
        >>> from kasm_keras.layers import held_values
        >>> fn = held_values.current()  # outside `holding`: an `Actual`
        >>> float(fn.sigmoid(0.0)), float(fn.activation("relu", -2.0)), fn.hold(3.0)
        (0.5, 0.0, 3.0)
    """

    def sigmoid(self, x):
        """The logistic sigmoid of `x`.

        Args:
            x: a tensor.

        Returns:
            `sigmoid(x)`, of `x`'s shape and dtype.
        """
        return ops.sigmoid(x)

    def activation(self, name, x):
        """The Keras activation `name` applied to `x`.

        Args:
            name: an activation's name, e.g. "tanh", "relu" or "linear".
            x: a tensor.

        Returns:
            The activation of `x`, of `x`'s shape and dtype.
        """
        return activations.get(name)(x)

    def hold(self, x):
        """`x` itself: outside `holding` nothing is held.

        Args:
            x: a tensor (a gate, a layer norm's 1/sigma).

        Returns:
            `x`.
        """
        return x


class Held(Actual):
    """The nonlinearities of copy 0, held: each factor is computed on copy 0's rows (the real
    inputs) and given to every copy as a constant of the differentiation.

    `holding` puts one in force; under it the network is linear in its inputs, so each
    input's share of the outputs is exact.

    Args:
        rows: the batch size of one copy (an int or a scalar tensor).

    Examples:
        >>> import numpy as np
        >>> from kasm_keras.layers import held_values
        >>> held = held_values.Held(rows=1)
        >>> x = np.array([[2.0], [-3.0]], "float32")  # copy 0: 2; copy 1: -3
        >>> held.activation("tanh", x).numpy().round(3)  # tanh(2) / 2 times each copy's x
        array([[ 0.964],
               [-1.446]], dtype=float32)
    """

    def __init__(self, rows):
        self.rows = rows

    def hold(self, x):
        """Copy 0's rows of `x`, given to every copy, as a constant of the differentiation.

        Args:
            x: a tensor whose first axis holds the copies, copy-major (`[copies * rows, ...]`).

        Returns:
            A tensor of `x`'s shape whose every copy is copy 0 of `x`, with no gradient.
        """
        first = x[: self.rows]
        copies = tf.shape(x)[0] // self.rows
        multiples = tf.concat([[copies], tf.ones([tf.rank(x) - 1], tf.int32)], axis=0)
        held = tf.tile(first, multiples)
        held.set_shape(x.shape)  # a loop's state keeps its static shape
        return tf.stop_gradient(held)

    def sigmoid(self, x):
        """The sigmoid gate of copy 0, held for every copy.

        Args:
            x: the gate's pre-activations, copy-major.

        Returns:
            `hold(sigmoid(x))`, of `x`'s shape.
        """
        return self.hold(ops.sigmoid(x))

    def activation(self, name, x):
        """`x` times the activation's secant `f(a) / a` at copy 0's `a`, held for every copy.

        On copy 0 this equals the activation itself; on every copy it is linear in `x`.

        Args:
            name: "tanh", "relu" or "linear".
            x: the pre-activations, copy-major.

        Returns:
            A tensor of `x`'s shape.

        Raises:
            ValueError: `name` has no held form.
        """
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
    """The nonlinearities in force: `Held` inside `holding`, `Actual` otherwise.

    Returns:
        An object with `sigmoid(x)`, `activation(name, x)` and `hold(x)`.

    Examples:
        >>> from kasm_keras.layers import held_values
        >>> type(held_values.current()).__name__
        'Actual'
        >>> with held_values.holding(rows=2):
        ...     type(held_values.current()).__name__
        'Held'
    """
    return getattr(_state, "held", None) or _ACTUAL


def is_holding():
    """Whether a `holding` context is in force (layers then skip what cannot be held).

    Returns:
        A bool.

    Examples:
        >>> from kasm_keras.layers import held_values
        >>> with held_values.holding(rows=2):
        ...     held_values.is_holding()
        True
        >>> held_values.is_holding()
        False
    """
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

    Returns:
        A context manager; entering it gives the `Held` nonlinearities in force.

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
    """`x` repeated `copies` times along the batch axis, copy-major (as the inputs are).

    A network run under `holding` tiles with it whatever it reads per row besides the source
    (masks, offsets), so that every copy sees its row's own.

    Args:
        x: a tensor (or array) `[batch, ...]`.
        copies: how many copies (an int or a scalar tensor).

    Returns:
        A tensor `[copies * batch, ...]`: rows `[k * batch, (k + 1) * batch)` are `x`.

    Examples:
        >>> from kasm_keras.layers import held_values
        >>> held_values.tile_rows([[1, 2], [3, 4]], 2).numpy()
        array([[1, 2],
               [3, 4],
               [1, 2],
               [3, 4]], dtype=int32)
    """
    x = tf.convert_to_tensor(x)
    if isinstance(copies, int) and copies == 1:
        return x
    multiples = tf.concat([[copies], tf.ones([tf.rank(x) - 1], tf.int32)], axis=0)
    return tf.tile(x, multiples)


def cheaper_mode(sources, outputs):
    """The cheaper mode of `decompose`: "forward" when there are no more sources than outputs
    explained, "reverse" otherwise.

    Forward accumulation costs about one pass per source and reverse accumulation about one
    per output, besides the real and the constant's copies.

    Args:
        sources: how many sources are shared out (e.g. a document's tokens).
        outputs: how many outputs are explained.

    Returns:
        "forward" or "reverse".

    Examples:
        >>> from kasm_keras.layers import held_values
        >>> held_values.cheaper_mode(sources=3, outputs=4), held_values.cheaper_mode(40, 4)
        ('forward', 'reverse')
    """
    return "forward" if sources <= outputs else "reverse"


def decompose(forward, source, extras, feature_axes, num_outputs, mode="reverse", chosen=None,
              for_xla=False):
    """Contributions of each source to the chosen outputs, the constant, and the outputs.

    Args:
        forward: `forward(inputs, copies, *extras)` -> `[copies * batch, num_outputs]`: the
            network on `inputs` (`source`'s shape with `copies * batch` rows); it tiles
            whatever else it reads per row (`extras`, masks) with `tile_rows`. It runs inside
            `holding`, and must be linear in `inputs` under held values (what is not
            proportional to the source, offsets included, it adds itself).
        source: float `[batch, *sources, *features]`, the part of the input shared out (the
            network computes in its dtype).
        extras: tensors passed on to `forward`.
        feature_axes: how many trailing axes of `source` belong to one source (summed over).
        num_outputs: the outputs' width.
        mode: "reverse" or "forward" (the choice is the caller's, e.g. by `cheaper_mode`).
        chosen: int32 `[batch, k]`, the outputs shared out for each row; "top" for each row's
            largest output (its predicted class); None for all `num_outputs` in order.
            Reverse accumulation costs about one backward pass per chosen output.
        for_xla: run under XLA (`jit_compile`), which cannot compile the vectorised backward
            loop (pfor's TensorLists): reverse accumulation then differentiates one copy of
            the batch per chosen output, in one backward pass.

    Returns:
        (contributions `[batch, *sources, k]`, constant `[batch, k]`, outputs
            `[batch, num_outputs]`), tensors of the network's dtype: summed over the sources,
            contributions plus constant are the chosen outputs.

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
    source = tf.convert_to_tensor(source)
    if not source.dtype.is_floating:
        source = tf.cast(source, tf.float32)
    rows = tf.shape(source)[0]
    if chosen is None:
        chosen = tf.tile(tf.range(num_outputs, dtype=tf.int32)[None], [rows, 1])
    elif not is_top(chosen):
        chosen = tf.convert_to_tensor(chosen, tf.int32)
    source_rank = source.shape.rank - 1 - feature_axes  # axes that index the sources
    if mode == "forward":
        contributions, constant, outputs = _forward(
            forward, source, extras, feature_axes, num_outputs)
        chosen = _top(outputs) if is_top(chosen) else chosen
        return (_pick(contributions, chosen, source_rank),
                tf.gather(constant, chosen, batch_dims=1), outputs)
    how = _reverse_by_copies if for_xla else _reverse
    contributions, outputs, chosen = how(forward, source, extras, feature_axes, chosen)
    # The constant on its own: the network on zero inputs under the real inputs' held values
    # (one forward pass, no gradient), so that the shares and the constant adding up to the
    # outputs checks the decomposition rather than defines the constant.
    with holding(rows):
        both = forward(tf.concat([source, tf.zeros_like(source)], axis=0), 2, *extras)
    return contributions, tf.gather(both[rows:], chosen, batch_dims=1), outputs


def is_top(chosen):
    """Whether `chosen` asks for each row's largest output (`TOP`) rather than output ids.

    Args:
        chosen: what `decompose` takes as `chosen`.

    Returns:
        A bool.

    Examples:
        >>> from kasm_keras.layers import held_values
        >>> held_values.is_top("top"), held_values.is_top([[0, 2]]), held_values.is_top(None)
        (True, False, False)
    """
    return isinstance(chosen, str) and chosen == TOP


def _gradient_times_input(gradient, inputs, feature_axes):
    """Each source's share: the gradient times the input, summed over one source's features."""
    share = gradient * inputs
    return tf.reduce_sum(share, axis=list(range(-feature_axes, 0))) if feature_axes else share


def _top(outputs):
    return tf.argmax(outputs, axis=-1, output_type=tf.int32)[:, None]


def _pick(contributions, chosen, source_rank):
    """`contributions[b, ..., chosen[b, k]]` as `[batch, sources..., k]`."""
    moved = tf.transpose(contributions, [0, source_rank + 1, *range(1, source_rank + 1)])
    picked = tf.gather(moved, chosen, batch_dims=1)  # [batch, k, sources...]
    return tf.transpose(picked, [0, *range(2, source_rank + 2), 1])


def _reverse(forward, source, extras, feature_axes, chosen):
    """The real inputs differentiated for each chosen output (TOP: the row's largest), one
    backward pass per output vectorised over them (pfor; a row's outputs depend on its own
    source alone): the contributions `[batch, sources..., k]`, the outputs and the chosen
    ids."""
    rows = tf.shape(source)[0]
    with tf.GradientTape() as tape:
        tape.watch(source)
        with holding(rows):
            out = forward(source, 1, *extras)
        if is_top(chosen):
            chosen = _top(out)
        picked = tf.gather(out, chosen, batch_dims=1)  # [batch, k]
    grad = tape.batch_jacobian(picked, source)  # [batch, k, *source.shape[1:]]
    share = _gradient_times_input(grad, source[:, None], feature_axes)
    rank = len(share.shape)
    return tf.transpose(share, [0, *range(2, rank), 1]), out, chosen


def _reverse_by_copies(forward, source, extras, feature_axes, chosen):
    """As `_reverse`, with copy k of the real inputs differentiated for output `chosen[:, k]`
    in one backward pass of all the copies: no pfor, so XLA compiles it."""
    rows = tf.shape(source)[0]
    copies = 1 if is_top(chosen) else tf.shape(chosen)[1]
    inputs = tile_rows(source, copies)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        with holding(rows):
            out = forward(inputs, copies, *extras)
        if is_top(chosen):
            chosen = _top(out[:rows])
        picked = tf.gather(out, tf.reshape(tf.transpose(chosen), [-1]), batch_dims=1)
    share = _gradient_times_input(tape.gradient(picked, inputs), inputs, feature_axes)
    share = tf.reshape(share, tf.concat([[copies, rows], tf.shape(share)[1:]], axis=0))
    rank = len(share.shape)
    return tf.transpose(share, [1, *range(2, rank), 0]), out[:rows], chosen


def _forward(forward, source, extras, feature_axes, num_outputs):
    """One copy per source carrying it alone, and one of zeros for the constant: the
    contributions to every output `[batch, sources..., num_outputs]`, the constant and the
    outputs `[batch, num_outputs]`."""
    rows = tf.shape(source)[0]
    source_rank = source.shape.rank - 1 - feature_axes
    source_shape = tf.shape(source)[1:1 + source_rank]
    count = tf.reduce_prod(source_shape)
    copies = count + 2  # the real inputs, the constant's, then one per source
    one_hot = tf.reshape(tf.eye(count), tf.concat(
        [[count, 1], source_shape, tf.ones([feature_axes], tf.int32)], axis=0))
    alone = tf.reshape(one_hot * source[None], tf.concat([[-1], tf.shape(source)[1:]], axis=0))
    inputs = tf.concat([source, tf.zeros_like(source), alone], axis=0)
    with holding(rows):
        out = tf.reshape(forward(inputs, copies, *extras), [copies, rows, num_outputs])
    share = tf.reshape(out[2:] - out[1][None],
                       tf.concat([source_shape, [rows, num_outputs]], axis=0))
    contributions = tf.transpose(share, [source_rank, *range(source_rank), source_rank + 1])
    return contributions, out[1], out[0]
