"""KernelRNN and KernelCell against the NumPy reference of Table 1, and against each other."""

import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf

import kasm_keras
from kasm_keras import KernelCell, KernelRNN
from kasm_keras.layers import tf_loop
from tests import numpy_reference
from tests.conftest import randomize_weights

VARIANTS = kasm_keras.VARIANTS
B, T, M, D = 3, 7, 5, 4


def _inputs(rng, batch=B, time=T, dim=M):
    return rng.normal(size=(batch, time, dim)).astype("float32")


def _mask(batch=B, time=T):
    """Trailing padding, leading padding, an interior gap, and a row with no valid step."""
    mask = np.ones((batch + 1, time), bool)
    mask[0, 4:] = False
    mask[1, :2] = False
    mask[2, 3] = False
    mask[3, :] = False
    return mask


def _reference(layer, x, mask=None, h0=None, c0=None):
    cell = layer.cell
    sigma = {"s_i": cell.sigma_i, "s_f": cell.sigma_f}
    if cell.sigma_i_logit is not None:
        sigma["s_i"] = numpy_reference.sigmoid(cell.sigma_i_logit.numpy())
    if cell.sigma_f_logit is not None:
        sigma["s_f"] = numpy_reference.sigmoid(cell.sigma_f_logit.numpy())
    return numpy_reference.run(
        cell.variant, x,
        W=cell.kernel.numpy().astype(np.float64),
        b=cell.bias.numpy().astype(np.float64),
        U=None if cell.recurrent_kernel is None else cell.recurrent_kernel.numpy().astype(np.float64),
        mask=mask, ngram=cell.ngram, padding=cell.ngram_padding,
        gamma=None if cell.gamma is None else cell.gamma.numpy(),
        beta=None if cell.beta is None else cell.beta.numpy(),
        eps=cell.layer_norm_epsilon, h0=h0, c0=c0, **sigma,
    )


def _layer(rng, variant, x, **kwargs):
    layer = KernelRNN(D, variant=variant, return_sequences=True, return_state=True, **kwargs)
    layer(x)
    randomize_weights(layer, rng)
    return layer


@pytest.mark.parametrize("ngram", [1, 3])
@pytest.mark.parametrize("variant", VARIANTS)
def test_matches_numpy_reference(rng, variant, ngram):
    x = _inputs(rng, batch=B + 1)
    layer = _layer(rng, variant, x, ngram=ngram)
    for mask in (None, _mask()):
        outputs, h, c = (np.asarray(t) for t in layer(x, mask=mask))
        want_outputs, want_h, want_c = _reference(layer, x, mask)
        np.testing.assert_allclose(outputs, want_outputs, atol=2e-5, err_msg=f"mask={mask is not None}")
        np.testing.assert_allclose(h, want_h, atol=2e-5)
        np.testing.assert_allclose(c, want_c, atol=2e-5)


@pytest.mark.parametrize("variant", VARIANTS)
def test_options_match_reference(rng, variant):
    """Centred windows, learned sigmas, no layer norm, initial states and go_backwards."""
    x = _inputs(rng)
    h0 = rng.normal(size=(B, D)).astype("float32")
    c0 = rng.normal(size=(B, D)).astype("float32")
    for options in (
        {"ngram": 3, "ngram_padding": "same"},
        {"ngram": 4, "ngram_padding": "same"},
        {"ngram": 2, "learn_sigmas": True},
        {"ngram": 2, "layer_norm": False},
    ):
        layer = _layer(rng, variant, x, **options)
        outputs, h, c = layer(x, initial_state=[h0, c0])
        want_outputs, want_h, want_c = _reference(layer, x, h0=h0, c0=c0)
        np.testing.assert_allclose(outputs, want_outputs, atol=2e-5, err_msg=str(options))
        np.testing.assert_allclose(c, want_c, atol=2e-5, err_msg=str(options))

    backwards = _layer(rng, variant, x, ngram=2, go_backwards=True)
    mask = _mask()[:B]
    outputs, h, c = backwards(x, mask=mask)
    want_outputs, want_h, want_c = _reference(backwards, x[:, ::-1], mask[:, ::-1])
    np.testing.assert_allclose(outputs, want_outputs, atol=2e-5)
    np.testing.assert_allclose(h, want_h, atol=2e-5)


def test_learned_sigmas_follow_the_authors_shapes():
    layer = KernelRNN(D, variant="linear_kernel_ot", learn_sigmas=True)
    layer(np.zeros((1, 2, M), "float32"))
    assert layer.cell.sigma_i_logit.shape == ()
    assert layer.cell.sigma_f_logit.shape == (D,)
    np.testing.assert_allclose(keras.ops.sigmoid(layer.cell.sigma_f_logit), 0.5)
    gated = KernelRNN(D, variant="gated_cnn", learn_sigmas=True)
    gated(np.zeros((1, 2, M), "float32"))
    assert gated.cell.sigma_f_logit is None and gated.cell.sigma_i_logit is not None
    fixed = KernelRNN(D, variant="rkm_lstm", learn_sigmas=True)
    fixed(np.zeros((1, 2, M), "float32"))
    assert fixed.cell.sigma_i_logit is None and fixed.cell.sigma_f_logit is None


