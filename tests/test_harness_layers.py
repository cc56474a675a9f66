"""Keras' own layer harness (`keras.src.testing.TestCase.run_layer_test`, as Keras' lstm_test.py
applies it) on `KernelRNN` and on `keras.layers.RNN(KernelCell(...))`, every Table 1 variant,
and keras-hub's precision check (`run_precision_test`: mixed_float16, mixed_bfloat16 and pure
bfloat16) on both."""

import keras
import numpy as np
from absl.testing import parameterized
from keras.src import testing
from keras_hub.src.tests.test_case import TestCase as HubTestCase

from kasm_keras import ChannelStandardization, KernelCell, KernelRNN, MaskedMean
from kasm_keras.layers import VARIANTS, get_variant
from kasm_keras.models.kernel_classifier.backbone import TokenEmbedding
from kasm_keras.models.kernel_lm.backbone import TiedEmbedding
from kasm_keras.regularizers import LockedDropout

UNITS, STEPS, FEATURES = 4, 5, 3


def _weights(variant, layer_norm=True):
    """kernel, recurrent kernel (recurrent variants), bias, and the norm's gamma and beta."""
    return 2 + get_variant(variant).recurrent + 2 * layer_norm


class KernelRnnHarnessTest(testing.TestCase):
    @parameterized.named_parameters(*[(v, v) for v in VARIANTS])
    def test_kernel_rnn(self, variant):
        self.run_layer_test(
            KernelRNN,
            init_kwargs={"units": UNITS, "variant": variant, "dropout": 0.25, "seed": 1},
            input_shape=(2, STEPS, FEATURES),
            call_kwargs={"training": True},
            expected_output_shape=(2, UNITS),
            expected_num_trainable_weights=_weights(variant),
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=1,
            supports_masking=True,
        )

    @parameterized.named_parameters(*[(v, v) for v in VARIANTS])
    def test_kernel_rnn_sequences_regularized(self, variant):
        self.run_layer_test(
            KernelRNN,
            init_kwargs={"units": UNITS, "variant": variant, "return_sequences": True,
                         "ngram": 2, "layer_norm": False, "kernel_regularizer": "l2",
                         "bias_regularizer": "l1"},
            input_shape=(2, STEPS, FEATURES),
            expected_output_shape=(2, STEPS, UNITS),
            expected_num_losses=2,
            expected_num_trainable_weights=_weights(variant, layer_norm=False),
            expected_num_non_trainable_weights=0,
            supports_masking=True,
        )

    @parameterized.named_parameters(*[(v, v) for v in VARIANTS])
    def test_rnn_of_kernel_cell(self, variant):
        self.run_layer_test(
            keras.layers.RNN,
            init_kwargs={"cell": KernelCell(UNITS, variant=variant), "return_sequences": True},
            input_shape=(2, STEPS, FEATURES),
            expected_output_shape=(2, STEPS, UNITS),
            expected_num_trainable_weights=_weights(variant),
            expected_num_non_trainable_weights=0,
            supports_masking=True,
        )


class KernelRnnPrecisionTest(HubTestCase):
    @parameterized.named_parameters(*[(v, v) for v in VARIANTS])
    def test_precision(self, variant):
        # A tensor, as keras-hub's tests pass: `compute_output_spec` of any Keras RNN (LSTM
        # too) refuses a NumPy array.
        x = keras.ops.convert_to_tensor(
            np.random.default_rng(0).normal(size=(2, STEPS, FEATURES)).astype("float32"))
        self.run_precision_test(KernelRNN, {"units": UNITS, "variant": variant}, x)
        self.run_precision_test(keras.layers.RNN, {"cell": KernelCell(UNITS, variant=variant)}, x)

    def test_pure_bfloat16_recurrent_kernel_is_orthogonal(self):
        """A pure bfloat16 layer draws the orthogonal recurrent kernel in float32 and rounds it:
        the rows stay orthonormal to bfloat16's precision."""
        layer = KernelRNN(UNITS, variant="rkm_lstm", dtype="bfloat16")
        layer(np.zeros((1, 2, FEATURES), "float32"))
        u = keras.ops.convert_to_numpy(
            keras.ops.cast(layer.cell.recurrent_kernel.value, "float32"))
        self.assertEqual(layer.cell.recurrent_kernel.dtype, "bfloat16")
        self.assertAllClose(u @ u.T, np.eye(UNITS), atol=0.05)


