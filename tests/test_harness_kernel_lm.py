"""keras-hub's own harness (`keras_hub.src.tests.test_case.TestCase`) on the language-model
family, applied as keras-hub's gpt2 and rwkv7 family tests apply it: tokenizer, preprocessor,
backbone, causal LM, `score`, saving, precision, and presets from a local preset directory."""

import os

import numpy as np
from keras import ops
from keras_hub.src.tests.test_case import TestCase

from kasm_keras.models.kernel_lm import (
    KernelCausalLM, KernelCausalLMPreprocessor, KernelLMBackbone, KernelLMTokenizer)

VOCABULARY = ["<unk>", "<eos>", "the", "cat", "sat", "on", "mat", "dog", "ran"]
TEXTS = ["the cat sat on the mat", "the dog ran"]


def _backbone_kwargs():
    return {"vocabulary_size": len(VOCABULARY), "variant": "rkm_lstm", "num_layers": 2,
            "hidden_dim": 5, "embedding_dim": 4, "dropout": 0.1, "hidden_dropout": 0.1,
            "input_dropout": 0.1, "embedding_dropout": 0.1, "weight_dropout": 0.2, "seed": 0}


def _tokenizer():
    return KernelLMTokenizer(vocabulary=VOCABULARY, lowercase=True)


class KernelLMTokenizerHarnessTest(TestCase):
    def test_tokenizer_basics(self):
        self.run_preprocessing_layer_test(
            cls=KernelLMTokenizer, init_kwargs={"vocabulary": VOCABULARY, "lowercase": True},
            input_data=["the cat sat", "The dog flew"], expected_output=[[2, 3, 4], [2, 7, 0]],
            expected_detokenize_output=["the cat sat", "the dog <unk>"])

    def test_token_to_id(self):
        tokenizer = _tokenizer()
        self.assertEqual([tokenizer.token_to_id(t) for t in VOCABULARY],
                         list(range(len(VOCABULARY))))
        with self.assertRaisesRegex(ValueError, "not in the vocabulary"):
            tokenizer.token_to_id("bird")


class KernelCausalLMPreprocessorHarnessTest(TestCase):
    def setUp(self):
        self.init_kwargs = {"tokenizer": _tokenizer(), "sequence_length": 8}
        self.input_data = ["the cat sat"]

    def test_preprocessor_basics(self):
        self.run_preprocessor_test(
            cls=KernelCausalLMPreprocessor, init_kwargs=self.init_kwargs,
            input_data=self.input_data,
            expected_output=(
                {"token_ids": [[1, 2, 3, 4, 1, 1, 1, 1]],
                 "padding_mask": [[1, 1, 1, 1, 1, 0, 0, 0]]},
                [[2, 3, 4, 1, 1, 1, 1, 1]],
                [[1, 1, 1, 1, 0, 0, 0, 0]]))


class KernelLMBackboneHarnessTest(TestCase):
    def setUp(self):
        self.init_kwargs = _backbone_kwargs()
        self.input_data = {"token_ids": ops.array([[1, 2, 3, 4, 1], [1, 2, 7, 1, 1]], "int32"),
                           "padding_mask": ops.array([[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]],
                                                     "int32")}

    def test_backbone_basics(self):
        self.run_backbone_test(cls=KernelLMBackbone, init_kwargs=self.init_kwargs,
                               input_data=self.input_data, expected_output_shape=(2, 5, 4))

    def test_saved_model(self):
        self.run_model_saving_test(cls=KernelLMBackbone, init_kwargs=self.init_kwargs,
                                   input_data=self.input_data)