def test_lstm_variant_without_layer_norm_is_keras_lstm(rng):
    x = _inputs(rng)
    ours = KernelRNN(D, variant="lstm", layer_norm=False, return_sequences=True)
    theirs = keras.layers.LSTM(D, return_sequences=True)
    ours(x), theirs(x)
    randomize_weights(ours, rng)
    theirs.set_weights(ours.get_weights())
    mask = _mask()[:B]
    np.testing.assert_allclose(ours(x, mask=mask), theirs(x, mask=mask), atol=1e-5)


def test_forget_bias_starts_at_one():
    for variant in VARIANTS:
        layer = KernelRNN(D, variant=variant)
        layer(np.zeros((1, 2, M), "float32"))
        bias = dict(zip(layer.cell.spec.blocks, np.split(layer.cell.bias.numpy(), layer.cell.spec.k)))
        for block, values in bias.items():
            np.testing.assert_array_equal(values, 1.0 if block == "forget" else 0.0)
        assert ("forget" in bias) == (variant in ("lstm", "rkm_lstm", "rkm_cifg"))


@pytest.mark.parametrize("variant", VARIANTS)
def test_cell_in_keras_rnn_agrees_with_kernel_rnn(rng, variant):
    """The step-by-step cell and the layer's batched (or loop-free) path are the same function."""
    x = _inputs(rng, batch=B + 1)
    layer = _layer(rng, variant, x)
    rnn = keras.layers.RNN(KernelCell(D, variant=variant), return_sequences=True, return_state=True)
    rnn(x)
    rnn.set_weights(layer.get_weights())
    for mask in (None, _mask()):
        for got, want in zip(rnn(x, mask=mask), layer(x, mask=mask)):
            np.testing.assert_allclose(got, want, atol=1e-5)


def test_bidirectional(rng):
    x = _inputs(rng)
    mask = _mask()[:B]
    for layer in (KernelRNN(D, variant="rkm_cifg", ngram=3),
                  KernelRNN(D, variant="cnn", ngram=3, return_sequences=True),
                  keras.layers.RNN(KernelCell(D, variant="rkm_lstm"))):
        bidirectional = keras.layers.Bidirectional(layer)
        y = np.asarray(bidirectional(x, mask=mask))
        assert y.shape[-1] == 2 * D and np.isfinite(y).all()
    backward = bidirectional.backward_layer
    assert backward.go_backwards and isinstance(backward.cell, KernelCell)


def test_cell_refuses_ngram_step_by_step():
    rnn = keras.layers.RNN(KernelCell(D, ngram=3))
    with pytest.raises(ValueError, match="KernelRNN"):
        rnn(np.zeros((1, 3, M), "float32"))


@pytest.mark.parametrize("variant", VARIANTS)
def test_causal(rng, variant):
    x = _inputs(rng)
    layer = _layer(rng, variant, x, ngram=3)
    before = np.asarray(layer(x)[0])
    for t in (0, 3, T - 1):
        changed = x.copy()
        changed[:, t] += 1.0
        after = np.asarray(layer(changed)[0])
        np.testing.assert_array_equal(after[:, :t], before[:, :t])
        assert np.abs(after[:, t] - before[:, t]).max() > 1e-4


@pytest.mark.parametrize("variant", ["gated_cnn", "cnn"])
def test_feed_forward_variants_forget_inputs_outside_their_window(rng, variant):
    x = _inputs(rng, time=10)
    layer = _layer(rng, variant, x, ngram=3)
    before = np.asarray(layer(x)[0])
    changed = x.copy()
    changed[:, 2] += 5.0
    after = np.asarray(layer(changed)[0])
    np.testing.assert_array_equal(after[:, 5:], before[:, 5:])
    assert np.abs(after[:, 2:5] - before[:, 2:5]).min() > 0


@pytest.mark.parametrize("variant", VARIANTS)
def test_trailing_padding_changes_nothing(rng, variant):
    x = _inputs(rng)
    layer = KernelRNN(D, variant=variant, ngram=3, return_state=True)
    padded = np.concatenate([x, rng.normal(size=(B, 5, M)).astype("float32")], axis=1)
    mask = np.concatenate([np.ones((B, T), bool), np.zeros((B, 5), bool)], axis=1)
    for got, want in zip(layer(padded, mask=mask), layer(x)):
        np.testing.assert_allclose(got, want, atol=1e-6)


def test_masking_through_an_embedding(rng):
    tokens = np.array([[3, 4, 5, 0, 0], [6, 7, 8, 9, 2]])
    model = keras.Sequential([
        keras.Input((None,), dtype="int32"),
        keras.layers.Embedding(10, M, mask_zero=True),
        KernelRNN(D, variant="rkm_cifg", ngram=3),
    ])
    np.testing.assert_allclose(model(tokens)[0], model(tokens[:1, :3])[0], atol=1e-6)


