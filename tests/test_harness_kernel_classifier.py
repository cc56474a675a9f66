"""keras-hub's own harness (`keras_hub.src.tests.test_case.TestCase`) on the document classifier
family, applied as keras-hub's bert and gpt2 family tests apply it: tokenizer, preprocessor,
backbone, task, saving, precision, and presets from a local preset directory."""

import os

import keras_hub
import tensorflow as tf
from keras import ops
from keras_hub.src.tests.test_case import TestCase

from kasm_keras.models.kernel_classifier import (
    KernelClassifierBackbone, KernelTextClassifier, KernelTextClassifierPreprocessor,
    KernelTokenizer, trim_to_longest)

VOCABULARY = ["[PAD]", "[UNK]", "the", "cat", "sat", "on", "mat", "."]
TEXTS = ["the cat sat on the mat .", "the cat"]
LABELS = [1, 0]


def _backbone_kwargs():
    return {"vocabulary_size": len(VOCABULARY), "variant": "rkm_cifg", "units": 4,
            "embedding_dim": 3, "ngram": 2, "seed": 0}


class KernelTokenizerHarnessTest(TestCase):
    def test_tokenizer_basics(self):
        self.run_preprocessing_layer_test(
            cls=KernelTokenizer, init_kwargs={"vocabulary": VOCABULARY},
            input_data=["The cat sat.", "the dog"],
            expected_output=[[2, 3, 4, 7], [2, 1]],
            # Lower case and `[UNK]` back: the split is lossy.
            expected_detokenize_output=["the cat sat .", "the [UNK]"])

    def test_token_to_id_and_back(self):
        tokenizer = KernelTokenizer(vocabulary=VOCABULARY)
        for i, token in enumerate(VOCABULARY):
            self.assertEqual(tokenizer.token_to_id(token), i)
            self.assertEqual(tokenizer.id_to_token(i), token)
        with self.assertRaisesRegex(ValueError, "not in the vocabulary"):
            tokenizer.token_to_id("dog")


class KernelTextClassifierPreprocessorHarnessTest(TestCase):
    def setUp(self):
        self.tokenizer = KernelTokenizer(vocabulary=VOCABULARY)
        self.init_kwargs = {"tokenizer": self.tokenizer, "sequence_length": 8}
        self.input_data = (["The cat sat on the mat."], [1], [1.0])

    def test_preprocessor_basics(self):
        self.run_preprocessor_test(
            cls=KernelTextClassifierPreprocessor, init_kwargs=self.init_kwargs,
            input_data=self.input_data,
            expected_output=(
                {"token_ids": [[2, 3, 4, 5, 2, 6, 7, 0]],
                 "padding_mask": [[1, 1, 1, 1, 1, 1, 1, 0]]},
                [1], [1.0]))

    def test_maps_over_unbatched_strings_then_batches(self):
        preprocessor = KernelTextClassifierPreprocessor(**self.init_kwargs)
        ds = tf.data.Dataset.from_tensor_slices((TEXTS, LABELS)).map(preprocessor).batch(2)
        x, y = ds.get_single_element()
        self.assertAllEqual(x["token_ids"], preprocessor(TEXTS)["token_ids"])
        self.assertAllEqual(x["token_ids"].shape, (2, 8))
        self.assertAllEqual(y, LABELS)

    def test_sequence_length_none_pads_to_the_longest_document(self):
        """The family's departure: `sequence_length=None` cuts nothing and pads each call to
        its longest document (at least one step)."""
        preprocessor = KernelTextClassifierPreprocessor(self.tokenizer, sequence_length=None)
        self.assertEqual(preprocessor(TEXTS)["token_ids"].shape, (2, 7))
        self.assertEqual(preprocessor([""])["token_ids"].shape, (1, 1))
        self.assertEqual(preprocessor("the cat")["token_ids"].shape, (2,))
        cut = KernelTextClassifierPreprocessor(self.tokenizer, sequence_length=5)
        self.assertAllEqual(trim_to_longest(cut(TEXTS))["token_ids"],
                            preprocessor(TEXTS)["token_ids"][:, :5])


