"""keras-hub's own harness (`keras_hub.src.tests.test_case.TestCase`) on the time-series
classifier family, applied as keras-hub's family tests apply it: preprocessor, backbone, task,
saving, precision, and presets from a local preset directory."""

import os

import keras
import numpy as np
import tensorflow as tf
from keras import ops
from keras_hub.src.tests.test_case import TestCase

from kasm_keras.models.time_series_classifier import (
    TimeSeriesBackbone, TimeSeriesClassifier, TimeSeriesClassifierPreprocessor)

CHANNELS = 2


def _series(lengths=(3, 5), seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(n, CHANNELS)).astype("float32") for n in lengths]


def _backbone(**kwargs):
    backbone = TimeSeriesBackbone(**_backbone_kwargs(), **kwargs)
    backbone.standardization.set_statistics([0.5, -1.0], [2.0, 0.5])
    return backbone


def _backbone_kwargs():
    return {"channels": CHANNELS, "variant": "rkm_lstm", "units": 4, "ngram": 2, "seed": 0}


def _inputs():
    series = _series()
    values = np.zeros([2, 5, CHANNELS], np.float32)
    mask = np.zeros([2, 5], bool)
    for i, s in enumerate(series):
        values[i, :len(s)], mask[i, :len(s)] = s, True
    return {"series": ops.convert_to_tensor(values), "padding_mask": ops.convert_to_tensor(mask)}


class TimeSeriesClassifierPreprocessorHarnessTest(TestCase):
    def test_preprocessor_basics(self):
        x = np.arange(12, dtype=np.float32).reshape(2, 3, CHANNELS)
        self.run_preprocessing_layer_test(
            cls=TimeSeriesClassifierPreprocessor, init_kwargs={}, input_data=(x, [0, 1]),
            expected_output=({"series": x, "padding_mask": np.ones([2, 3], bool)}, [0, 1]))

    def test_pads_and_masks_series_of_unequal_lengths(self):
        series = _series()
        packed = TimeSeriesClassifierPreprocessor()(tf.ragged.constant(series, ragged_rank=1))
        self.assertAllClose(packed["series"], _inputs()["series"])
        self.assertAllEqual(packed["padding_mask"], _inputs()["padding_mask"])
        # A dataset of single series, padded per batch.
        ds = tf.data.Dataset.from_tensor_slices(tf.ragged.constant(series, ragged_rank=1))
        batch = ds.map(TimeSeriesClassifierPreprocessor()).padded_batch(2).get_single_element()
        self.assertAllEqual(batch["padding_mask"], _inputs()["padding_mask"])
        # The packed input passes as it is.
        self.assertAllClose(TimeSeriesClassifierPreprocessor()(_inputs())["series"],
                            _inputs()["series"])


class TimeSeriesBackboneHarnessTest(TestCase):
    def test_backbone_basics(self):
        # The precision check is `test_precision_but_standardization`: see there.
        self.run_backbone_test(cls=TimeSeriesBackbone, init_kwargs=_backbone_kwargs(),
                               input_data=_inputs(), expected_output_shape=(2, 4),
                               run_mixed_precision_check=False)

    def test_precision_but_standardization(self):
        """keras-hub's precision check, with the family's departure: the standardisation
        computes in float32 under every policy (raw values rounded to 16 bits before
        centring lose their small differences); every other layer follows the policy."""
        for policy in ("mixed_float16", "mixed_bfloat16", "bfloat16"):
            policy = keras.mixed_precision.Policy(policy)
            backbone = TimeSeriesBackbone(**_backbone_kwargs(), dtype=policy)
            self.assertDTypeEqual(backbone(_inputs()), policy.compute_dtype)
            self.assertEqual(backbone.standardization.compute_dtype, "float32")
            self.assertEqual(backbone.standardization.variable_dtype, "float32")
            for layer in backbone._flatten_layers():
                if layer is backbone.standardization or isinstance(layer, keras.layers.InputLayer):
                    continue
                self.assertEqual(layer.compute_dtype, policy.compute_dtype)
                self.assertEqual(layer.variable_dtype, policy.variable_dtype)

    def test_saved_model(self):
        self.run_model_saving_test(cls=TimeSeriesBackbone, init_kwargs=_backbone_kwargs(),
                                   input_data=_inputs())


class TimeSeriesClassifierHarnessTest(TestCase):
    def setUp(self):
        self.init_kwargs = {"backbone": _backbone(), "num_classes": 3, "hidden_dim": 3,
                            "dropout": 0.1, "seed": 0,
                            "preprocessor": TimeSeriesClassifierPreprocessor()}
        self.train_data = (tf.ragged.constant(_series(), ragged_rank=1), np.array([0, 2]))

    def test_classifier_basics(self):
        self.run_task_test(cls=TimeSeriesClassifier, init_kwargs=self.init_kwargs,
                           train_data=self.train_data, expected_output_shape=(2, 3))

    def test_predict_of_a_list_equals_the_packed_input(self):
        task = TimeSeriesClassifier(**self.init_kwargs)
        self.assertAllClose(task.predict(_series(), verbose=0), task(_inputs()))

    def test_saved_model(self):
        self.run_model_saving_test(cls=TimeSeriesClassifier, init_kwargs=self.init_kwargs,
                                   input_data=_inputs())

    def test_local_preset_records_no_preprocessor(self):
        """The family's departure: the stateless preprocessor is neither in the task's config
        nor a preset file; loading makes a new one."""
        preset = os.path.join(self.get_temp_dir(), "preset")
        task = TimeSeriesClassifier(**self.init_kwargs)
        task.save_to_preset(preset)
        self.assertFalse(os.path.exists(os.path.join(preset, "preprocessor.json")))
        self.assertIsNone(task.get_config()["preprocessor"])
        self.run_preset_test(cls=TimeSeriesClassifier, preset=preset, input_data=_inputs(),
                             expected_output=task(_inputs()))
        self.run_preset_test(cls=TimeSeriesBackbone, preset=preset, input_data=_inputs(),
                             expected_output=task.backbone(_inputs()))
        self.run_preset_test(cls=TimeSeriesClassifierPreprocessor, preset=preset,
                             input_data=_inputs(), expected_output=_inputs())
        loaded = TimeSeriesClassifier.from_preset(preset)
        self.assertIsInstance(loaded.preprocessor, TimeSeriesClassifierPreprocessor)