PAPER_WEIGHT_ENTRIES = {  # Table 2 for m = d = 300: (1-gram, 3-gram)
    "lstm": (720_000, 1_440_000),
    "rkm_lstm": (720_000, 1_440_000),
    "rkm_cifg": (540_000, 1_080_000),
    "linear_kernel_ot": (360_000, 720_000),
    "linear_kernel": (180_000, 360_000),
    "gated_cnn": (180_000, 540_000),
    "cnn": (90_000, 270_000),
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_weight_entries_match_the_paper(variant):
    for ngram, want in zip((1, 3), PAPER_WEIGHT_ENTRIES[variant]):
        assert kasm_keras.get_variant(variant).weight_entries(300, 300, ngram) == want
        layer = KernelRNN(300, variant=variant, ngram=ngram)
        layer.build((None, None, 300))
        assert layer.weight_entries == want
        kernels = [w for w in layer.weights if "kernel" in w.name]
        assert sum(int(np.prod(w.shape)) for w in kernels) == want


@pytest.mark.parametrize("variant", VARIANTS)
def test_gradients_match_finite_differences(rng, variant):
    x = rng.normal(size=(2, 4, 3))
    mask = np.array([[True, True, True, False], [False, True, True, True]])
    layer = KernelRNN(2, variant=variant, ngram=2, return_sequences=True, dtype="float64")
    layer(x)
    randomize_weights(layer, rng)
    probe = rng.normal(size=(2, 4, 2))

    def loss(inputs):  # training=True: the path fit() takes ("fused" on TensorFlow)
        return tf.reduce_sum(layer(inputs, mask=mask, training=True) * probe)

    x_tensor = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x_tensor)
        value = loss(x_tensor)
    analytic_x, *analytic_w = tape.gradient(value, [x_tensor] + layer.trainable_variables)
    eps = 1e-6
    numeric_x = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = eps
        numeric_x[index] = (loss(x + step) - loss(x - step)) / (2 * eps)
    np.testing.assert_allclose(analytic_x, numeric_x, atol=1e-6)
    for variable, analytic in zip(layer.trainable_variables, analytic_w):
        original = variable.numpy()
        flat = original.reshape(-1)
        for i in rng.choice(flat.size, size=min(6, flat.size), replace=False):
            for sign in (1, -1):
                shifted = flat.copy()
                shifted[i] += sign * eps
                variable.assign(shifted.reshape(original.shape))
                if sign == 1:
                    plus = float(loss(x_tensor))
                else:
                    minus = float(loss(x_tensor))
            variable.assign(original)
            numeric = (plus - minus) / (2 * eps)
            np.testing.assert_allclose(
                np.asarray(analytic).reshape(-1)[i], numeric, atol=1e-6, err_msg=variable.name
            )


def test_time_dimension_may_be_none(rng):
    model = keras.Sequential([keras.Input((None, M)), KernelRNN(D, variant="rkm_lstm", ngram=3)])
    for length in (2, 9):
        assert model(_inputs(rng, time=length)).shape == (B, D)
    model = keras.Sequential([keras.Input((None, M)), KernelRNN(D, variant="cnn", ngram=3,
                                                                 return_sequences=True)])
    assert model(_inputs(rng, time=9)).shape == (B, 9, D)


def _model(variant, ngram=3):
    inputs = keras.Input((T, M))
    hidden = KernelRNN(D, variant=variant, ngram=ngram, dropout=0.1, recurrent_dropout=0.1)(inputs)
    return keras.Model(inputs, keras.layers.Dense(2)(hidden))


@pytest.mark.parametrize("variant", ["rkm_lstm", "linear_kernel", "gated_cnn"])
def test_keras_file_round_trip(rng, tmp_path, variant):
    model = _model(variant)
    randomize_weights(model.layers[1], rng)
    x = _inputs(rng)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)  # safe_mode stays on
    np.testing.assert_array_equal(model(x), loaded(x))
    assert loaded.layers[1].get_config() == model.layers[1].get_config()


def test_get_config_holds_every_argument():
    layer = KernelRNN(
        7, variant="linear_kernel_ot", ngram=4, ngram_padding="same", layer_norm=False,
        layer_norm_epsilon=1e-3, sigma_i=0.3, sigma_f=0.6, learn_sigmas=True, use_bias=False,
        unit_forget_bias=False, kernel_initializer="he_normal", kernel_regularizer="l2",
        dropout=0.2, recurrent_dropout=0.3, seed=5, return_sequences=True, return_state=True,
        go_backwards=True, zero_output_for_mask=True, implementation="loop", name="custom",
    )
    config = layer.get_config()
    clone = KernelRNN.from_config(config)
    assert clone.get_config() == config
    assert (config["variant"], config["ngram"], config["sigma_f"], config["name"]) == (
        "linear_kernel_ot", 4, 0.6, "custom")
    assert config["implementation"] == "loop"
    cell = KernelCell(3, variant="cnn", ngram=2, sigma_i=1.0)
    assert KernelCell.from_config(cell.get_config()).get_config() == cell.get_config()