class KernelClassifierBackboneHarnessTest(TestCase):
    def setUp(self):
        self.init_kwargs = _backbone_kwargs()
        self.input_data = {"token_ids": ops.array([[2, 3, 4, 5, 0], [2, 3, 0, 0, 0]], "int32"),
                           "padding_mask": ops.array([[1, 1, 1, 1, 0], [1, 1, 0, 0, 0]],
                                                     "int32")}

    def test_backbone_basics(self):
        self.run_backbone_test(cls=KernelClassifierBackbone, init_kwargs=self.init_kwargs,
                               input_data=self.input_data, expected_output_shape=(2, 4))

    def test_token_ids_alone_are_masked_at_zero(self):
        """The family's addition: token ids alone stand for the dict, mask `ids != 0`."""
        backbone = KernelClassifierBackbone(**self.init_kwargs)
        self.assertAllClose(backbone(self.input_data["token_ids"]), backbone(self.input_data))

    def test_padding_changes_nothing(self):
        backbone = KernelClassifierBackbone(**self.init_kwargs)
        short = {k: v[:, :4] for k, v in self.input_data.items()}
        self.assertAllClose(backbone(short), backbone(self.input_data))

    def test_saved_model(self):
        self.run_model_saving_test(cls=KernelClassifierBackbone, init_kwargs=self.init_kwargs,
                                   input_data=self.input_data)


class KernelTextClassifierHarnessTest(TestCase):
    def setUp(self):
        self.preprocessor = KernelTextClassifierPreprocessor(
            KernelTokenizer(vocabulary=VOCABULARY), sequence_length=8)
        self.backbone = KernelClassifierBackbone(**_backbone_kwargs())
        self.init_kwargs = {"preprocessor": self.preprocessor, "backbone": self.backbone,
                            "num_classes": 2, "hidden_dim": 3, "dropout": 0.1, "seed": 0}
        self.train_data = (TEXTS, LABELS)
        self.input_data = self.preprocessor(*self.train_data)[0]

    def test_classifier_basics(self):
        self.run_task_test(cls=KernelTextClassifier, init_kwargs=self.init_kwargs,
                           train_data=self.train_data, expected_output_shape=(2, 2))

    def test_logits_stay_float32_under_mixed_precision(self):
        """The family's departure from keras-hub's precision check on tasks: the last layer
        computes in float32 whatever the policy, so the logits and softmax keep their range."""
        backbone = KernelClassifierBackbone(**_backbone_kwargs(), dtype="mixed_bfloat16")
        task = KernelTextClassifier(backbone, 2, preprocessor=self.preprocessor, hidden_dim=3)
        self.assertEqual(task.hidden_dense.compute_dtype, "bfloat16")
        self.assertEqual(task.output_dense.compute_dtype, "float32")
        self.assertDTypeEqual(task(self.input_data), "float32")

    def test_probabilities_match_predict(self):
        task = KernelTextClassifier(**self.init_kwargs, activation="softmax")
        self.assertAllClose(task.probabilities(TEXTS), task.predict(TEXTS, verbose=0))

    def test_saved_model(self):
        self.run_model_saving_test(cls=KernelTextClassifier, init_kwargs=self.init_kwargs,
                                   input_data=self.input_data)

    def test_local_preset(self):
        preset = os.path.join(self.get_temp_dir(), "preset")
        task = KernelTextClassifier(**self.init_kwargs)
        task.save_to_preset(preset)
        expected = task(self.input_data)
        self.run_preset_test(cls=KernelTextClassifier, preset=preset,
                             input_data=self.input_data, expected_output=expected)
        self.run_preset_test(cls=KernelClassifierBackbone, preset=preset,
                             input_data=self.input_data,
                             expected_output=task.backbone(self.input_data))
        self.run_preset_test(cls=KernelTextClassifierPreprocessor, preset=preset,
                             input_data=self.train_data,
                             expected_output=self.preprocessor(*self.train_data))
        self.run_preset_test(cls=KernelTokenizer, preset=preset, input_data=TEXTS,
                             expected_output=self.preprocessor.tokenizer(TEXTS))
        # keras-hub's base classes find the family's classes in the preset.
        loaded = keras_hub.models.TextClassifier.from_preset(preset)
        self.assertIsInstance(loaded, KernelTextClassifier)
        self.assertAllClose(loaded.predict(TEXTS, verbose=0), task.predict(TEXTS, verbose=0))
