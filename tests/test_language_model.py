"""The language-model family and its training task: perplexity, carried state, cached
generation, the BPTT window schedule, exact resume and a tiny model that learns."""

import json
import os
import pathlib
import random
import subprocess
import sys

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from kasm_keras.data.language_model_data import load_corpus
from kasm_keras.models.kernel_lm import causal_lm
from kasm_keras.models.kernel_lm import (
    KernelCausalLM, KernelCausalLMPreprocessor, KernelLMBackbone, KernelLMTokenizer)
from kasm_keras.training.language_model import (
    MIN_WINDOW, RECIPES, LanguageModelConfig, LanguageModelTask, train_language_model, window_schedule,
    windows_per_epoch)
from kasm_keras.training.task import TrainingError

TRAIN = str(pathlib.Path(__file__).resolve().parents[1] / "tools" / "train.py")
VOCABULARY = ["<unk>", "<eos>", "the", "cat", "sat", "on", "mat", "dog", "ran"]


def _lm(variant="rkm_lstm", num_layers=2, seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    options = dict(num_layers=num_layers, hidden_dim=6, embedding_dim=4, dropout=0.0,
                   hidden_dropout=0.0, input_dropout=0.0, embedding_dropout=0.0,
                   weight_dropout=0.0, seed=seed)
    options.update(kwargs)
    backbone = KernelLMBackbone(len(VOCABULARY), variant, **options)
    tokenizer = KernelLMTokenizer(vocabulary=VOCABULARY, lowercase=True)
    return KernelCausalLM(backbone, KernelCausalLMPreprocessor(tokenizer, sequence_length=12))


def _randomize(model, rng, scale=0.5):
    for weight in model.weights:
        value = rng.normal(0.0, scale, size=weight.shape)
        if weight.name == "gamma":
            value = 1.0 + value
        weight.assign(value.astype("float32"))


def test_uniform_outputs_give_the_vocabulary_size_as_perplexity(rng):
    model = _lm()
    model.backbone.token_embedding.embeddings.assign(np.zeros((len(VOCABULARY), 4), np.float32))
    stream = rng.integers(0, len(VOCABULARY), 500)
    for batch_size, length in ((1, 70), (3, 7)):
        scores = model.perplexity(stream, batch_size, length)
        assert scores["perplexity"] == pytest.approx(len(VOCABULARY), rel=1e-6)
    # AWD-LSTM's evaluation: every token but the first of each row is a target.
    assert model.perplexity(stream, 3, 7)["tokens"] == 3 * (500 // 3 - 1)


@pytest.mark.parametrize("variant", ["lstm", "rkm_lstm", "rkm_cifg", "linear_kernel_ot"])
def test_a_sequence_in_chunks_with_carried_state_equals_it_at_once(variant, rng):
    model = _lm(variant)
    _randomize(model, rng)
    ids = tf.constant(rng.integers(0, len(VOCABULARY), (3, 17)), tf.int32)
    whole, _, whole_states = model.backbone.run(ids)
    states, parts = None, []
    for start, stop in ((0, 5), (5, 6), (6, 17)):
        part, _, states = model.backbone.run(ids[:, start:stop], states)
        parts.append(part)
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole, rtol=1e-5, atol=1e-6)
    for a, b in zip(keras.tree.flatten(states), keras.tree.flatten(whole_states)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # The stream perplexity does not depend on the window length: the state is carried.
    stream = rng.integers(0, len(VOCABULARY), 200)
    assert model.perplexity(stream, 2, 7)["perplexity"] == pytest.approx(
        model.perplexity(stream, 2, 50)["perplexity"], rel=1e-5)


def test_padding_after_the_words_changes_nothing_before_it(rng):
    model = _lm()
    _randomize(model, rng)
    ids = rng.integers(0, len(VOCABULARY), (2, 9)).astype("int32")
    mask = np.ones((2, 9), "int32")
    mask[0, 6:] = 0
    padded = model({"token_ids": ids, "padding_mask": mask})
    alone = model({"token_ids": ids[:1, :6], "padding_mask": mask[:1, :6]})
    np.testing.assert_allclose(padded[0, :6], alone[0], rtol=1e-5, atol=1e-6)


def _regenerate_greedily(model, prompt_ids, new_tokens):
    """Greedy decoding that re-runs the whole prefix for every token, never writing <unk>
    (id 0), as `generate` does not."""
    ids = list(prompt_ids)
    for _ in range(new_tokens):
        x = np.array([ids], "int32")
        logits = model({"token_ids": x, "padding_mask": np.ones_like(x)})
        ids.append(1 + int(np.argmax(logits[0, -1, 1:])))
    return ids


@pytest.mark.parametrize("variant", ["rkm_lstm", "lstm"])
def test_generation_with_the_state_cache_equals_rerunning_the_prefix(variant, rng):
    model = _lm(variant)
    _randomize(model, rng, scale=1.0)
    model.compile(sampler="greedy")
    prompts = ["the cat sat", "the dog"]  # different lengths: the shorter starts sampling first
    out = model.generate(prompts, max_length=10, stop_token_ids=None)
    tokenizer = model.preprocessor.tokenizer
    for prompt, text in zip(prompts, out):
        prompt_ids = [tokenizer.start_token_id] + list(tokenizer(prompt))
        expected = _regenerate_greedily(model, prompt_ids, 10 - len(prompt_ids))
        words = [VOCABULARY[i] for i in expected[1:] if VOCABULARY[i] != "<eos>"]
        assert text == " ".join(words)


def test_generation_stops_at_the_first_generated_end_of_sentence(rng):
    """keras-hub's default stop ids are the end token, which is also the padding after the
    prompt: generation still writes words, each prompt up to its own first new <eos>."""
    prompts, stopped = ["the cat sat", "the dog"], 0
    for seed in range(12):
        if stopped >= 2:  # enough rows have stopped early; each seed builds and traces a model
            break
        model = _lm(seed=seed)
        _randomize(model, np.random.default_rng(seed), scale=1.0)
        model.compile(sampler="greedy")
        texts = model.generate(prompts, max_length=10)  # stop_token_ids="auto"
        assert isinstance(texts, list) and len(texts) == 2
        for prompt, text in zip(prompts, texts):
            prompt_ids = [1] + [VOCABULARY.index(w) for w in prompt.split()]
            new = _regenerate_greedily(model, prompt_ids, 10 - len(prompt_ids))[len(prompt_ids):]
            if 1 in new:
                stopped += 1
                new = new[:new.index(1)]
            assert text == " ".join([prompt] + [VOCABULARY[i] for i in new])
    assert stopped >= 2  # some rows did stop early, at different places


def test_generation_never_writes_unk_whatever_the_sampler(rng):
    """<unk> stands for every rare word; generation writes words. Drawn near uniformly (a huge
    temperature) from the 9 words, 200 draws would hold <unk> but for 1 chance in 10^10."""
    model = _lm()
    _randomize(model, rng)
    hot = {"seed": 1, "temperature": 1e6}
    for sampler in (keras_hub.samplers.RandomSampler(**hot),
                    keras_hub.samplers.TopKSampler(k=len(VOCABULARY), **hot)):
        model.compile(sampler=sampler)
        words = model.generate("the cat", max_length=200, stop_token_ids=None).split()
        assert len(words) > 150 and "<unk>" not in words, words
        assert set(words) == set(VOCABULARY) - {"<unk>", "<eos>"}


def test_prompts_of_many_lengths_reuse_one_trace_of_generation(rng):
    """Each width of token ids is a new shape; generate_step is traced for the first two and
    the open shape reused, never once per width (TensorFlow's retracing warning)."""
    model = _lm()
    _randomize(model, rng)
    model.compile(sampler="greedy")
    words = ["the", "cat", "sat", "on", "the", "mat", "dog", "ran"]
    for n in range(1, 8):
        model.generate(" ".join(words[:n]), max_length=n + 4, stop_token_ids=None)
    assert model.make_generate_function().experimental_get_tracing_count() <= 2


def test_the_default_sampler_is_top_k_with_a_fixed_seed():
    model = _lm()
    assert isinstance(model.sampler, keras_hub.samplers.TopKSampler)
    assert (model.sampler.k, model.sampler.seed) == (causal_lm.DEFAULT_K, causal_lm.DEFAULT_SEED)
    model.compile(sampler="greedy")
    model.compile()
    assert isinstance(model.sampler, keras_hub.samplers.TopKSampler)


def test_samplers_generate_from_the_prompt(rng):
    model = _lm()
    _randomize(model, rng)
    for sampler in (keras_hub.samplers.TopKSampler(k=3, seed=1),
                    keras_hub.samplers.TopPSampler(p=0.9, seed=1)):
        model.compile(sampler=sampler)
        text = model.generate("The cat", max_length=8, stop_token_ids=None)
        assert text.startswith("the cat")
        assert all(word in VOCABULARY for word in text.split())


def test_score_is_the_log_likelihood_of_each_sentence_and_its_end(rng):
    model = _lm()
    _randomize(model, rng)
    tokenizer = model.preprocessor.tokenizer
    texts = ["the cat sat on the mat", "dog", "the unknownword ran"]
    scores = model.score_texts(texts)
    for i, text in enumerate(texts):
        ids = [1] + [VOCABULARY.index(w) if w in VOCABULARY else 0 for w in text.split()] + [1]
        x = np.array([ids[:-1]], "int32")
        logits = np.asarray(model({"token_ids": x, "padding_mask": np.ones_like(x)}))[0]
        log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        expected = sum(log_p[t, ids[t + 1]] for t in range(len(ids) - 1))
        assert scores["log_likelihood"][i] == pytest.approx(expected, rel=1e-4)
        assert scores["tokens"][i] == len(ids) - 1
    np.testing.assert_allclose(
        scores["perplexity"], np.exp(-scores["log_likelihood"] / scores["tokens"]), rtol=1e-6)
    assert tokenizer.unk_token_id == 0


def test_tokenizer_vocabulary_and_special_tokens(tmp_path):
    tokenizer = KernelLMTokenizer(vocabulary=VOCABULARY, lowercase=True)
    assert tokenizer.tokenize(["The Cat  zebra"]).to_list() == [[2, 3, 0]]
    assert tokenizer.end_token_id == tokenizer.start_token_id == tokenizer.pad_token_id == 1
    assert tokenizer.detokenize([2, 3, 1]) == "the cat <eos>"
    assert tokenizer.detokenize([[2, 3], [4, 1]]) == ["the cat", "sat <eos>"]
    cased = KernelLMTokenizer(vocabulary=VOCABULARY)
    assert cased.tokenize("The cat").numpy().tolist() == [0, 3]
    tokenizer.save_assets(str(tmp_path))
    assert KernelLMTokenizer(vocabulary=str(tmp_path / "vocabulary.txt")).get_vocabulary() \
        == VOCABULARY
    with pytest.raises(ValueError, match="<eos>"):
        KernelLMTokenizer(vocabulary=["<unk>", "the"])


def test_lowercase_keeps_the_words_the_vocabulary_holds_as_written():
    """Penn Treebank is lower case but for its number token N; served text is read alike."""
    from kasm_keras.models.kernel_lm.serving import LanguageModelServingModule

    vocabulary = VOCABULARY + ["N"]
    tokenizer = KernelLMTokenizer(vocabulary=vocabulary, lowercase=True)
    n = vocabulary.index("N")
    assert tokenizer.tokenize(["The N cat n", "DOG"]).to_list() == [[2, n, 3, 0], [7]]
    backbone = KernelLMBackbone(len(vocabulary), "rkm_cifg", num_layers=1, hidden_dim=4,
                                embedding_dim=4)
    lm = KernelCausalLM(backbone, KernelCausalLMPreprocessor(tokenizer))
    served = LanguageModelServingModule(lm)._word_ids(tf.constant(["The N cat n", "DOG"]))
    assert served.to_list() == [[2, n, 3, 0], [7]]


def test_saved_and_loaded_model_gives_the_same_logits(tmp_path, rng):
    model = _lm("rkm_cifg", weight_dropout=0.3, dropout=0.2, embedding_dropout=0.1)
    _randomize(model, rng)
    path = str(tmp_path / "lm.keras")
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert loaded.backbone.get_config() == model.backbone.get_config()
    ids = rng.integers(0, len(VOCABULARY), (2, 5)).astype("int32")
    x = {"token_ids": ids, "padding_mask": np.ones_like(ids)}
    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6)
    assert loaded.preprocessor.tokenizer.get_vocabulary() == VOCABULARY


def test_backbone_config_round_trip_holds_every_argument():
    import inspect

    backbone = _lm().backbone
    config = backbone.get_config()
    arguments = set(inspect.signature(KernelLMBackbone.__init__).parameters) - {
        "self", "kwargs", "dtype"}
    assert arguments <= set(config)
    assert KernelLMBackbone.from_config(config).get_config() == config


def test_regularisers_are_on_only_in_training(rng):
    model = _lm(dropout=0.5, hidden_dropout=0.5, input_dropout=0.5, embedding_dropout=0.5,
                weight_dropout=0.5)
    _randomize(model, rng)
    ids = tf.constant(rng.integers(0, len(VOCABULARY), (2, 6)), tf.int32)
    a = model.backbone.run(ids, training=False)[0]
    np.testing.assert_array_equal(a, model.backbone.run(ids, training=False)[0])
    b = model.backbone.run(ids, training=True)[0]
    c = model.backbone.run(ids, training=True)[0]
    assert not np.allclose(b, c)  # a new mask for every batch
    # Locked dropout on the outputs: a dropped unit is dropped at every step.
    zero = np.asarray(b) == 0
    assert zero.any()
    np.testing.assert_array_equal(zero, np.repeat(zero[:, :1], zero.shape[1], axis=1))


# ---------------------------------------------------------------------- the BPTT schedule


def _schedule(row_length, bptt, seed, count):
    return [(int(s), int(n), bool(f))
            for s, n, f in window_schedule(row_length, bptt, seed).take(count)]


def test_window_schedule_tiles_every_epoch_from_the_start():
    row_length, bptt = 1000, 20
    windows = _schedule(row_length, bptt, 3, 400)
    firsts = [i for i, (_, _, first) in enumerate(windows) if first]
    assert firsts[0] == 0 and len(firsts) >= 3
    for begin, end in zip(firsts, firsts[1:]):
        epoch = windows[begin:end]
        assert [s for s, _, _ in epoch] == list(np.cumsum([0] + [n for _, n, _ in epoch[:-1]]))
        last_start, last_length, _ = epoch[-1]
        assert last_start < row_length - 2 <= last_start + last_length  # AWD's loop condition
        assert last_start + last_length <= row_length - 1  # a target for every input
    lengths = np.array([n for _, n, _ in windows])
    # Only an epoch's last window is cut short (to end at the row's last target).
    last_of_epoch = {end - 1 for end in firsts[1:]}
    assert all(n >= MIN_WINDOW for i, (_, n, _) in enumerate(windows) if i not in last_of_epoch)
    assert lengths.min() >= 1
    assert 0.7 * bptt < np.median(lengths) < 1.3 * bptt
    assert windows_per_epoch(row_length, bptt, 3) == firsts[1]


def test_window_schedule_follows_the_seed_alone():
    assert _schedule(5000, 70, 1, 50) == _schedule(5000, 70, 1, 50)
    assert _schedule(5000, 70, 1, 50) != _schedule(5000, 70, 2, 50)
    lengths = [n for _, n, _ in _schedule(10 ** 7, 70, 0, 2000)]
    short = np.mean(np.array(lengths) < 52)  # bptt / 2 + 3.4 sd
    assert 0.02 < short < 0.09  # AWD-LSTM: a short window 5% of the time


# ---------------------------------------------------------------------- the training task


def _write_corpus(directory, name="ptb", lines=(900, 80, 80), seed=0):
    """Sentences from a tiny grammar: a model that learns it beats the vocabulary size."""
    rng = random.Random(seed)
    subjects, verbs, objects = ["the cat", "a dog", "the bird"], ["sat on", "ran to", "saw"], \
        ["the mat", "a house", "the tree"]
    files = {"ptb": "ptb.{}.txt", "wikitext2": "wiki.{}.tokens"}[name]
    folder = {"ptb": "ptb", "wikitext2": "wikitext-2"}[name]
    os.makedirs(os.path.join(directory, folder), exist_ok=True)
    for split, count in zip(("train", "valid", "test"), lines):
        text = "".join(f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)}\n"
                       for _ in range(count))
        if name == "wikitext2":
            text = " = Heading = \n" + text.replace("the ", "The ", 1)
        with open(os.path.join(directory, folder, files.format(split)), "w") as f:
            f.write(text)
    return directory