@pytest.mark.parametrize("variant", VARIANTS)
def test_jit_compile_matches_eager(rng, variant):
    x = _inputs(rng, batch=B + 1)
    layer = _layer(rng, variant, x, ngram=3)
    mask = tf.constant(_mask())
    compiled = tf.function(lambda x, mask: layer(x, mask=mask), jit_compile=True)
    for got, want in zip(compiled(tf.constant(x), mask), layer(x, mask=mask)):
        np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("variant", ["rkm_cifg", "cnn"])
def test_fit_with_jit_compile(rng, variant):
    model = _model(variant)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=True)
    y = rng.integers(0, 2, size=(8,))
    history = model.fit(_inputs(rng, batch=8), y, epochs=2, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


@pytest.mark.parametrize("variant", ["lstm", "rkm_lstm", "linear_kernel", "gated_cnn"])
def test_mixed_float16(rng, variant):
    x = _inputs(rng)
    full = _model(variant)
    randomize_weights(full.layers[1], rng)
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        half = _model(variant)
        half.set_weights(full.get_weights())
        layer = half.layers[1]
        assert layer.compute_dtype == "float16" and layer.cell.kernel.dtype == "float32"
        y = half(x)
        assert y.dtype == "float16"
        np.testing.assert_allclose(np.asarray(y, "float32"), full(x), atol=2e-2)
        half.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        history = half.fit(x * 50.0, np.array([0, 1, 0]), epochs=2, verbose=0)
        assert np.isfinite(history.history["loss"]).all()
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_mixed_float16_state_is_safe_for_large_inputs(rng):
    """c_t can exceed float16's range before normalisation; the update runs in float32."""
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        layer = KernelRNN(D, variant="rkm_lstm", return_state=True, kernel_initializer="ones")
        out, h, c = layer(np.full((2, 30, M), 3000.0, "float32"))
        assert np.isfinite(np.asarray(out, "float32")).all()
        assert np.isfinite(np.asarray(c, "float32")).all()
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_dropout_only_in_training(rng):
    x = _inputs(rng)
    layer = KernelRNN(D, variant="rkm_lstm", dropout=0.5, recurrent_dropout=0.5, seed=1)
    inference = np.asarray(layer(x))
    np.testing.assert_array_equal(inference, layer(x, training=False))
    assert np.abs(np.asarray(layer(x, training=True)) - inference).max() > 1e-4


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="Unknown variant 'gru'.*rkm_lstm"):
        KernelRNN(4, variant="gru")
    with pytest.raises(ValueError, match="ngram"):
        KernelRNN(4, ngram=0)
    with pytest.raises(ValueError, match="ngram_padding"):
        KernelRNN(4, ngram_padding="valid")
    with pytest.raises(ValueError, match="sigma_i"):
        KernelRNN(4, sigma_i=1.0, learn_sigmas=True)
    with pytest.raises(ValueError, match="dropout"):
        KernelRNN(4, dropout=1.5)
    with pytest.raises(ValueError, match="implementation must be one of"):
        KernelRNN(4, implementation="cudnn")
    with pytest.raises(ValueError, match="'parallel' needs a variant without feedback"):
        KernelRNN(4, variant="rkm_cifg", implementation="parallel")
    with pytest.raises(ValueError, match="'fused' is the TensorFlow loop of the sequential"):
        KernelRNN(4, variant="cnn", implementation="fused")


def _implementations_agree(rng, variant, implementation, options, call_options, time=T):
    """Outputs, final states and every gradient of `implementation` equal those of the
    automatic-gradient loop (Keras' `backend.rnn`), in float64."""
    x = rng.normal(size=(B + 1, time, M))
    layers = [
        KernelRNN(D, variant=variant, return_sequences=True, return_state=True, dtype="float64",
                  implementation=name, seed=3, **options)
        for name in (implementation, "loop")
    ]
    layers[0](x)
    randomize_weights(layers[0], rng)
    layers[1](x)
    for mine, theirs in zip(layers[1].weights, layers[0].weights):
        mine.assign(theirs)
    probes = [rng.normal(size=(B + 1, time, D)), rng.normal(size=(B + 1, D)),
              rng.normal(size=(B + 1, D))]
    results = []
    for layer in layers:
        inputs = tf.constant(x)
        kwargs = dict(call_options)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(inputs)
            for key in ("initial_state",):
                if key in kwargs:
                    kwargs[key] = [tf.constant(s) for s in kwargs[key]]
                    for state in kwargs[key]:
                        tape.watch(state)
            outputs = layer(inputs, training=True, **kwargs)
            loss = sum(tf.reduce_sum(o * p) for o, p in zip(outputs, probes))
        sources = [inputs] + list(kwargs.get("initial_state", [])) + layer.trainable_variables
        results.append((outputs, tape.gradient(loss, sources)))
    (got, got_grads), (want, want_grads) = results
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=1e-10)
    assert len(got_grads) == len(want_grads)
    for g, w, source in zip(got_grads, want_grads, [None] * 3 + layers[0].trainable_variables):
        np.testing.assert_allclose(g, w, atol=1e-9, err_msg=getattr(source, "name", "input/state"))


