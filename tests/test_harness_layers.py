"""Keras' own layer harness (`keras.src.testing.TestCase.run_layer_test`, as Keras' lstm_test.py
applies it) on `KernelRNN` and on `keras.layers.RNN(KernelCell(...))`, every Table 1 variant,
and keras-hub's precision check (`run_precision_test`: mixed_float16, mixed_bfloat16 and pure
bfloat16) on both."""

import keras
import numpy as np
from absl.testing import parameterized
from keras.src import testing
from keras_hub.src.tests.test_case import TestCase as HubTestCase

from kasm_keras import KernelCell, KernelRNN
from kasm_keras.layers import VARIANTS, get_variant

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