def _config(tmp_path, data_dir, **kwargs):
    options = dict(model="rkm_lstm", dataset="ptb", model_dir=str(tmp_path / "run"),
                   data_dir=str(data_dir), num_layers=1, hidden_dim=16, embedding_dim=8,
                   batch_size=4, bptt=10, epochs=2.0, learning_rate=5.0, dropout=0.1,
                   hidden_dropout=0.1, input_dropout=0.1, embedding_dropout=0.05,
                   weight_dropout=0.1, precision="float32", log_every=10)
    options.update(kwargs)
    return LanguageModelConfig(**options)


def test_training_a_tiny_model_drives_perplexity_down(tmp_path):
    data = _write_corpus(str(tmp_path / "data"))
    config = _config(tmp_path, data, epochs=4.0)
    lines = []
    metrics = train_language_model(config, log=lambda *a: lines.append(" ".join(map(str, a))))
    corpus = load_corpus("ptb", data)
    vocabulary = len(corpus.vocabulary)
    first = metrics["history"][0]["val_perplexity"]
    assert metrics["test_perplexity"] < 0.5 * vocabulary
    # It learned from context: better than word frequencies, so no divergence warning.
    counts = np.bincount(corpus.splits["train"], minlength=vocabulary) + 1.0
    unigram = np.exp(-np.log(counts / counts.sum())[corpus.splits["valid"]].mean())
    assert metrics["unigram_val_perplexity"] == pytest.approx(unigram, rel=1e-9)
    assert metrics["val_perplexity"] < unigram
    assert not [line for line in lines if "above a unigram model's" in line]
    assert metrics["val_perplexity"] < first
    # The grammar's entropy: a uniform choice among 3 subjects, 3 verbs and 3 objects per line.
    assert metrics["test_perplexity"] > 1.0
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["test_perplexity"] == metrics["test_perplexity"]
    assert {"val_perplexity", "test_perplexity", "train_seconds", "steps_per_epoch"} <= set(saved)
    assert metrics["steps"] == pytest.approx(4 * metrics["steps_per_epoch"], abs=1)
    model = keras.models.load_model(str(tmp_path / "run" / "best.keras"), safe_mode=True)
    assert model.perplexity(load_corpus("ptb", data).splits["test"], 1, 10)["perplexity"] == \
        pytest.approx(metrics["test_perplexity"], rel=1e-6)