_OPTIONS = [
    ({}, {}),
    ({}, {"mask": _mask()}),
    ({"zero_output_for_mask": True}, {"mask": _mask()}),
    ({"learn_sigmas": True, "ngram": 2}, {"mask": _mask()}),
    ({"layer_norm": False, "ngram": 3, "ngram_padding": "same"}, {}),
    ({"go_backwards": True}, {"mask": _mask()}),
    ({}, {"initial_state": "random"}),
]


@pytest.mark.parametrize("options,call_options", _OPTIONS)
@pytest.mark.parametrize("variant", [v for v in VARIANTS if kasm_keras.get_variant(v).sequential])
def test_fused_loop_matches_automatic_gradient_loop(rng, variant, options, call_options):
    if call_options.get("initial_state") == "random":
        call_options = {"initial_state": [rng.normal(size=(B + 1, D)) for _ in range(2)]}
    _implementations_agree(rng, variant, "fused", options, call_options)


_U = tf_loop.UNROLL


@pytest.mark.parametrize("time", sorted({1, _U - 1, _U, 2 * _U, 2 * _U + 1} - {0}))
def test_fused_loop_matches_for_any_length(rng, time):
    """The fused loop runs `tf_loop.UNROLL` steps per iteration and the rest one at a time:
    lengths below, at, and either side of multiples of it."""
    mask = _mask(time=time) if time >= 5 else None
    _implementations_agree(rng, "rkm_lstm", "fused", {}, {"mask": mask} if mask is not None else {},
                           time=time)


@pytest.mark.parametrize("variant", ["rkm_lstm", "linear_kernel"])
def test_fused_loop_matches_with_recurrent_dropout(rng, variant):
    _implementations_agree(rng, variant, "fused", {"recurrent_dropout": 0.4, "dropout": 0.2},
                           {"mask": _mask()})


@pytest.mark.parametrize("options,call_options", _OPTIONS[:6])
@pytest.mark.parametrize("variant", ["gated_cnn", "cnn"])
def test_parallel_matches_loop(rng, variant, options, call_options):
    _implementations_agree(rng, variant, "parallel", options, call_options)


def test_auto_picks_the_fastest_implementation():
    assert KernelRNN(4, variant="rkm_cifg")._chosen_implementation(training=True) == "fused"
    assert KernelRNN(4, variant="rkm_cifg")._chosen_implementation(training=False) == "loop"
    assert KernelRNN(4, variant="rkm_cifg", unroll=True)._chosen_implementation() == "loop"
    assert KernelRNN(4, variant="gated_cnn")._chosen_implementation() == "parallel"


def test_fused_matches_loop_in_float16_and_under_xla(rng):
    x = _inputs(rng, batch=B + 1)
    mask = tf.constant(_mask())
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        layers = [KernelRNN(D, variant="rkm_cifg", return_sequences=True, implementation=name)
                  for name in ("fused", "loop")]
        for layer in layers:
            layer(x)
        randomize_weights(layers[0], rng)
        for mine, theirs in zip(layers[1].weights, layers[0].weights):
            mine.assign(theirs)
        results = []
        for layer in layers:
            @tf.function(jit_compile=True)
            def value_and_grads(x, layer=layer):
                with tf.GradientTape() as tape:
                    loss = tf.reduce_sum(tf.cast(layer(x, mask=mask, training=True), "float32"))
                return loss, tape.gradient(loss, layer.trainable_variables)

            results.append(value_and_grads(tf.constant(x)))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    (loss, grads), (want_loss, want_grads) = results
    np.testing.assert_allclose(loss, want_loss, rtol=1e-3)
    for g, w in zip(grads, want_grads):
        np.testing.assert_allclose(np.asarray(g, "float32"), np.asarray(w, "float32"),
                                   rtol=2e-2, atol=2e-2)


# Keras' own layer checks (keras/src/layers/rnn/lstm_test.py and rnn_test.py): statefulness,
# initial states and the config round trip, on every implementation.

SPLIT = 3  # where a sequence of length T is cut in two calls


def _split_mask():
    """Padding that meets the cut: a second call that is all padding, one that starts with
    padding, and a first call that is all padding."""
    mask = np.ones((B + 1, T), bool)
    mask[1, 2:] = False
    mask[2, SPLIT:SPLIT + 2] = False
    mask[3, :SPLIT + 1] = False
    return mask


def _halves(mask):
    return (None, None) if mask is None else (mask[:, :SPLIT], mask[:, SPLIT:])


def _implementations(variant):
    """The explicit implementations a variant accepts (see `KernelRNN.__init__`)."""
    return ("fused", "loop") if kasm_keras.get_variant(variant).sequential else ("parallel", "loop")


def _twin(layer, x, **overrides):
    """A layer from `layer`'s config with `overrides`, built on `x` and given `layer`'s weights."""
    twin = KernelRNN.from_config({**layer.get_config(), **overrides, "name": None})
    twin(x)
    twin.set_weights(layer.get_weights())
    if twin.stateful:
        twin.reset_states()
    return twin


