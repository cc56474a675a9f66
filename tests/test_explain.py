"""The kernel view of a prediction (issue 28): each token's exact share of the logits, for the
three task models, against a float64 NumPy computation of the definition."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kasm_keras
from kasm_keras.layers import held_values
from kasm_keras.models import explanation
from kasm_keras.models.kernel_classifier.preprocessor import trim_to_longest
from kasm_keras.models.kernel_classifier.text_classifier import build_classifier
from kasm_keras.models.kernel_lm import (
    KernelCausalLM, KernelCausalLMPreprocessor, KernelLMBackbone, KernelLMTokenizer)
from kasm_keras.models.time_series_classifier.time_series_classifier import (
    build_time_series_classifier)
from tests import numpy_reference
from tests.conftest import randomize_weights

VARIANTS = kasm_keras.VARIANTS
WORDS = ["[PAD]", "[UNK]"] + [f"w{i}" for i in range(12)]
TEXTS = ["w1 w2 w3 zebra w4 w5", "w6 w7", "w8 w9 w10 w11 w1 w2 w3 w4 w5"]
LM_WORDS = ["<unk>", "<eos>", "the", "cat", "sat", "on", "mat", "dog", "ran"]


def _classifier(rng, variant, ngram=1, layer_norm=True, **kwargs):
    keras.utils.set_random_seed(0)
    model = build_classifier(len(WORDS), 3, variant, units=5, ngram=ngram, embedding_dim=4,
                             hidden=6, vocabulary=WORDS, layer_norm=layer_norm, **kwargs)
    randomize_weights(model, rng, scale=0.6)
    return model


def _softmax(logits):
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _complete(result):
    """Completeness as the issue states it: |sum + constant - logit| <= 1e-4 max |logit|."""
    assert result.completeness_error() <= 1e-4 * np.abs(result.logits).max()


def _cell_arrays(cell):
    def f64(weight):
        return None if weight is None else np.asarray(weight, np.float64)
    return dict(W=f64(cell.kernel), b=f64(cell.bias), U=f64(cell.recurrent_kernel),
                ngram=cell.ngram, s_i=cell.sigma_i, s_f=cell.sigma_f, gamma=f64(cell.gamma),
                beta=f64(cell.beta), eps=cell.layer_norm_epsilon)


def _head(model, pooled, parts):
    hidden, out = model.hidden_dense, model.output_dense
    return numpy_reference.held_head(
        pooled, parts, *(np.asarray(w, np.float64) for w in
                         (hidden.kernel, hidden.bias, out.kernel, out.bias)))


def _pool(outputs, parts, mask):
    count = mask.sum(1)[:, None]
    return ((outputs * mask[:, :, None]).sum(1) / count,
            (parts * mask[:, None, :, None]).sum(2) / count[:, None])


def _reference_classifier(model, texts):
    """(contributions [B, T, C], constant [B, C], logits [B, C]) by the definition, float64."""
    inputs = trim_to_longest(model.preprocessor(tf.constant(texts)))
    ids, mask = np.asarray(inputs["token_ids"]), np.asarray(inputs["padding_mask"], bool)
    table = np.asarray(model.backbone.token_embedding.embeddings, np.float64)
    cell = model.backbone.kernel_rnn.cell
    outputs, parts = numpy_reference.held_run(cell.variant, table[ids], mask=mask,
                                              **_cell_arrays(cell))
    logits, logit_parts = _head(model, *_pool(outputs, parts, mask))
    np.testing.assert_allclose(logit_parts.sum(1), logits, atol=1e-10)  # the reference's own
    return logit_parts[:, :-1], logit_parts[:, -1], logits, mask.sum(1)


# Every variant at both widths, the layer norm on and off; each case checks one accumulation,
# alternately, so each mode meets every variant, width and state of the layer norm.
CLASSIFIER_CASES = [(v, n, layer_norm, ("reverse", "forward")[(i + n + layer_norm) % 2])
                    for i, v in enumerate(VARIANTS) for n in (1, 3) for layer_norm in (True, False)]


@pytest.mark.parametrize("variant, ngram, layer_norm, mode", CLASSIFIER_CASES)
def test_classifier_contributions_are_the_definitions_and_complete(variant, ngram, layer_norm,
                                                                    mode, rng):
    model = _classifier(rng, variant, ngram, layer_norm)
    contributions, constant, logits, lengths = _reference_classifier(model, TEXTS)
    real = np.asarray(model(model.preprocessor(tf.constant(TEXTS))))
    np.testing.assert_allclose(logits, real, atol=1e-5)
    for row, result in enumerate(model.explain(TEXTS, mode=mode)):
        assert result.contributions.dtype == np.float32
        assert result.contributions.shape == (lengths[row], 3)
        _complete(result)
        np.testing.assert_allclose(result.logits, real[row], atol=1e-5)
        np.testing.assert_allclose(result.contributions, contributions[row, :lengths[row]],
                                   atol=2e-5)
        np.testing.assert_allclose(result.constant, constant[row], atol=2e-5)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_chosen_classes_are_columns_of_every_class(rng, mode):
    model = _classifier(rng, "rkm_lstm", ngram=3, class_names=["World", "Sports", "Business"])
    every = model.explain(TEXTS, mode=mode)
    predicted = model.explain(TEXTS, classes="predicted", mode=mode)
    chosen = model.explain(TEXTS, classes=["Business", 0], mode=mode)
    for full, top, two in zip(every, predicted, chosen):
        k = int(np.argmax(full.logits))
        assert top.class_names == [full.class_names[k]] and top.contributions.shape[1] == 1
        assert two.class_names == ["Business", "World"]
        for result, columns in ((top, [k]), (two, [2, 0])):
            _complete(result)
            np.testing.assert_allclose(result.contributions, full.contributions[:, columns],
                                       atol=1e-5)
            np.testing.assert_allclose(result.constant, full.constant[columns], atol=1e-5)
            np.testing.assert_allclose(result.logits, full.logits[columns], atol=1e-6)
    assert model.explain(TEXTS[:1], classes="Sports")[0].class_names == ["Sports"]
    for wrong in ("Weather", 3, [], True):
        with pytest.raises(ValueError, match="classes"):
            model.explain(TEXTS[:1], classes=wrong)


def test_tokens_are_the_tokenizers_with_the_unknown_token(rng):
    result = _classifier(rng, "rkm_cifg").explain("W1 zebra w2.")[0]
    assert result.tokens == ["w1", "[UNK]", "w2", "[UNK]"]
    assert result.class_names == ["0", "1", "2"]


def test_cnn_1gram_contribution_in_closed_form(rng):
    """h_t = tanh(s_i (W x_t + b)); held, token t brings sec(c_t) s_i W x_t / n to the mean,
    and the head maps that through W1, the ReLU's 0/1 mask and W2."""
    model = _classifier(rng, "cnn", layer_norm=False)
    result = model.explain(["w3 w4 w5 w3"])[0]
    cell = model.backbone.kernel_rnn.cell
    W, b = np.asarray(cell.kernel, np.float64), np.asarray(cell.bias, np.float64)
    x = np.asarray(model.backbone.token_embedding.embeddings, np.float64)[[5, 6, 7, 5]]
    c = cell.sigma_i * (x @ W + b)
    pooled = np.tanh(c).mean(0)
    W1, b1 = (np.asarray(w, np.float64) for w in (model.hidden_dense.kernel,
                                                   model.hidden_dense.bias))
    W2 = np.asarray(model.output_dense.kernel, np.float64)
    relu_on = (pooled @ W1 + b1) > 0
    expected = ((np.tanh(c) / c * cell.sigma_i * (x @ W) / 4) @ W1 * relu_on) @ W2
    np.testing.assert_allclose(result.contributions, expected, atol=1e-5)
    # The same word at two places brings different shares only through its place: here none.
    np.testing.assert_allclose(result.contributions[0], result.contributions[3], atol=1e-6)


