"""The memory kernel of a `KernelRNN` over a sequence: how strongly the candidate `c~_s` of
step s weighs in the memory cell `c_t` of each later step t, under the held values of the
explanations (`kasm_keras.layers.held_values`).

For RKM-LSTM the paper writes `c_t = sum_s (prod_{r=s+1..t} f_r) * eta_s * c~_s`: the weight of
step s in the state at step t is a product of gates, which is what "memory" means for these
cells. With the gates, the layer norm's 1/sigma and the nonlinearities' secants held, `c_t` is
linear in every `c~_s` (through the gated sum and, for the recurrent variants, through
`U h'_{t-1}` too), and

    K[t, s] = mean over units of |(d c_t / d c~_s) v|,

for `v` a fixed vector of random signs (one Jacobian-vector product per step s, not a Jacobian
per unit: the mean of |J v| is the mean of |J|'s diagonal when J is diagonal, as the gated sum
alone is). `K[t, s]` is 0 for s > t; a feed-forward variant (no memory, no recurrence) has
`K[t, t]` alone. Every variant of Table 1 is held by the same code (`KernelCell.update`), so no
variant is special-cased here.

How it is computed: the batch holds `time + 1` copies of the sequences (copy-major, as in
`held_values`). Copy 0 runs as is and gives every held factor; copy 1 + s adds `v` to the
candidate block of step s's pre-activations. Since the held map is linear, copy 1 + s less copy
0 is `(d c_t / d c~_s) v` at every t.
"""

import numpy as np
import tensorflow as tf
from keras import ops

from kasm_keras.layers import held_values
from kasm_keras.layers.kernel_cell import math_dtype


def signs(units, seed=0):
    """The fixed vector v of random signs that `memory_kernel` pushes each candidate by.

    Args:
        units: its length, the cell's d.
        seed: the seed of the draw; one seed gives one vector.

    Returns:
        A float32 NumPy array `[units]` of +1 and -1.

    Examples:
        >>> from kasm_keras.layers.memory_kernel import signs
        >>> v = signs(6)
        >>> sorted(set(v.tolist())), v.dtype
        ([-1.0, 1.0], dtype('float32'))
    """
    return np.where(np.random.default_rng(seed).random(units) < 0.5, -1.0, 1.0).astype(
        np.float32)


def memory_kernel(rnn, sequences, mask=None, seed=0):
    """The memory kernel `K[b, t, s]` of a `KernelRNN` over sequences.

    It is computed with the layer's own cell (its variant, weights and n-gram width); rows and
    columns past a sequence's end (where `mask` is False) are 0, as is every `K[t, s]` with
    s > t.

    Args:
        rnn: a built `kasm_keras.KernelRNN`.
        sequences: its input, `[batch, time, features]`.
        mask: bool `[batch, time]`, True at a sequence's real steps (default: all).
        seed: the seed of the sign vector v.

    Returns:
        A NumPy array `[batch, time, time]`: at `[b, t, s]`, how strongly step s's candidate
            weighs in the state at step t (see the module's docstring).

    Examples:
        >>> import numpy as np, kasm_keras
        >>> from kasm_keras.layers.memory_kernel import memory_kernel
        >>> rnn = kasm_keras.KernelRNN(8, variant="rkm_lstm")
        >>> x = np.random.randn(1, 5, 4).astype("float32")
        >>> _ = rnn(x)  # builds the layer
        >>> memory_kernel(rnn, x).shape
        (1, 5, 5)
    """
    cell = rnn.cell
    sequences = tf.convert_to_tensor(sequences, tf.float32)
    batch, time = int(sequences.shape[0]), int(sequences.shape[1])
    if mask is None:
        mask = tf.ones([batch, time], tf.bool)
    mask = tf.convert_to_tensor(mask, tf.bool)
    sequences = tf.where(mask[:, :, None], sequences, tf.zeros_like(sequences))
    dtype = math_dtype(cell.compute_dtype)
    projected = tf.cast(cell.project_sequence(ops.cast(sequences, cell.compute_dtype)), dtype)
    units, copies = cell.units, time + 1
    # Copy 1 + s: v added to the candidate block of step s.
    block = cell.spec.blocks.index("candidate")
    v = tf.constant(signs(units, seed), dtype)
    push = tf.concat([tf.zeros([block * units], dtype), v,
                      tf.zeros([(cell.spec.k - block - 1) * units], dtype)], axis=0)
    steps = tf.concat([tf.zeros([1, time], dtype), tf.eye(time, dtype=dtype)], axis=0)
    pushes = steps[:, None, :, None] * push  # [copies, 1, time, k d]
    z_all = tf.reshape(projected[None] + pushes, [copies * batch, time, -1])
    tiled_mask = held_values.tile_rows(mask, copies)
    h = tf.zeros([copies * batch, units], dtype)
    c = tf.zeros([copies * batch, units], dtype)
    states = []
    with held_values.holding(batch):
        weights = cell.update_weights()
        for t in range(time):
            z = z_all[:, t]
            if cell.spec.recurrent:
                z = z + tf.cast(cell.recurrent_projection(h), dtype)
            h_new, c_new = cell.update(z, c if cell.spec.memory is not None else None,
                                       weights=weights)
            real = tiled_mask[:, t, None]
            h = tf.where(real, tf.cast(h_new, dtype), h)
            c = tf.where(real, tf.cast(c_new, dtype), c)
            states.append(c)
    cells = tf.reshape(tf.stack(states, axis=1), [copies, batch, time, units])
    kernel = tf.reduce_mean(tf.abs(cells[1:] - cells[:1]), axis=-1)  # [s, batch, t]
    kernel = tf.transpose(kernel, [1, 2, 0])  # [batch, t, s]
    real = tf.cast(mask[:, :, None] & mask[:, None, :], dtype)
    causal = tf.linalg.band_part(tf.ones([time, time], dtype), -1, 0)
    return np.asarray(kernel * real * causal, np.float32)


def by_lag(kernels, lengths):
    """The mean of `K[t, t - lag]` over the real steps of every sequence, per lag: how far back
    a cell remembers.

    Args:
        kernels: memory kernels `[batch, time, time]`, as `memory_kernel` gives.
        lengths: each sequence's number of real steps.

    Returns:
        `(means, counts)`: float NumPy arrays over the lags 0, 1, ... up to the longest
            length less 1; `counts[lag]` is how many entries `means[lag]` averages.

    Examples:
        >>> import numpy as np
        >>> from kasm_keras.layers.memory_kernel import by_lag
        >>> kernel = np.array([[[1.0, 0.0], [0.5, 1.0]]])  # one sequence of 2 steps
        >>> by_lag(kernel, [2])
        (array([1. , 0.5]), array([2., 1.]))
    """
    width = int(max(lengths))
    sums, counts = np.zeros(width), np.zeros(width)
    for kernel, length in zip(kernels, lengths):
        for lag in range(int(length)):
            diagonal = np.diagonal(kernel[:length, :length], offset=-lag)
            sums[lag] += diagonal.sum()
            counts[lag] += diagonal.size
    return sums / np.maximum(counts, 1), counts
