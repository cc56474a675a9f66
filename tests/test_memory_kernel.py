"""The memory kernel (`kasm_keras.layers.memory_kernel`) against a second implementation (the
Jacobians d c_t / d c~_s by automatic differentiation under the same held values), against the
closed form of the cells without recurrence, and on padding."""

import numpy as np
import pytest
import tensorflow as tf

import kasm_keras
from kasm_keras.layers import held_values
from kasm_keras.layers.memory_kernel import by_lag, memory_kernel, signs
from kasm_keras.layers.variants import VARIANTS

BATCH, TIME, FEATURES, UNITS = 2, 5, 3, 6


def _rnn(variant, layer_norm, ngram=1):
    rnn = kasm_keras.KernelRNN(UNITS, variant=variant, layer_norm=layer_norm, ngram=ngram,
                               return_sequences=True, seed=1)
    x = np.random.default_rng(0).normal(size=(BATCH, TIME, FEATURES)).astype(np.float32)
    rnn(x)
    return rnn, x


def _jacobian_kernel(rnn, x):
    """K by Jacobians: c~ gets an additive variable per step, every c_t is differentiated by
    it with the held factors taken as constants, and mean over units of |J v| is formed."""
    cell = rnn.cell
    projected = cell.project_sequence(tf.constant(x))
    block = cell.spec.blocks.index("candidate")
    delta = tf.Variable(tf.zeros([BATCH, TIME, UNITS]))
    v = tf.constant(signs(UNITS))
    with tf.GradientTape(persistent=True) as tape:
        with held_values.holding(BATCH):
            h = tf.zeros([BATCH, UNITS])
            c = tf.zeros([BATCH, UNITS])
            states = []
            for t in range(TIME):
                blocks = tf.split(projected[:, t], cell.spec.k, axis=-1)
                blocks[block] = blocks[block] + delta[:, t]
                z = tf.concat(blocks, axis=-1)
                if cell.spec.recurrent:
                    z = z + cell.recurrent_projection(h)
                h, c_new = cell.update(z, c if cell.spec.memory is not None else None)
                c = c_new
                states.append(c)
    kernel = np.zeros([BATCH, TIME, TIME])
    for t in range(TIME):
        jacobian = tape.batch_jacobian(states[t], delta).numpy()  # [batch, units, time, units]
        for s in range(t + 1):
            kernel[:, t, s] = np.abs(jacobian[:, :, s] @ v.numpy()).mean(-1)
    return kernel


CASES = [(v, (i % 2) == 0) for i, v in enumerate(VARIANTS)]


@pytest.mark.parametrize("variant, layer_norm", CASES)
def test_the_kernel_is_the_held_jacobians(variant, layer_norm):
    rnn, x = _rnn(variant, layer_norm)
    np.testing.assert_allclose(memory_kernel(rnn, x), _jacobian_kernel(rnn, x),
                               rtol=1e-4, atol=1e-6)


def test_without_recurrence_the_kernel_is_the_gates_product():
    """linear_kernel_ot with U = 0 and no layer norm: c_t = s_i c~_t + s_f c_{t-1}, so
    K[t, s] = s_i s_f^(t-s); gated_cnn has no memory: K is s_i on the diagonal."""
    rnn, x = _rnn("linear_kernel_ot", False)
    rnn.cell.recurrent_kernel.assign(tf.zeros_like(rnn.cell.recurrent_kernel))
    s_i, s_f = rnn.cell.sigma_i, rnn.cell.sigma_f
    lags = np.subtract.outer(np.arange(TIME), np.arange(TIME))
    expected = np.where(lags >= 0, s_i * s_f ** np.maximum(lags, 0), 0.0)
    np.testing.assert_allclose(memory_kernel(rnn, x)[0], expected, rtol=1e-5, atol=1e-7)
    cnn, x = _rnn("gated_cnn", False, ngram=3)
    np.testing.assert_allclose(memory_kernel(cnn, x)[1], np.eye(TIME) * cnn.cell.sigma_i,
                               rtol=1e-5, atol=1e-7)


def test_padding_is_zero_and_changes_nothing_else():
    rnn, x = _rnn("rkm_cifg", True)
    mask = np.ones([BATCH, TIME], bool)
    mask[1, 3:] = False
    padded = memory_kernel(rnn, x, mask)
    alone = memory_kernel(rnn, x[1:, :3])
    np.testing.assert_allclose(padded[1, :3, :3], alone[0], rtol=1e-5, atol=1e-7)
    assert not padded[1, 3:].any() and not padded[1, :, 3:].any()
    means, counts = by_lag(padded, [TIME, 3])
    assert counts.tolist() == [TIME + 3, TIME - 1 + 2, TIME - 2 + 1, 2, 1]
    assert means[0] == pytest.approx(np.concatenate(
        [np.diagonal(padded[0]), np.diagonal(padded[1, :3, :3])]).mean())


def test_a_zoo_classifiers_kernel_per_text():
    classifier = kasm_keras.zoo.load("ag_news/rkm_cifg_1gram")
    kernels = classifier.memory_kernel(["Stocks fell on Wall Street", "NASA launches"])
    assert [k.shape for k in kernels] == [(5, 5), (2, 2)]
    assert all(k.dtype == np.float32 and (np.triu(k, 1) == 0).all() for k in kernels)
    assert (np.diagonal(kernels[0]) > 0).all()