def test_padding_contributes_nothing_and_a_batch_equals_each_text_alone(rng):
    model = _classifier(rng, "rkm_lstm", ngram=3)
    together = model.explain(TEXTS)
    for text, result in zip(TEXTS, together):
        alone = model.explain([text])[0]
        np.testing.assert_allclose(alone.contributions, result.contributions, atol=1e-6)
        np.testing.assert_allclose(alone.constant, result.constant, atol=1e-6)
    # Padded steps given to the decomposition itself: zero, and the others unchanged.
    inputs = model.preprocessor(tf.constant(TEXTS))  # padded to the preprocessor's 128
    mask = tf.cast(inputs["padding_mask"], tf.bool)
    source = model.backbone.token_embedding(inputs["token_ids"])
    offset = tf.zeros_like(source[:, :1, :1])
    contributions, constant, _ = explanation.decompose(
        model, model.held_logits, source, (mask, offset), 1, 3, "reverse")
    lengths = np.sum(mask, 1)
    for row, result in enumerate(together):
        assert np.all(contributions[row, lengths[row]:] == 0)
        np.testing.assert_allclose(contributions[row, :lengths[row]], result.contributions,
                                   atol=1e-6)


def test_a_16_bit_model_is_explained_in_float32(rng):
    model = _classifier(rng, "lstm", ngram=3)
    half = build_classifier(len(WORDS), 3, "lstm", units=5, ngram=3, embedding_dim=4, hidden=6,
                            vocabulary=WORDS, dtype="mixed_bfloat16")
    half.set_weights(model.get_weights())
    weights = len(half.weights)
    for exact, result in zip(model.explain(TEXTS), half.explain(TEXTS)):
        assert result.contributions.dtype == np.float32
        np.testing.assert_allclose(result.contributions, exact.contributions, atol=1e-6)
    assert len(half.weights) == weights  # the float32 copy is not tracked as the model's
    randomize_weights(half, rng)  # the copy follows the model's weights
    _complete(half.explain(TEXTS[:1])[0])
    np.testing.assert_allclose(half.explain(TEXTS[:1])[0].logits,
                               np.asarray(half.rebuilt(dtype="float32")(
                                   half.preprocessor(tf.constant(TEXTS[:1]))))[0], atol=1e-5)


