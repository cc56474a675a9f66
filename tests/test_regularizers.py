"""AWD-LSTM's regularisers (kasm_keras.regularizers) and KernelRNN's weight dropout."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kasm_keras import KernelRNN
from kasm_keras.regularizers import (
    LockedDropout, activation_regularization, drop_connect, embedding_dropout,
    temporal_activation_regularization)
from tests import numpy_reference
from tests.conftest import randomize_weights

B, T, M, D = 3, 7, 5, 4


def _copy_generator(generator):
    """A generator that will draw what `generator` draws next."""
    copy = keras.random.SeedGenerator(0)
    copy.state.assign(generator.state.value)
    return copy


# ------------------------------------------------------------------ locked dropout

def test_locked_dropout_keeps_one_mask_for_every_time_step(rng):
    rate = 0.4
    x = rng.uniform(1.0, 2.0, size=(6, 9, 60)).astype("float32")  # no zeros of its own
    layer = LockedDropout(rate, seed=1)
    ratio = np.asarray(layer(x, training=True)) / x
    np.testing.assert_allclose(np.unique(np.round(ratio, 5)), [0.0, round(1 / (1 - rate), 5)])
    kept = ratio > 0
    np.testing.assert_array_equal(kept, np.broadcast_to(kept[:, :1], kept.shape))  # over time
    assert len({row.tobytes() for row in kept[:, 0]}) == 6  # each sequence its own mask
    assert abs(kept[:, 0].mean() - (1 - rate)) < 0.1
    again = np.asarray(layer(x, training=True)) / x > 0
    assert (again != kept).any()  # a new mask per call
    twin = LockedDropout(rate, seed=1)
    np.testing.assert_array_equal(np.asarray(twin(x, training=True)) / x > 0, kept)


def test_locked_dropout_is_the_identity_in_inference_and_at_rate_zero(rng):
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    np.testing.assert_array_equal(LockedDropout(0.5)(x), x)
    np.testing.assert_array_equal(LockedDropout(0.5)(x, training=False), x)
    np.testing.assert_array_equal(LockedDropout(0.0)(x, training=True), x)
    assert not LockedDropout(0.0).variables  # no seed generator where nothing is drawn
    with pytest.raises(ValueError, match="rate"):
        LockedDropout(1.0)


def test_locked_dropout_passes_the_mask_on_and_keeps_the_dtype(rng):
    tokens = np.array([[3, 4, 5, 0, 0], [6, 7, 8, 9, 2]])
    inputs = keras.Input((None,), dtype="int32")
    embedded = keras.layers.Embedding(10, M, mask_zero=True)(inputs)
    dropped = LockedDropout(0.3, seed=2)(embedded)
    model = keras.Model(inputs, KernelRNN(D, variant="rkm_cifg")(dropped))
    np.testing.assert_allclose(model(tokens)[0], model(tokens[:1, :3])[0], atol=1e-6)
    layer = LockedDropout(0.3)
    mask = np.array([[True, False]])
    np.testing.assert_array_equal(layer.compute_mask(np.zeros((1, 2, 3)), mask), mask)
    half = LockedDropout(0.3, dtype="mixed_float16")
    assert np.asarray(half(np.ones((2, 4, 8), "float32"), training=True)).dtype == np.float16


def test_locked_dropout_config_round_trip(rng):
    layer = LockedDropout(0.25, seed=7, name="locked")
    config = layer.get_config()
    assert (config["rate"], config["seed"], config["name"]) == (0.25, 7, "locked")
    assert LockedDropout.from_config(config).get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(restored, LockedDropout) and restored.get_config() == config


# ------------------------------------------------------------------ embedding dropout

def test_embedding_dropout_drops_a_word_everywhere_it_occurs(rng):
    vocabulary, rate = 12, 0.5
    ids = rng.integers(0, vocabulary, size=(8, 30))
    generator = keras.random.SeedGenerator(3)
    scales = []
    for _ in range(3):
        scale = np.asarray(embedding_dropout(ids, vocabulary, rate, generator))
        assert scale.shape == ids.shape + (1,) and scale.dtype == np.float32
        scale = scale[..., 0]
        np.testing.assert_allclose(np.unique(scale), [0.0, 1 / (1 - rate)])
        for word in np.unique(ids):
            assert len(np.unique(scale[ids == word])) == 1, f"word {word} partly dropped"
        scales.append(scale)
    assert (scales[0] != scales[1]).any()  # one draw per call


def test_embedding_dropout_drops_the_expected_fraction_of_words(rng):
    vocabulary, rate = 4000, 0.3
    ids = np.arange(vocabulary)[None]
    scale = np.asarray(embedding_dropout(ids, vocabulary, rate, keras.random.SeedGenerator(4)))
    assert abs((scale == 0).mean() - rate) < 0.03
    # Multiplying the looked-up vectors is AWD's dropping of rows of the matrix.
    matrix = rng.normal(size=(vocabulary, 3))
    words = rng.integers(0, vocabulary, size=(2, 9))
    np.testing.assert_allclose(matrix[words] * scale[0, words], (matrix * scale[0])[words])


def test_embedding_dropout_at_rate_zero_is_ones():
    scale = embedding_dropout(np.zeros((2, 3), "int32"), 5, 0.0, keras.random.SeedGenerator(0))
    np.testing.assert_array_equal(scale, np.ones((2, 3, 1)))


# ------------------------------------------------------------------ drop connect

def test_drop_connect_masks_the_whole_kernel_once(rng):
    rate = 0.3
    kernel = keras.Variable(rng.uniform(1.0, 2.0, size=(40, 50)).astype("float32"))
    generator = keras.random.SeedGenerator(5)
    probe = rng.normal(size=(40, 50)).astype("float32")
    with tf.GradientTape() as tape:
        dropped = drop_connect(kernel, rate, generator)
        loss = tf.reduce_sum(dropped * probe)
    ratio = np.asarray(dropped) / kernel.numpy()
    np.testing.assert_allclose(np.unique(np.round(ratio, 5)), [0.0, round(1 / (1 - rate), 5)])
    assert abs((ratio == 0).mean() - rate) < 0.03
    # The gradient reaches the kernel through the mask.
    np.testing.assert_allclose(tape.gradient(loss, kernel.value), ratio * probe, rtol=1e-6)
    assert (np.asarray(drop_connect(kernel, rate, generator)) != np.asarray(dropped)).any()
    assert drop_connect(kernel, 0.0, generator) is kernel


# ------------------------------------------------------------------ AR and TAR

def test_activation_regularization_matches_numpy(rng):
    h = rng.normal(size=(3, 6, 4))
    mask = np.array([[1, 1, 1, 1, 0, 0], [0, 1, 1, 0, 1, 1], [0, 0, 0, 0, 0, 0]], bool)
    np.testing.assert_allclose(activation_regularization(h, 2.0), 2.0 * np.mean(h ** 2), rtol=1e-6)
    masked = sum(np.sum(h[b, t] ** 2) for b, t in zip(*np.nonzero(mask)))
    np.testing.assert_allclose(activation_regularization(h, 2.0, mask),
                               2.0 * masked / (mask.sum() * 4), rtol=1e-6)
    assert float(activation_regularization(h, 2.0, np.zeros((3, 6), bool))) == 0.0


def test_temporal_activation_regularization_matches_numpy(rng):
    h = rng.normal(size=(3, 6, 4))
    mask = np.array([[1, 1, 1, 1, 0, 0], [0, 1, 1, 0, 1, 1], [1, 0, 1, 0, 1, 0]], bool)
    np.testing.assert_allclose(temporal_activation_regularization(h, 3.0),
                               3.0 * np.mean((h[:, 1:] - h[:, :-1]) ** 2), rtol=1e-6)
    total, pairs = 0.0, 0
    for b in range(3):
        for t in range(1, 6):
            if mask[b, t] and mask[b, t - 1]:
                total += np.sum((h[b, t] - h[b, t - 1]) ** 2)
                pairs += 1
    assert pairs == 5  # 3 + 2, and row 2 has none
    np.testing.assert_allclose(temporal_activation_regularization(h, 3.0, mask),
                               3.0 * total / (pairs * 4), rtol=1e-6)
    assert float(temporal_activation_regularization(h[:, :1], 3.0)) == 0.0  # no pair at all


# ------------------------------------------------------------------ KernelRNN weight dropout

def _layer(rng, x, **kwargs):
    layer = KernelRNN(D, return_sequences=True, return_state=True, dtype="float64", **kwargs)
    layer(x)
    randomize_weights(layer, rng)
    return layer


def _numpy_run(layer, x, U):
    cell = layer.cell
    return numpy_reference.run(
        cell.variant, x, W=cell.kernel.numpy(), b=cell.bias.numpy(), U=U,
        gamma=cell.gamma.numpy(), beta=cell.beta.numpy(), eps=cell.layer_norm_epsilon)


@pytest.mark.parametrize("implementation", ["fused", "loop"])
def test_weight_dropout_masks_the_recurrent_kernel_once_per_batch(rng, implementation):
    """The training output is the NumPy reference run with one masked U at every step."""
    rate = 0.5
    x = rng.normal(size=(B, T, M))
    layer = _layer(rng, x, variant="rkm_lstm", weight_dropout=rate, seed=4,
                   implementation=implementation)
    U = layer.cell.recurrent_kernel
    for _ in range(2):  # a new mask for each call
        upcoming = _copy_generator(layer.weight_dropout_seed_generator)
        with tf.GradientTape() as tape:
            outputs = layer(tf.constant(x), training=True)
            loss = tf.reduce_sum(outputs[0])
        dropped = np.asarray(drop_connect(U, rate, upcoming))
        assert 0.2 < (dropped == 0).mean() < 0.8
        for got, want in zip(outputs, _numpy_run(layer, x, dropped)):
            np.testing.assert_allclose(got, want, atol=1e-10)
        gradient = np.asarray(tape.gradient(loss, U.value))
        assert np.all(gradient[dropped == 0] == 0) and np.all(gradient[dropped != 0] != 0)


@pytest.mark.parametrize("layer_norm", [True, False])
@pytest.mark.parametrize("variant", ["rkm_lstm", "lstm", "rkm_cifg"])
def test_weight_dropout_fused_and_loop_agree(rng, variant, layer_norm):
    """Same seed, same masks: outputs, states and the gradients of the inputs and of every
    weight agree, with padding and the other dropouts on."""
    x = rng.normal(size=(B + 1, T, M))
    mask = np.ones((B + 1, T), bool)
    mask[0, 4:] = mask[1, :2] = mask[3] = False
    options = dict(variant=variant, layer_norm=layer_norm, weight_dropout=0.4, seed=9,
                   dropout=0.2, recurrent_dropout=0.3)
    layers = [_layer(rng, x, implementation="fused", **options)]
    layers.append(_layer(rng, x, implementation="loop", **options))
    layers[1].set_weights(layers[0].get_weights())
    probes = [rng.normal(size=(B + 1, T, D)), rng.normal(size=(B + 1, D)),
              rng.normal(size=(B + 1, D))]
    results = []
    for layer in layers:
        inputs = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            outputs = layer(inputs, mask=mask, training=True)
            loss = sum(tf.reduce_sum(o * p) for o, p in zip(outputs, probes))
        results.append((outputs, tape.gradient(loss, [inputs] + layer.trainable_variables)))
    (got, got_grads), (want, want_grads) = results
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=1e-10)
    names = ["inputs"] + [v.name for v in layers[0].trainable_variables]
    for g, w, name in zip(got_grads, want_grads, names):
        np.testing.assert_allclose(g, w, atol=1e-9, err_msg=name)
    without = _layer(rng, x, implementation="loop", **{**options, "weight_dropout": 0.0})
    without.set_weights(layers[0].get_weights())
    assert np.abs(np.asarray(without(x, mask=mask, training=True)[0]) - got[0]).max() > 1e-3


def test_weight_dropout_is_off_in_inference_and_without_a_recurrent_kernel(rng):
    x = rng.normal(size=(B, T, M))
    for variant in ("rkm_lstm", "cnn"):
        dropped = _layer(rng, x, variant=variant, weight_dropout=0.5, seed=1)
        plain = KernelRNN.from_config({**dropped.get_config(), "weight_dropout": 0.0, "name": None})
        plain(x)
        plain.set_weights(dropped.get_weights())
        for got, want in zip(dropped(x), plain(x)):
            np.testing.assert_array_equal(got, want)
        if variant == "cnn":  # nothing to drop: no generator, the same in training
            assert len(dropped.variables) == len(plain.variables)
            for got, want in zip(dropped(x, training=True), plain(x, training=True)):
                np.testing.assert_array_equal(got, want)
    # Without weight dropout the layer's variables are what they were before it existed.
    assert len(KernelRNN(D).variables) == len(KernelRNN(D, weight_dropout=0.0).variables)


def test_weight_dropout_under_xla(rng):
    """Compiled, the layer still uses one mask for the sequence. (XLA draws other numbers than
    TensorFlow's CPU kernels from the same seed, so the mask is the one drawn under XLA.)"""
    x = rng.normal(size=(B, T, M))
    layer = _layer(rng, x, variant="rkm_cifg", weight_dropout=0.5, seed=2, layer_norm=True)
    upcoming = _copy_generator(layer.weight_dropout_seed_generator)
    U = layer.cell.recurrent_kernel
    dropped = tf.function(lambda: drop_connect(U, 0.5, upcoming), jit_compile=True)()
    compiled = tf.function(lambda x: layer(x, training=True), jit_compile=True)(tf.constant(x))
    for got, want in zip(compiled, _numpy_run(layer, x, np.asarray(dropped))):
        np.testing.assert_allclose(got, want, atol=1e-10)


def test_weight_dropout_config_and_validation():
    layer = KernelRNN(D, variant="rkm_cifg", weight_dropout=0.3, seed=5)
    config = layer.get_config()
    assert config["weight_dropout"] == 0.3
    clone = KernelRNN.from_config(config)
    assert clone.get_config() == config
    x = np.ones((2, 3, M), "float32")
    layer(x), clone(x)
    clone.set_weights(layer.get_weights())
    # The masks come from the seed: the clone drops what the layer drops.
    np.testing.assert_array_equal(layer(x, training=True), clone(x, training=True))
    assert KernelRNN(D).get_config()["weight_dropout"] == 0.0
    for rate in (1.0, -0.1):
        with pytest.raises(ValueError, match="weight_dropout must be in"):
            KernelRNN(D, weight_dropout=rate)
