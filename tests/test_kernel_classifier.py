"""The classifier family: tokenizer, preprocessor, padding that changes nothing, config round trip."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kasm_keras.data.text_encoding import TextEncoder
from kasm_keras.data.vocabulary import Vocabulary
from kasm_keras.models.kernel_classifier import (
    KernelClassifierBackbone, KernelTextClassifier, KernelTokenizer, build_classifier,
    trim_to_longest)

VOCABULARY = ["[PAD]", "[UNK]", "the", "cat", "sat", "on", "mat", "."]
TEXTS = ["The cat sat on the mat.", "cat", "", "the the the the the the the the the the the"]


def _classifier(variant="rkm_cifg", ngram=1, max_length=8):
    keras.utils.set_random_seed(0)
    return build_classifier(len(VOCABULARY), 3, variant, units=6, embedding_dim=4, ngram=ngram,
                            max_length=max_length, hidden=5, vocabulary=VOCABULARY,
                            class_names=["a", "b", "c"])


def test_tokenizer_round_trip_and_vocabulary_file(tmp_path):
    tokenizer = KernelTokenizer(vocabulary=VOCABULARY)
    assert tokenizer(["The cat sat on the dog."]) == [[2, 3, 4, 5, 2, 1, 7]]  # keras-hub: lists
    ids = tokenizer.tokenize(["The cat sat on the dog."])
    assert ids.to_list() == [[2, 3, 4, 5, 2, 1, 7]]
    assert tokenizer.detokenize(ids).numpy().tolist() == [b"the cat sat on the [UNK] ."]
    tokenizer.save_assets(str(tmp_path))
    lines = (tmp_path / "vocabulary.txt").read_text().split("\n")
    assert lines[:-1] == VOCABULARY and lines[-1] == ""
    # The plain file's lines give keras' StringLookup the same ids.
    lookup = keras.layers.StringLookup(
        vocabulary=(tmp_path / "vocabulary.txt").read_text().split("\n")[:-1],
        mask_token="[PAD]", oov_token="[UNK]")
    assert lookup(tf.constant(["the", "cat", "dog"])).numpy().tolist() == [2, 3, 1]
    assert KernelTokenizer(vocabulary=str(tmp_path / "vocabulary.txt")).get_vocabulary() == VOCABULARY


@pytest.mark.parametrize("bad, message", [(["[UNK]", "the"], "id 0"), (["[PAD]", "the"], "[UNK]")])
def test_tokenizer_refuses_a_vocabulary_without_its_special_tokens(bad, message):
    with pytest.raises(ValueError, match=message):
        KernelTokenizer(vocabulary=bad)


def _longest(classifier, texts):
    """The preprocessor's token ids (keras-hub's: at sequence_length), cut to the longest."""
    return trim_to_longest(classifier.preprocessor(texts))["token_ids"]


def test_preprocessor_pads_to_the_longest_document_cut_at_sequence_length():
    classifier = _classifier(max_length=8)
    assert classifier.preprocessor(TEXTS[:2])["token_ids"].shape == (2, 8)  # keras-hub's width
    assert _longest(classifier, TEXTS).shape == (4, 8)  # the last is cut at 8
    assert _longest(classifier, TEXTS[:2]).shape == (2, 7)
    assert _longest(classifier, [""]).shape == (1, 1)  # never zero steps
    encoder = TextEncoder(Vocabulary(VOCABULARY), 8, pad_to_longest=True)
    for batch in (TEXTS, TEXTS[:2], [""]):
        np.testing.assert_array_equal(encoder(tf.constant(batch))[0],
                                      _longest(classifier, batch))


@pytest.mark.parametrize("variant, ngram", [("rkm_cifg", 1), ("lstm", 3), ("gated_cnn", 3)])
def test_padding_to_128_or_to_the_longest_gives_the_same_outputs_and_gradients(variant, ngram):
    classifier = _classifier(variant, ngram, max_length=128)
    cut = _longest(classifier, TEXTS)
    padded = tf.pad(cut, [[0, 0], [0, 128 - cut.shape[1]]])
    labels = tf.constant([0, 1, 2, 1])

    def loss_and_gradients(ids):
        with tf.GradientTape() as tape:
            logits = classifier(ids, training=False)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
        return logits, tape.gradient(loss, classifier.trainable_variables)

    logits_cut, gradients_cut = loss_and_gradients(cut)
    logits_padded, gradients_padded = loss_and_gradients(padded)
    np.testing.assert_allclose(logits_cut, logits_padded, atol=1e-6)
    for a, b in zip(gradients_cut, gradients_padded):
        np.testing.assert_allclose(tf.convert_to_tensor(a), tf.convert_to_tensor(b), atol=1e-6)


def test_backbone_and_task_configs_round_trip():
    classifier = _classifier("rkm_lstm", 3)
    backbone = classifier.backbone
    clone = KernelClassifierBackbone.from_config(backbone.get_config())
    assert clone.get_config() == backbone.get_config()
    assert (clone.token_embedding, clone.kernel_rnn, clone.pooling) != (None, None, None)
    config = classifier.get_config()
    assert config["class_names"] == ["a", "b", "c"] and config["num_classes"] == 3
    task = KernelTextClassifier.from_config(config)
    assert task.class_names == ["a", "b", "c"] and task.hidden_dim == 5


def test_embedding_matrix_is_assigned_not_stored_in_the_config():
    matrix = np.arange(len(VOCABULARY) * 4, dtype=np.float32).reshape(len(VOCABULARY), 4)
    classifier = build_classifier(len(VOCABULARY), 2, "cnn", units=3, embedding_matrix=matrix,
                                  hidden=2, vocabulary=VOCABULARY)
    np.testing.assert_array_equal(classifier.backbone.token_embedding.embeddings, matrix)
    assert "Constant" not in str(classifier.backbone.get_config())
    with pytest.raises(ValueError, match="rows for a vocabulary"):
        build_classifier(3, 2, "cnn", embedding_matrix=matrix)