# ---------------------------------------------------------------- time series


def _series_model(rng, variant, ngram):
    keras.utils.set_random_seed(0)
    model = build_time_series_classifier(3, 4, variant, units=5, ngram=ngram, hidden_dim=6)
    randomize_weights(model, rng, scale=0.6)
    model.backbone.standardization.set_statistics(rng.normal(size=3), rng.uniform(0.5, 2, 3))
    return model


SERIES_LENGTHS = (5, 9, 2)


@pytest.mark.parametrize("variant, ngram", [(v, 1 + 2 * (i % 2)) for i, v in enumerate(VARIANTS)])
def test_time_series_contributions_are_complete_per_step_and_channel(variant, ngram, rng):
    model = _series_model(rng, variant, ngram)
    series = [rng.normal(size=(n, 3)).astype(np.float32) for n in SERIES_LENGTHS]
    real = model.predict(series, verbose=0)
    reverse, forward = model.explain(series, mode="reverse"), model.explain(series, mode="forward")
    for row, (r, f) in enumerate(zip(reverse, forward)):
        assert r.contributions.shape == (SERIES_LENGTHS[row], 3, 4) and r.tokens is None
        _complete(r)
        _complete(f)
        np.testing.assert_allclose(r.logits, real[row], atol=1e-5)
        np.testing.assert_allclose(r.contributions, f.contributions, atol=2e-5)
        np.testing.assert_allclose(r.constant, f.constant, atol=2e-5)


@pytest.mark.parametrize("variant", ["rkm_cifg", "linear_kernel"])
def test_time_series_steps_summed_over_channels_are_the_definitions(variant, rng):
    """The NumPy definition with one part per step (value / std), the offset -mean / std in
    the constant: the library's (step, channel) shares summed over channels equal it."""
    model = _series_model(rng, variant, 3)
    series = [rng.normal(size=(n, 3)).astype(np.float32) for n in SERIES_LENGTHS]
    mean, std = (np.asarray(w, np.float64) for w in model.backbone.standardization.get_weights())
    width = max(SERIES_LENGTHS)
    values = np.zeros((len(series), width, 3))
    for row, s in enumerate(series):
        values[row, :len(s)] = s
    mask = np.arange(width)[None] < np.array(SERIES_LENGTHS)[:, None]
    x_parts = np.zeros((len(series), width + 1, width, 3))
    x_parts[:, np.arange(width), np.arange(width)] = values / std
    x_parts[:, -1] = -mean / std
    cell = model.backbone.kernel_rnn.cell
    outputs, parts = numpy_reference.held_run(variant, (values - mean) / std, mask=mask,
                                              x_parts=x_parts, **_cell_arrays(cell))
    logits, logit_parts = _head(model, *_pool(outputs, parts, mask))
    for row, result in enumerate(model.explain(series)):
        n = SERIES_LENGTHS[row]
        np.testing.assert_allclose(result.contributions.sum(1), logit_parts[row, :n], atol=2e-5)
        np.testing.assert_allclose(result.constant, logit_parts[row, -1], atol=2e-5)
        np.testing.assert_allclose(result.logits, logits[row], atol=1e-5)