class KernelCausalLMHarnessTest(TestCase):
    def setUp(self):
        self.preprocessor = KernelCausalLMPreprocessor(_tokenizer(), sequence_length=8)
        self.backbone = KernelLMBackbone(**_backbone_kwargs())
        self.init_kwargs = {"preprocessor": self.preprocessor, "backbone": self.backbone}
        self.train_data = (TEXTS,)
        self.input_data = self.preprocessor(*self.train_data)[0]

    def test_causal_lm_basics(self):
        self.run_task_test(cls=KernelCausalLM, init_kwargs=self.init_kwargs,
                           train_data=self.train_data,
                           expected_output_shape=(2, 8, len(VOCABULARY)))

    def test_generate(self):
        lm = KernelCausalLM(**self.init_kwargs)
        text = lm.generate("the cat", max_length=6)
        self.assertTrue(text.startswith("the cat"))
        # The preprocessed route, as keras-hub's causal LM tests check it.
        lm.preprocessor = None
        outputs = lm.generate({"token_ids": ops.array([[1, 2, 3, 0, 0, 0]], "int32"),
                               "padding_mask": ops.array([[1, 1, 1, 0, 0, 0]], "bool")},
                              stop_token_ids=None)
        self.assertAllEqual(outputs["token_ids"][:, :3], [[1, 2, 3]])

    def test_score_logits(self):
        """keras-hub's `score(token_ids, padding_mask, scoring_mode="logits")`: the model's
        own logits."""
        lm = KernelCausalLM(**self.init_kwargs)
        x = self.input_data
        logits = lm.score(token_ids=x["token_ids"], padding_mask=x["padding_mask"])
        self.assertEqual(tuple(logits.shape), (2, 8, len(VOCABULARY)))
        self.assertAllClose(logits, lm(x))

    def test_score_loss_and_layer_intercept(self):
        lm = KernelCausalLM(**self.init_kwargs)
        x = self.input_data
        targets = ops.roll(x["token_ids"], shift=-1, axis=1)
        seen = []

        def intercept(activations, index):
            seen.append(index)
            return activations

        loss = lm.score(token_ids=x["token_ids"], padding_mask=x["padding_mask"],
                        scoring_mode="loss", target_ids=targets, layer_intercept_fn=intercept)
        self.assertEqual(seen, [-1, 0, 1])
        self.assertEqual(tuple(loss.shape), (2, 8))
        logits = ops.convert_to_numpy(lm(x))
        log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        expected = -np.take_along_axis(log_p, np.asarray(targets)[..., None], -1)[..., 0]
        # The family's departure from keras-hub's transformers: no loss at padding, where a
        # recurrent model only keeps its states.
        expected = expected * np.asarray(x["padding_mask"])
        self.assertAllClose(loss, expected, atol=1e-5, rtol=1e-5)
        # Zeroing the embedded words through the intercept changes the scores.
        zeroed = lm.score(token_ids=x["token_ids"], padding_mask=x["padding_mask"],
                          layer_intercept_fn=lambda a, i: a * 0 if i == -1 else a)
        self.assertNotAllClose(zeroed, lm(x))
        with self.assertRaisesRegex(ValueError, "target_ids"):
            lm.score(token_ids=x["token_ids"], scoring_mode="loss")
        with self.assertRaisesRegex(ValueError, "scoring_mode"):
            lm.score(token_ids=x["token_ids"], scoring_mode="probabilities")

    def test_score_texts_sums_the_loss_of_score(self):
        """`score_texts`, the family's text convenience, agrees with keras-hub's `score`."""
        lm = KernelCausalLM(**self.init_kwargs)
        scores = lm.score_texts(TEXTS)
        x, y, weights = self.preprocessor(TEXTS)
        loss = lm.score(token_ids=x["token_ids"], padding_mask=x["padding_mask"],
                        scoring_mode="loss", target_ids=y)
        totals = -np.sum(np.asarray(loss) * np.asarray(weights), axis=-1)
        self.assertAllClose(scores["log_likelihood"], totals, atol=1e-4, rtol=1e-5)

    def test_saved_model(self):
        self.run_model_saving_test(cls=KernelCausalLM, init_kwargs=self.init_kwargs,
                                   input_data=self.input_data)

    def test_local_preset(self):
        preset = os.path.join(self.get_temp_dir(), "preset")
        lm = KernelCausalLM(**self.init_kwargs)
        lm.save_to_preset(preset)
        self.run_preset_test(cls=KernelCausalLM, preset=preset, input_data=self.input_data,
                             expected_output=lm(self.input_data))
        self.run_preset_test(cls=KernelLMBackbone, preset=preset, input_data=self.input_data,
                             expected_output=lm.backbone(self.input_data))
        self.run_preset_test(cls=KernelCausalLMPreprocessor, preset=preset,
                             input_data=self.train_data,
                             expected_output=self.preprocessor(*self.train_data))
        self.run_preset_test(cls=KernelLMTokenizer, preset=preset, input_data=TEXTS,
                             expected_output=self.preprocessor.tokenizer(TEXTS))