def test_a_run_no_better_than_word_frequencies_after_an_epoch_is_reported(tmp_path):
    """A model that has barely moved (learning rate 1e-9: near-uniform outputs) is above a unigram
    model's perplexity after its first epoch: the log says so and names --seed."""
    data = _write_corpus(str(tmp_path / "data"))
    lines = []
    metrics = train_language_model(_config(tmp_path, data, epochs=1.0, learning_rate=1e-9),
                                   log=lambda *a: lines.append(" ".join(map(str, a))))
    assert metrics["val_perplexity"] > metrics["unigram_val_perplexity"]
    warnings = [line for line in lines if "above a unigram model's" in line]
    assert len(warnings) == 1 and "--seed" in warnings[0]


def test_a_run_resumed_after_a_stop_ends_like_one_never_stopped(tmp_path):
    """tools/train.py in fresh processes (as tests/test_training_resume.py): the carried states,
    the window schedule, the dropout seeds and AveragedSGD's trigger and averages all resume.

    Unlike the classifier's, a resumed language model matches to float32 rounding, not bit for
    bit (relative 1e-7 in the weights after a resume, 1e-9 in the perplexities; found with
    oneDNN's kernels on and off, where AR/TAR or the iterate averages are on): the data, the
    states, the trigger and every score's steps match exactly."""
    data = _write_corpus(str(tmp_path / "data"))
    command = [sys.executable, TRAIN, "--model=rkm_lstm", "--dataset=ptb", f"--data_dir={data}",
               "--num_layers=1", "--hidden_dim=16", "--embedding_dim=8", "--batch_size=4",
               "--bptt=10", "--learning_rate=5", "--eval_every=8", "--nonmono=1",
               "--precision=float32", "--dropout=0.1", "--weight_dropout=0.1"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    runs = [subprocess.Popen([*command, "--max_steps=32", f"--model_dir={tmp_path / 'whole'}"],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE),
            subprocess.Popen([*command, "--max_steps=16", f"--model_dir={tmp_path / 'split'}"],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)]
    for run in runs:
        assert run.wait(timeout=300) == 0, run.stderr.read().decode()[-2000:]
    result = subprocess.run([*command, "--max_steps=32", f"--model_dir={tmp_path / 'split'}"],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    whole, split = (json.loads((tmp_path / d / "metrics.json").read_text())
                    for d in ("whole", "split"))
    assert split["resumed_from_step"] == 16
    assert any(h["val_averaging"] for h in whole["history"])  # the trigger fired on the way
    assert [h["step"] for h in split["history"]] == [h["step"] for h in whole["history"]]
    for a, b in zip(whole["history"], split["history"]):
        assert b["val_perplexity"] == pytest.approx(a["val_perplexity"], rel=1e-6)
        assert b["val_averaging"] == a["val_averaging"]
    assert split["test_perplexity"] == pytest.approx(whole["test_perplexity"], rel=1e-6)
    a, b = (keras.models.load_model(str(tmp_path / d / "best.keras"), safe_mode=True)
            for d in ("whole", "split"))
    for x, y in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-5)


def test_wikitext2_in_its_canonical_layout_trains(tmp_path):
    data = _write_corpus(str(tmp_path / "data"), "wikitext2")
    corpus = load_corpus("wikitext2", data)
    assert "The" in corpus.vocabulary.tokens and "=" in corpus.vocabulary.tokens
    metrics = train_language_model(_config(tmp_path, data, dataset="wikitext2", epochs=1.0),
                                   log=lambda *a: None)
    assert metrics["dataset"] == "wikitext2" and np.isfinite(metrics["test_perplexity"])
    model = keras.models.load_model(str(tmp_path / "run" / "best.keras"), safe_mode=True)
    assert model.preprocessor.tokenizer.lowercase is False  # WikiText keeps its case


@pytest.mark.parametrize("change, message", [
    ({"strategy": "mirrored"}, "--strategy"),
    ({"bptt": 2}, "--bptt"),
    ({"weight_dropout": 1.0}, "--weight_dropout"),
    ({"dataset": "ag_news"}, "--dataset"),
    ({"learning_rate": 0.0}, "--learning_rate"),
    ({"alpha": -1.0}, "--alpha"),
])
def test_bad_settings_name_their_flag(tmp_path, change, message):
    with pytest.raises(TrainingError, match=message):
        _config(tmp_path, tmp_path, **change)


def test_a_corpus_too_small_for_the_batch_names_its_file(tmp_path):
    data = _write_corpus(str(tmp_path / "data"), lines=(10, 80, 80))
    with pytest.raises(TrainingError, match="ptb.train.txt"):
        train_language_model(_config(tmp_path, data), log=lambda *a: None)
    assert not (tmp_path / "run").exists()


def test_a_training_step_clips_the_gradient_to_its_global_norm(tmp_path):
    data = _write_corpus(str(tmp_path / "data"))
    config = _config(tmp_path, data, learning_rate=1.0, clip_norm=0.01, weight_decay=0.0)
    task = LanguageModelTask(config)
    task.prepare(lambda *a: None)
    model, optimizer = task.build()
    optimizer.build(model.trainable_variables)
    batch = next(iter(task.train_dataset(0)))
    before = [v.numpy() for v in model.trainable_variables]
    with tf.GradientTape() as tape:
        losses, _ = task.batch_loss(model, batch)
        loss = tf.reduce_mean(losses)
    grads = tape.gradient(loss, model.trainable_variables)
    assert float(tf.linalg.global_norm(grads)) > 0.01
    optimizer.apply(grads, model.trainable_variables)
    change = np.sqrt(sum(np.sum((v.numpy() - b) ** 2)
                         for v, b in zip(model.trainable_variables, before)))
    assert change == pytest.approx(0.01, rel=1e-3)  # lr x clip_norm


def test_the_docs_recipes_table_is_generated_from_recipes():
    from benchmarks import docs_site
    from benchmarks.reporting import language_models as lm_tables

    assert docs_site.block("language_model_recipes") == lm_tables.recipes_block()
    for name, recipe in RECIPES.items():
        config = LanguageModelConfig(model="lstm", dataset="ptb", model_dir="unused", **recipe)
        assert config.num_layers == recipe["num_layers"]  # every recipe is a valid config