# ---------------------------------------------------------------- language model


def _lm(rng, variant):
    keras.utils.set_random_seed(0)
    backbone = KernelLMBackbone(len(LM_WORDS), variant, num_layers=2, hidden_dim=6,
                                embedding_dim=4, dropout=0.0, hidden_dropout=0.0,
                                input_dropout=0.0, embedding_dropout=0.0, weight_dropout=0.0)
    tokenizer = KernelLMTokenizer(vocabulary=LM_WORDS, lowercase=True)
    model = KernelCausalLM(backbone, KernelCausalLMPreprocessor(tokenizer, sequence_length=12))
    randomize_weights(model, rng, scale=0.6)
    return model


PROMPTS = ["the cat sat on", "the dog"]


# The cell's step is one implementation for every variant (the classifier's tests run all
# seven); through two layers, a gated kernel cell and a convolutional one.
@pytest.mark.parametrize("variant", ["rkm_lstm", "gated_cnn"])
def test_language_model_contributions_through_two_layers_are_complete(variant, rng):
    model = _lm(rng, variant)
    inputs = model.preprocessor.generate_preprocess(tf.constant(PROMPTS), sequence_length=6)
    real = np.asarray(model(inputs))
    lengths = np.sum(np.asarray(inputs["padding_mask"]), 1)
    for mode in ("reverse", "forward"):
        default = model.explain(PROMPTS, mode=mode)
        chosen = model.explain(PROMPTS, targets=["mat", "dog", "<eos>"], mode=mode)
        for row in range(len(PROMPTS)):
            last = real[row, lengths[row] - 1]
            assert default[row].class_names == [LM_WORDS[int(np.argmax(last))]]
            assert chosen[row].class_names == ["mat", "dog", "<eos>"]
            assert chosen[row].tokens == ["<eos>"] + PROMPTS[row].split()
            np.testing.assert_allclose(chosen[row].logits, last[[6, 7, 1]], atol=1e-5)
            np.testing.assert_allclose(default[row].logits, last.max(keepdims=True), atol=1e-5)
            _complete(default[row])
            _complete(chosen[row])


@pytest.mark.parametrize("variant", ["lstm", "rkm_cifg"])
def test_language_model_contributions_are_the_definitions(variant, rng):
    """The NumPy definition through both layers: the first layer's output parts are the
    second's input parts, then the tied decoder E h + bias."""
    model = _lm(rng, variant)
    inputs = model.preprocessor.generate_preprocess(tf.constant(PROMPTS), sequence_length=6)
    ids, mask = np.asarray(inputs["token_ids"]), np.asarray(inputs["padding_mask"], bool)
    table = np.asarray(model.backbone.token_embedding.embeddings, np.float64)
    x, x_parts = table[ids], None
    for rnn in model.backbone.rnn_layers:
        x, parts = numpy_reference.held_run(variant, x, mask=mask, x_parts=x_parts,
                                            **_cell_arrays(rnn.cell))
        x_parts = parts
    bias = np.asarray(model.backbone.token_embedding.bias, np.float64)
    results = model.explain(PROMPTS, targets=["mat", "the"])
    for row, result in enumerate(results):
        last = mask[row].sum() - 1
        logit_parts = x_parts[row, :, last] @ table[[6, 2]].T
        logit_parts[-1] += bias[[6, 2]]
        np.testing.assert_allclose(result.contributions, logit_parts[:last + 1], atol=2e-5)
        np.testing.assert_allclose(result.constant, logit_parts[-1], atol=2e-5)
        assert np.all(logit_parts[last + 1:-1] == 0)  # padding brings nothing


def test_a_target_outside_the_vocabulary_is_named(rng):
    with pytest.raises(ValueError, match="'zebra' is not in the vocabulary"):
        _lm(rng, "rkm_lstm").explain("the cat", targets=["zebra"])


# ---------------------------------------------------------------- the machinery and the zoo