def _reference_in_two_calls(layer, x, mask):
    """What two calls promise: the states carry over the cut, the n-gram window does not (the
    second call starts its window with zeros, as the class docstring says)."""
    first_mask, second_mask = _halves(mask)
    out_1, h, c = _reference(layer, x[:, :SPLIT], first_mask)
    out_2, h, c = _reference(layer, x[:, SPLIT:], second_mask, h0=h, c0=c)
    return np.concatenate([out_1, out_2], axis=1), h, c


def _states(layer):
    return [state.numpy() for state in layer.states]


def _assert_all_close(got, want, atol, err_msg=""):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), atol=atol, err_msg=err_msg)


@pytest.mark.parametrize("ngram", [1, 3])
@pytest.mark.parametrize("variant", VARIANTS)
def test_stateful_calls_continue_the_sequence(rng, variant, ngram):
    """A stateful layer called on two halves of a sequence: on each implementation the states
    carry over (with ngram=1 the halves then equal one call on the whole sequence; a wider
    window restarts at every call, so there they equal the two-call reference), `states` holds
    the returned states, `reset_states()` zeroes them, and the implementations agree."""
    x = _inputs(rng, batch=B + 1)
    weights, results = None, {}
    for implementation in _implementations(variant):
        layer = KernelRNN(D, variant=variant, ngram=ngram, stateful=True, return_sequences=True,
                          return_state=True, implementation=implementation)
        layer(x[:, :SPLIT])  # builds, and leaves states behind
        if weights is None:
            randomize_weights(layer, rng)
            weights = layer.get_weights()
        layer.set_weights(weights)
        assert np.abs(_states(layer)[0]).max() > 0
        layer.reset_states()
        for state in _states(layer):
            np.testing.assert_array_equal(state, np.zeros((B + 1, D)))
        whole = _twin(layer, x, stateful=False)
        for mask in (None, _split_mask()):
            label = f"{implementation}, mask={mask is not None}"
            first_mask, second_mask = _halves(mask)
            first = layer(x[:, :SPLIT], mask=first_mask)
            for state, returned in zip(_states(layer), first[1:]):
                np.testing.assert_array_equal(state, returned)
            second = layer(x[:, SPLIT:], mask=second_mask)
            for state, returned in zip(_states(layer), second[1:]):
                np.testing.assert_array_equal(state, returned)
            got = (np.concatenate([first[0], second[0]], axis=1), second[1], second[2])
            _assert_all_close(got, _reference_in_two_calls(layer, x, mask), 2e-5, label)
            if ngram == 1:
                _assert_all_close(got, whole(x, mask=mask), 1e-5, label)
            results.setdefault(mask is None, []).append(got)

            layer.reset_states()
            for state in _states(layer):
                np.testing.assert_array_equal(state, np.zeros((B + 1, D)))
            _assert_all_close(layer(x[:, :SPLIT], mask=first_mask), first, 0, label)
            layer.reset_states()
        with pytest.raises(ValueError, match="batch size"):
            layer(x[:B, :SPLIT])
    for runs in results.values():
        _assert_all_close(runs[0], runs[1], 1e-5, "implementations disagree")


@pytest.mark.parametrize("variant,implementation", [("rkm_lstm", "fused"), ("gated_cnn", "parallel")])
def test_stateful_in_a_compiled_model(rng, variant, implementation):
    """The state variables are updated from inside a compiled (XLA) predict function as well."""
    x = _inputs(rng)
    model = keras.Sequential([
        keras.Input(batch_shape=(B, None, M)),
        KernelRNN(D, variant=variant, stateful=True, return_sequences=True,
                  implementation=implementation),
    ])
    layer = model.layers[0]
    randomize_weights(layer, rng)
    model.compile(jit_compile=True)
    got = np.concatenate([model.predict_on_batch(x[:, :SPLIT]),
                          model.predict_on_batch(x[:, SPLIT:])], axis=1)
    want = _twin(layer, x, stateful=False)(x)
    np.testing.assert_allclose(got, want, atol=1e-5)
    np.testing.assert_allclose(_states(layer)[0], want[:, -1], atol=1e-5)
    layer.reset_states()
    np.testing.assert_allclose(model.predict_on_batch(x[:, :SPLIT]), want[:, :SPLIT], atol=1e-5)


def _step_by_step(cell, x, mask, h0, c0):
    """Keras' manual check: the cell called one step at a time, a masked step keeping the state
    (and outputting it)."""
    h, c = tf.constant(h0), tf.constant(c0)
    outputs = []
    for t in range(x.shape[1]):
        _, (h_new, c_new) = cell(tf.constant(x[:, t]), [h, c])
        keep = True if mask is None else tf.constant(mask[:, t, None])
        h, c = tf.where(keep, h_new, h), tf.where(keep, c_new, c)
        outputs.append(h)
    return np.stack(outputs, axis=1), np.asarray(h), np.asarray(c)