class PublicLayersHarnessTest(testing.TestCase):
    """Keras' layer harness on the other public layers, as Keras' own tests apply it to the
    layers they resemble (GlobalAveragePooling1D, Dropout, Embedding, Normalization)."""

    def test_masked_mean(self):
        self.run_layer_test(
            MaskedMean,
            init_kwargs={},
            input_shape=(2, STEPS, FEATURES),
            expected_output_shape=(2, FEATURES),
            expected_num_trainable_weights=0,
            expected_num_non_trainable_weights=0,
            supports_masking=True,
        )

    def test_locked_dropout(self):
        self.run_layer_test(
            LockedDropout,
            init_kwargs={"rate": 0.5, "seed": 1},
            input_shape=(2, STEPS, FEATURES),
            call_kwargs={"training": True},
            expected_output_shape=(2, STEPS, FEATURES),
            expected_num_trainable_weights=0,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=1,
            expected_num_losses=0,
            supports_masking=True,
            assert_built_after_instantiation=True,
        )

    def test_token_embedding(self):
        for mask_zero in (False, True):
            self.run_layer_test(
                TokenEmbedding,
                init_kwargs={"input_dim": 10, "output_dim": UNITS, "mask_zero": mask_zero},
                input_shape=(2, STEPS),
                input_dtype="int32",
                expected_output_shape=(2, STEPS, UNITS),
                expected_num_trainable_weights=1,
                expected_num_non_trainable_weights=0,
                expected_num_seed_generators=0,
                expected_num_losses=0,
                supports_masking=mask_zero,
            )

    def test_tied_embedding(self):
        init_kwargs = {"vocabulary_size": 10, "embedding_dim": UNITS, "embedding_dropout": 0.25,
                       "seed": 1}
        self.run_layer_test(
            TiedEmbedding,
            init_kwargs=init_kwargs,
            input_shape=(2, STEPS),
            input_dtype="int32",
            call_kwargs={"training": True},
            expected_output_shape=(2, STEPS, UNITS),
            expected_num_trainable_weights=2,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=1,
            supports_masking=True,
        )
        self.run_layer_test(
            TiedEmbedding,
            init_kwargs=init_kwargs,
            input_shape=(2, STEPS, UNITS),
            call_kwargs={"reverse": True},
            # The harness's training step calls the layer without `call_kwargs`, which is the
            # lookup above: the softmax direction is trained by the calls of the other checks.
            run_training_check=False,
            # A documented departure: the logits are float32 under a float16 or bfloat16
            # policy, where Keras' check expects the compute dtype (asserted below).
            run_mixed_precision_check=False,
            expected_output_shape=(2, STEPS, 10),
            expected_output_dtype="float32",
            expected_num_trainable_weights=2,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=1,
            supports_masking=True,
        )

    def test_channel_standardization(self):
        self.run_layer_test(
            ChannelStandardization,
            init_kwargs={"channels": FEATURES},
            input_shape=(2, STEPS, FEATURES),
            expected_output_shape=(2, STEPS, FEATURES),
            expected_output_dtype="float32",
            expected_num_trainable_weights=0,
            expected_num_non_trainable_weights=2,
            supports_masking=True,
        )

    def test_tied_embedding_logits_are_float32_under_mixed_precision(self):
        for policy in ("mixed_float16", "mixed_bfloat16", "bfloat16"):
            layer = TiedEmbedding(10, UNITS, dtype=policy)
            vectors = layer(np.array([[1, 2, 3]]))
            self.assertEqual(keras.backend.standardize_dtype(vectors.dtype),
                             keras.backend.standardize_dtype(layer.compute_dtype))
            logits = layer(vectors, reverse=True)
            self.assertEqual(keras.backend.standardize_dtype(logits.dtype), "float32")