def test_the_cheaper_accumulation_is_chosen():
    assert held_values.cheaper_mode(sources=3, outputs=4) == "forward"
    assert held_values.cheaper_mode(sources=40, outputs=4) == "reverse"
    assert held_values.cheaper_mode(sources=12, outputs=14) == "forward"
    assert held_values.cheaper_mode(sources=15, outputs=14) == "reverse"


def test_float64_explanations_equal_float32_and_add_up_to_float64_rounding(rng):
    """One `dtype` argument for the three tasks: the same shares, complete to 1e-12."""
    classifier = _classifier(rng, "linear_kernel", ngram=3)
    series = [rng.normal(size=(n, 3)).astype(np.float32) for n in SERIES_LENGTHS]
    cases = [(classifier, TEXTS, {"classes": "predicted"}),
             (_series_model(rng, "rkm_lstm", 1), series, {}),
             (_lm(rng, "rkm_cifg"), PROMPTS, {"targets": ["mat", "the"]})]
    for model, inputs, options in cases:
        for single, double in zip(model.explain(inputs, **options),
                                  model.explain(inputs, dtype="float64", **options)):
            assert single.contributions.dtype == np.float32
            assert double.contributions.dtype == double.constant.dtype == np.float64
            assert double.class_names == single.class_names
            assert double.completeness_error() <= 1e-12 * np.abs(double.logits).max()
            np.testing.assert_allclose(double.contributions, single.contributions, atol=2e-5)
            np.testing.assert_allclose(double.logits, single.logits, atol=1e-5)
    with pytest.raises(ValueError, match="dtype must be one of"):
        classifier.explain(TEXTS, dtype="float16")


@pytest.mark.parametrize("chosen", [None, "top", [[2, 0], [1, 1]]])
def test_the_xla_form_of_reverse_accumulation_gives_the_same_shares(chosen, rng):
    """Under XLA the outputs' backward passes run as copies of the batch, not pfor."""
    rnn = kasm_keras.KernelRNN(5, variant="rkm_lstm", ngram=3, layer_norm=True)
    head = keras.layers.Dense(3)
    x = rng.normal(size=(2, 6, 4)).astype(np.float32)
    head(rnn(x))
    randomize_weights(rnn, rng)

    def forward(inputs, copies):
        return head(rnn(inputs))

    vectorised = held_values.decompose(forward, x, (), 1, 3, chosen=chosen)
    compiled = tf.function(lambda: held_values.decompose(forward, x, (), 1, 3, chosen=chosen,
                                                         for_xla=True), jit_compile=True)()
    for a, b in zip(vectorised, compiled):
        np.testing.assert_allclose(a, b, atol=1e-5)
    contributions, constant, outputs = compiled
    assert contributions.shape == (2, 6, 3 if chosen is None else 1 if chosen == "top" else 2)


def test_held_values_are_off_outside_the_decomposition(rng):
    """Outside `holding` the cell computes as always (the held copy's values are equal, only
    its derivative differs)."""
    assert not held_values.is_holding()
    with held_values.holding(2):
        assert held_values.is_holding()
    assert held_values.current().hold(3.0) == 3.0


@pytest.mark.parametrize("name", ["ag_news/rkm_cifg_1gram", "ag_news/gated_cnn_3gram",
                                  "japanese_vowels/lstm_3gram", "ptb/rkm_lstm"])
def test_zoo_entries_are_explained_completely(name, rng):
    from kasm_keras import zoo

    model = zoo.load(name)
    if name.startswith("ptb"):
        results = model.explain(["the company said it expects", "stocks fell"])
    elif name.startswith("japanese_vowels"):
        series = [rng.normal(size=(n, model.channels)).astype(np.float32) for n in (7, 20)]
        results = model.explain(series)
        np.testing.assert_allclose(_softmax(np.stack([r.logits for r in results])),
                                   model.probabilities(series), atol=1e-5)
    else:
        texts = ["Stocks fell sharply on Wall Street today as investors worried about rates.",
                 "NASA launched a new probe to study the sun"]
        results = model.explain(texts)
        np.testing.assert_allclose(_softmax(np.stack([r.logits for r in results])),
                                   model.probabilities(texts), atol=1e-5)
        assert results[0].tokens[0] == "stocks"
        assert results[0].contributions[0].argmax() == model.class_names.index("Business")
        assert results[1].contributions[0].argmax() == model.class_names.index("Sci/Tech")
    for result in results:
        _complete(result)