@pytest.mark.parametrize("variant", VARIANTS)
def test_initial_state_on_every_implementation(rng, variant):
    """`initial_state=[h, c]` against the NumPy reference and the cell stepped by hand, with
    padding before the first step (a masked step outputs the state: the initial h) and a row
    that is all padding, for the whole sequence and the last output alone."""
    x = _inputs(rng, batch=B + 1)
    h0, c0 = rng.normal(size=(2, B + 1, D)).astype("float32")
    layer = None
    for implementation in _implementations(variant) + ("auto",):
        if layer is None:
            layer = _layer(rng, variant, x, implementation=implementation)
        else:
            layer = _twin(layer, x, implementation=implementation)
        last_only = _twin(layer, x, return_sequences=False)
        for mask in (None, _mask()):
            want = _reference(layer, x, mask, h0=h0, c0=c0)
            by_hand = _step_by_step(layer.cell, x, mask, h0, c0)
            _assert_all_close(by_hand, want, 2e-5, "the two references")
            for training in (False, True):
                label = f"{implementation}, mask={mask is not None}, training={training}"
                got = layer(x, mask=mask, initial_state=[h0, c0], training=training)
                _assert_all_close(got, want, 2e-5, label)
                got = last_only(x, mask=mask, initial_state=[h0, c0], training=training)
                _assert_all_close(got, (want[1],) + want[1:], 2e-5, label)


@pytest.mark.parametrize("ngram", [1, 3])
@pytest.mark.parametrize("variant", VARIANTS)
def test_returned_states_continue_the_sequence(rng, variant, ngram):
    """`return_state=True` states passed as `initial_state` to a call on the rest of the
    sequence continue it: exactly the whole-sequence call with ngram=1, the two-call reference
    (window restarted) with ngram=3."""
    x = _inputs(rng, batch=B + 1)
    layer = None
    for implementation in _implementations(variant):
        if layer is None:
            layer = _layer(rng, variant, x, ngram=ngram, implementation=implementation)
        else:
            layer = _twin(layer, x, implementation=implementation)
        for mask in (None, _split_mask()):
            label = f"{implementation}, mask={mask is not None}"
            first_mask, second_mask = _halves(mask)
            out_1, h, c = layer(x[:, :SPLIT], mask=first_mask)
            out_2, h, c = layer(x[:, SPLIT:], mask=second_mask, initial_state=[h, c])
            got = (np.concatenate([out_1, out_2], axis=1), h, c)
            _assert_all_close(got, _reference_in_two_calls(layer, x, mask), 2e-5, label)
            if ngram == 1:
                _assert_all_close(got, layer(x, mask=mask), 1e-5, label)


@pytest.mark.parametrize("zero_output_for_mask", [False, True])
@pytest.mark.parametrize("variant", VARIANTS)
def test_initial_state_with_padding_gradients_match_loop(rng, variant, zero_output_for_mask):
    """Outputs, states and gradients (initial states included) of the fused and parallel
    implementations with an initial state and padding, against the automatic-gradient loop."""
    implementation = _implementations(variant)[0]
    initial_state = [rng.normal(size=(B + 1, D)) for _ in range(2)]
    _implementations_agree(rng, variant, implementation,
                           {"zero_output_for_mask": zero_output_for_mask},
                           {"mask": _mask(), "initial_state": initial_state})


@pytest.mark.parametrize("variant", VARIANTS)
def test_last_output_is_the_final_state_on_every_implementation(rng, variant):
    """With return_sequences=False the output is h'_T, the final state, on every
    implementation: trailing padding does not change it, `zero_output_for_mask` included."""
    x = _inputs(rng, batch=B + 1)
    mask = _mask()
    layer = None
    for implementation in _implementations(variant):
        for zero_output_for_mask in (False, True):
            label = f"{implementation}, zero_output_for_mask={zero_output_for_mask}"
            if layer is None:
                layer = KernelRNN(D, variant=variant, return_state=True,
                                  implementation=implementation, zero_output_for_mask=True)
                layer(x)
                randomize_weights(layer, rng)
            layer = _twin(layer, x, implementation=implementation,
                          zero_output_for_mask=zero_output_for_mask)
            output, h, c = layer(x, mask=mask)
            np.testing.assert_array_equal(output, h, err_msg=label)
            want = _reference(layer, x, mask)
            _assert_all_close((output, h, c), want[1:2] + want[1:], 2e-5, label)


# Constructor arguments whose non-default test value cannot be derived from their default.
_CONFIG_TEST_VALUES = {
    "units": 3,
    "variant": "linear_kernel_ot",  # has both sigmas, feedback and memory
    "ngram_padding": "same",
    "implementation": "fused",
    "seed": 11,
    "name": "configured",
    "dtype": "float64",
}
# Keras' own Layer.get_config leaves `autocast` out: not ours to keep.
_LAYER_ARGUMENTS_KERAS_DROPS = ("autocast",)


def _constructor_arguments(cls):
    """Every named argument `cls` takes: its own, the cell's (KernelRNN passes them on through
    **kwargs) and keras.layers.Layer's keyword-only ones (both pass **kwargs on to it)."""
    classes = (KernelRNN, KernelCell) if cls is KernelRNN else (KernelCell,)
    arguments = {}
    for owner in classes + (keras.layers.Layer,):
        for name, parameter in inspect.signature(owner.__init__).parameters.items():
            if parameter.kind in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL):
                continue
            if name == "self" or name in _LAYER_ARGUMENTS_KERAS_DROPS:
                continue
            arguments.setdefault(name, parameter.default)
    return arguments


def _non_default(name, default):
    if name in _CONFIG_TEST_VALUES:
        return _CONFIG_TEST_VALUES[name]
    if isinstance(default, bool):
        return not default
    if isinstance(default, int):
        return default + 1
    if isinstance(default, float):  # halved stays inside (0, 1) for sigmas; rates get 0.25
        return default / 2 if default else 0.25
    if name.endswith("_initializer"):
        return keras.initializers.Constant(0.125)
    if name.endswith("_regularizer"):
        return keras.regularizers.L2(0.125)
    if name.endswith("_constraint"):
        return keras.constraints.MaxNorm(1.5)
    pytest.fail(f"no non-default test value for constructor argument {name!r} "
                f"(default {default!r}): add one to _CONFIG_TEST_VALUES")


@pytest.mark.parametrize("cls", [KernelRNN, KernelCell])
def test_config_round_trip_holds_every_constructor_argument(rng, cls):
    """As nengo's keras-lmu does: every argument of the constructor signatures, set to a
    non-default value, is in get_config() and survives from_config(get_config()); a new
    argument that get_config forgets fails here."""
    arguments = _constructor_arguments(cls)
    expected = {"units", "variant", "ngram", "seed", "kernel_regularizer", "name", "dtype"}
    if cls is KernelRNN:
        expected |= {"stateful", "go_backwards", "implementation"}
    assert expected <= set(arguments)
    values = {name: _non_default(name, default) for name, default in arguments.items()}
    for name, value in values.items():
        assert value is not arguments[name] and value != arguments[name], name
    layer = cls(**values)
    config = layer.get_config()
    default_config = cls(1).get_config()  # units has no default: any other value
    clone = cls.from_config(config)
    clone_config = clone.get_config()
    assert clone_config == config
    for name, value in values.items():
        assert name in config, f"get_config() leaves out constructor argument {name!r}"
        assert config[name] != default_config.get(name), f"{name!r}: get_config() keeps the default"
        if isinstance(value, (bool, int, float, str)) and name != "dtype":
            assert config[name] == value, name
    assert clone.dtype_policy.name == "float64" and not clone.trainable
    assert clone.name == "configured"

    # The clone computes what the layer computes (same weights, same inputs).
    x = rng.normal(size=(2, 5, 3))
    if cls is KernelRNN:
        layer(x), clone(x)
        randomize_weights(layer, rng, scale=0.1)
        clone.set_weights(layer.get_weights())
        layer.reset_states(), clone.reset_states()
        _assert_all_close(clone(x), layer(x), 0)
    else:  # ngram=2: the cell cannot be stepped by hand, but its two halves can be compared
        layer.build((None, 3)), clone.build((None, 3))
        randomize_weights(layer, rng, scale=0.1)
        clone.set_weights(layer.get_weights())
        c_prev = rng.normal(size=(2, 5, 3))
        _assert_all_close(clone.update(clone.project_sequence(x), c_prev),
                          layer.update(layer.project_sequence(x), c_prev), 0)


@pytest.mark.parametrize("variant", ["rkm_lstm", "cnn"])  # with and without a recurrent kernel
def test_cell_reads_int8_matrices_back_and_names_itself_on_a_bad_store(rng, tmp_path, variant):
    """The zoo stores a cell's matrices as int8 with a scale per column
    (`kasm_keras.layers.int8_storage`); the cell reassembles them within half a step."""
    import h5py

    from kasm_keras import zoo

    def model():
        inputs = keras.Input((T, M))
        return keras.Model(inputs, KernelRNN(D, variant=variant, layer_norm=True,
                                             name="rnn")(inputs))

    trained = model()
    randomize_weights(trained, rng)
    path = str(tmp_path / "model.weights.h5")
    trained.save_weights(path)
    zoo.compact_weights(path, embedding_layer=None, int8_matrices_under="cell")
    loaded = model()
    loaded.load_weights(path)
    for before, after in zip(trained.weights, loaded.weights):
        before, after = before.numpy(), after.numpy()
        if before.ndim == 2:
            step = np.abs(before).max(axis=0, keepdims=True) / 127
            assert (np.abs(after - before) <= 0.5 * step * 1.01 + 1e-6).all()
        else:
            np.testing.assert_array_equal(after, before.astype(np.float16))
    x = _inputs(rng)
    np.testing.assert_allclose(loaded(x), trained(x), atol=0.05)
    with h5py.File(path, "r+") as weights:  # an int8 matrix without its scales
        del weights["layers/kernel_rnn/cell/vars/0_scale"]
    with pytest.raises(ValueError, match=r"rnn/kernel_cell in .*model.weights.h5: stored "
                                         r"variable 0 is int8"):
        model().load_weights(path)
