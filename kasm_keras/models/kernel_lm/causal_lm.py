"""The paper's language model (Table 3) as a keras-hub `CausalLM`."""

import math

import keras
import keras_hub
import numpy as np
import tensorflow as tf
from keras import ops

from kasm_keras.layers import held_values
from kasm_keras.models import explanation
from kasm_keras.models.kernel_lm.backbone import KernelLMBackbone
from kasm_keras.models.kernel_lm.preprocessor import KernelCausalLMPreprocessor
from kasm_keras.models.presets import ZooPresets


def _any_equal(values, targets, mask):
    """Whether each entry of `values` is one of `targets`, where `mask` holds."""
    found = ops.zeros_like(values, dtype="bool")
    for target in targets:
        found = ops.logical_or(found, ops.equal(values, target))
    return ops.logical_and(found, mask)


# The sampler `generate` uses unless `compile(sampler=...)` names another, and tools/generate.py's
# default: one of the DEFAULT_K most likely words, drawn with the seed DEFAULT_SEED, so the same
# prompt gives the same text (the first `generate` after `compile`; the tool resets the seed for
# each prompt). Greedy search soon repeats itself on PTB ("... the company 's shares of the
# company 's ..."); sampling among a few likely words reads as text.
DEFAULT_SAMPLER = "top_k"
DEFAULT_K = 5
DEFAULT_SEED = 0


def default_sampler(k=DEFAULT_K, seed=DEFAULT_SEED, temperature=1.0):
    """The keras-hub sampler `KernelCausalLM.generate` uses by default (see DEFAULT_SAMPLER).

    Args:
        k: how many of the most likely words are drawn from.
        seed: the sampler's seed, so the same prompt gives the same text.
        temperature: divides the logits before the draw.

    Returns:
        A `keras_hub.samplers.TopKSampler`.

    Examples:
        >>> import kasm_keras
        >>> from kasm_keras.models.kernel_lm.causal_lm import default_sampler
        >>> lm = kasm_keras.zoo.load("ptb/rkm_cifg")
        >>> lm.compile(sampler=default_sampler(k=10))
        >>> type(lm.sampler).__name__
        'TopKSampler'
    """
    return keras_hub.samplers.TopKSampler(k=k, seed=seed, temperature=temperature)


@keras.saving.register_keras_serializable(package="kasm_keras")
class KernelCausalLM(ZooPresets, keras_hub.models.CausalLM):
    """Next-word prediction with a `KernelLMBackbone`; the softmax is the embedding's transpose.

    `generate` uses keras-hub's samplers (`compile(sampler="greedy" | "top_k" | "top_p" | ...)`)
    with the recurrent states as the cache: the prompt is read once and every new word costs one
    step of each layer, not a re-run of the prefix. The default sampler (`default_sampler()`,
    tools/generate.py's default too) draws one of the 5 most likely words with seed 0. Whatever
    the sampler, a generated word is never `<unk>`: the corpus's stand-in for every rare word is
    not text, and a model that predicts it often would otherwise continue with
    `<unk> <unk> ...`.

    Args:
        backbone: a `KernelLMBackbone`.
        preprocessor: a `KernelCausalLMPreprocessor`, or None to feed token ids.
        **kwargs: `keras_hub.models.Task` arguments (`name`).

    Call arguments:
        - `inputs`: `{"token_ids": int32 (batch, length), "padding_mask": (batch, length)}`.

    Returns:
        The next word's logits at every position, float32 `(batch, length, vocabulary_size)`.

    Examples:
        >>> import kasm_keras, keras_hub
        >>> lm = kasm_keras.KernelCausalLM.from_preset("ptb/rkm_lstm")
        >>> lm.generate("the company said", max_length=10)
        'the company said the company had been in the'
        >>> lm.compile(sampler=keras_hub.samplers.TopPSampler(p=0.9))
        >>> text = lm.generate("the company said", max_length=10)
    """

    zoo_task = "language_model"  # its zoo names are presets (kasm_keras.models.presets)

    backbone_cls = KernelLMBackbone
    preprocessor_cls = KernelCausalLMPreprocessor

    def __init__(self, backbone, preprocessor=None, **kwargs):
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor

        # === Functional model ===
        inputs = backbone.input
        hidden = backbone(inputs)
        outputs = backbone.token_embedding(hidden, reverse=True)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

    def rebuilt(self, dtype="same"):
        """A new `KernelCausalLM` with these weights, in another dtype policy.

        A model trained under mixed precision is stored as float32.

        Args:
            dtype: the new dtype policy; "same" keeps this model's.

        Returns:
            A `KernelCausalLM` with the same preprocessor and a copy of the weights.
        """
        config = self.backbone.get_config()
        if dtype != "same":
            config["dtype"] = dtype
        copy = KernelCausalLM(KernelLMBackbone.from_config(config), self.preprocessor)
        copy.set_weights(self.get_weights())
        return copy

    def compile(self, *args, sampler=None, **kwargs):
        """keras-hub's `CausalLM.compile`; `sampler` defaults to `default_sampler()`."""
        super().compile(*args, sampler=default_sampler() if sampler is None else sampler,
                        **kwargs)

    def get_compile_config(self):
        """Nothing: keras-hub's `compile` is custom, so Keras could not restore it on loading
        (and warns); a loaded model gets the defaults a new one gets, and the sampler is
        chosen with `compile(sampler=...)`."""
        return None

    # ------------------------------------------------------------------ cached generation

    def make_generate_function(self):
        """keras-hub's, traced with TensorFlow's `reduce_retracing`: prompts of other lengths and
        other `max_length`s reuse one trace of `generate_step` (whose shapes are left open)
        instead of tracing it once for each width, which TensorFlow warns about after five."""
        if (self.generate_function is None and keras.config.backend() == "tensorflow"
                and not self.run_eagerly):
            self.generate_function = tf.function(
                self.generate_step, jit_compile=getattr(self, "jit_compile", True),
                reduce_retracing=True)
        return super().make_generate_function()

    def _states(self, cache):
        return [[cache[2 * i], cache[2 * i + 1]] for i in range(self.backbone.num_layers)]

    def empty_cache(self, batch_size):
        """Zero states, the cache `generate` starts from.

        Args:
            batch_size: rows of the cache.

        Returns:
            The states flattened: a tuple `(h_0, c_0, h_1, c_1, ...)`, one pair per layer.
        """
        return tuple(s for pair in self.backbone.initial_states(batch_size) for s in pair)

    def call_with_cache(self, token_ids, cache, padding_mask=None, compute_head=True):
        """Reads token ids on from the states in a cache, as keras-hub's samplers call it.

        Padded positions leave the states as they are.

        Args:
            token_ids: int32 `(batch, length)`.
            cache: the states, as `empty_cache` gives them.
            padding_mask: `(batch, length)`, False at padding; None for none.
            compute_head: whether to compute the logits (None otherwise).

        Returns:
            `(logits, hidden_states, cache)`: the logits `(batch, length, vocabulary_size)`,
                the last layer's outputs and the new states.
        """
        hidden, _, states = self.backbone.run(token_ids, self._states(cache),
                                              padding_mask=padding_mask, training=False)
        logits = self.backbone.token_embedding(hidden, reverse=True) if compute_head else None
        return logits, hidden, tuple(s for pair in states for s in pair)

    def _build_cache(self, token_ids, index):
        """The states after the first `index - 1` tokens of every row: the sampler's first step
        feeds token `index - 1`. Computed over the whole width with the rest masked, so the
        shapes stay static (XLA)."""
        positions = ops.arange(ops.shape(token_ids)[1], dtype="int32")[None, :]
        mask = ops.broadcast_to(positions < index - 1, ops.shape(token_ids))
        cache = self.empty_cache(ops.shape(token_ids)[0])
        _, hidden, cache = self.call_with_cache(token_ids, cache, padding_mask=mask,
                                                compute_head=False)
        return hidden, cache

    def _unknown_id(self):
        """The id of `<unk>`, which `generate` never writes (None without a tokenizer)."""
        tokenizer = getattr(self.preprocessor, "tokenizer", None)
        return getattr(tokenizer, "unk_token_id", None)

    def generate_step(self, inputs, stop_token_ids=None):
        token_ids, padding_mask = inputs["token_ids"], inputs["padding_mask"]
        padding_mask = ops.cast(padding_mask, "bool")
        index = ops.min(ops.sum(ops.cast(padding_mask, "int32"), axis=-1))
        index = ops.maximum(index, 1)  # a prompt of no token at all starts from zero states
        hidden_states, cache = self._build_cache(token_ids, index)
        if stop_token_ids is not None:
            # The sampler stops once every row holds a stop id past its prompt; the padding
            # there is `<eos>`, a stop id, so it would stop at once. The sampler writes every
            # position past the prompt before reading it, so any other id may fill them.
            filler = min(set(range(len(stop_token_ids) + 1)) - set(stop_token_ids))
            token_ids = ops.where(padding_mask, token_ids, ops.full_like(token_ids, filler))

        unknown = self._unknown_id()

        def next(prompt, cache, index):
            batch_size = ops.shape(prompt)[0]
            token = ops.slice(prompt, [0, index - 1], [batch_size, 1])
            logits, hidden, cache = self.call_with_cache(token, cache)
            logits = ops.squeeze(logits, axis=1)
            if unknown is not None:  # never generated: see the class's docstring
                words = ops.arange(ops.shape(logits)[-1], dtype="int32")[None, :]
                logits = ops.where(ops.equal(words, unknown),
                                   ops.full_like(logits, float("-inf")), logits)
            return logits, ops.squeeze(hidden, axis=1), cache

        token_ids = self.sampler(next=next, prompt=token_ids, cache=cache, index=index,
                                 mask=padding_mask, stop_token_ids=stop_token_ids,
                                 hidden_states=hidden_states, model=self)
        if stop_token_ids is not None:  # everything after the first generated stop is padding
            ends = ops.cast(_any_equal(token_ids, stop_token_ids, ops.logical_not(padding_mask)),
                            "int32")
            after = ops.cumsum(ends, axis=-1) - ends
            padding_mask = ops.logical_not(ops.cast(after, "bool"))
        else:
            padding_mask = ops.ones_like(token_ids, dtype="bool")
        return {"token_ids": token_ids, "padding_mask": padding_mask}

    # ------------------------------------------------------------------ explanations

    def explain(self, prompt, targets=None, mode="auto", dtype="float32"):
        """Each prompt token's exact share, through every layer, of the next word's logits
        (`kasm_keras.layers.held_values`). Computed in float32 whatever the dtype policy, or in
        float64 if asked.

        Args:
            prompt: a prompt or a list of them, strings.
            targets: the words whose logits are explained (words of the vocabulary, the same
                for every prompt), or None for each prompt's most likely next word.
            mode: "auto", "reverse" or "forward", how the Jacobians are computed (see
                `kasm_keras.layers.held_values.decompose`); all give the same numbers.
            dtype: "float32" or "float64", what the explanation computes in.

        Returns:
            One `Explanation` per prompt: its tokens those the model reads (the start token
                `<eos>` first), its `class_names` the target words.

        Examples:
            >>> [explanation] = lm.explain("the company said")
            >>> explanation.tokens, explanation.class_names
            (['<eos>', 'the', 'company', 'said'], ['it'])
        """
        if self.preprocessor is None:
            raise ValueError("explain() needs a preprocessor to read text; this model has none")
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        tokenizer = self.preprocessor.tokenizer
        model = explanation.twin(self, dtype, lambda d: type(self)(type(self.backbone).from_config(
            {**self.backbone.get_config(), "dtype": d})))
        words = tokenizer.tokenize(tf.constant(prompts))
        inputs = self.preprocessor.generate_preprocess(
            tf.constant(prompts), sequence_length=int(tf.reduce_max(words.row_lengths())) + 1)
        ids, mask = inputs["token_ids"], tf.cast(inputs["padding_mask"], tf.bool)
        last = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1) - 1
        if targets is None:
            logits = model({"token_ids": ids, "padding_mask": tf.cast(mask, tf.int32)})
            target_ids = tf.argmax(tf.gather(logits, last, batch_dims=1), axis=-1,
                                   output_type=tf.int32)[:, None]
        else:
            targets = [targets] if isinstance(targets, str) else list(targets)
            target_ids = tf.constant([[tokenizer.token_to_id(t) for t in targets]] * len(prompts),
                                     tf.int32)
        source = model.backbone.token_embedding(ids)
        contributions, constant, logits = explanation.decompose(
            model, model.held_target_logits, source, (mask, last, target_ids), 1,
            int(target_ids.shape[1]), mode)
        ids, last, target_ids = (np.asarray(x) for x in (ids, last, target_ids))
        return [explanation.Explanation(
            [tokenizer.id_to_token(int(i)) for i in ids[row, :last[row] + 1]],
            contributions[row, :last[row] + 1], constant[row], logits[row],
            [tokenizer.id_to_token(int(i)) for i in target_ids[row]])
            for row in range(len(prompts))]

    def held_target_logits(self, inputs, copies, padding_mask, last, target_ids):
        """The logits of the target words after the prompt, as `held_values.decompose` calls
        its network.

        Args:
            inputs: the embedded words, `copies` rows per prompt.
            copies: how many rows of `inputs` each prompt has.
            padding_mask: one row per prompt, True at its tokens.
            last: the position of each prompt's last token.
            target_ids: `(prompts, targets)`, the ids whose logits are returned.

        Returns:
            The logits, `(rows of inputs, targets)`.
        """
        mask, last, target_ids = (held_values.tile_rows(x, copies)
                                  for x in (padding_mask, last, target_ids))
        backbone = self.backbone
        x = backbone.input_dropout_layer(inputs)
        for rnn, drop in zip(backbone.rnn_layers, backbone.dropout_layers):
            x = drop(rnn(x, mask=mask)[0])
        logits = backbone.token_embedding(tf.gather(x, last, batch_dims=1), reverse=True)
        return tf.gather(logits, target_ids, batch_dims=1)

    # ------------------------------------------------------------------ scores

    def log_likelihoods(self, token_ids, padding_mask, targets):
        """The log-probability of each target given the inputs so far, from zero states.

        Args:
            token_ids: int32 `(batch, length)`, the inputs.
            padding_mask: `(batch, length)`, False at padding.
            targets: int `(batch, length)`, the word predicted at each position.

        Returns:
            log p(target | inputs so far), `(batch, length)`, 0 where `padding_mask` is off.
        """
        logits = self(
            {"token_ids": token_ids, "padding_mask": ops.cast(padding_mask, "int32")},
            training=False)
        log_p = ops.take_along_axis(ops.log_softmax(logits, axis=-1),
                                    ops.cast(targets, "int32")[..., None], axis=-1)[..., 0]
        return ops.where(ops.cast(padding_mask, "bool"), log_p, ops.zeros_like(log_p))

    def score(self, token_ids, padding_mask=None, scoring_mode="logits",
              layer_intercept_fn=None, target_ids=None):
        """Per-token scores of token ids, from zero states, in inference mode.

        keras-hub's `CausalLM.score`, as `GPT2CausalLM.score`. `score_texts` scores whole
        sentences given as text.

        Args:
            token_ids: int `[batch, length]`, e.g. `generate`'s output run through
                `preprocessor.generate_preprocess`.
            padding_mask: `[batch, length]`, False at padding (a padded step leaves the
                states as they are); all True when None.
            scoring_mode: "logits" (`[batch, length, vocabulary]`) or "loss" (the
                cross-entropy of `target_ids`, `[batch, length]`, 0 at padding: unlike a
                transformer's, a recurrent model's padded step is no prediction, it only
                keeps the states, so a row's sum is its sentence's negative log-likelihood).
            layer_intercept_fn: called as `fn(x, i)` on the embedded words (i = -1) and on
                each recurrent layer's outputs (i = 0, 1, ...); what it returns goes on.
            target_ids: int `[batch, length]`, the ids "loss" scores (usually `token_ids`
                shifted left by one).

        Returns:
            The logits or the per-token losses, float32.

        Examples:
            >>> x = lm.preprocessor.generate_preprocess(["the company said"], sequence_length=5)
            >>> lm.score(x["token_ids"], x["padding_mask"]).shape
            TensorShape([1, 5, 10000])
        """
        if scoring_mode not in ("logits", "loss"):
            raise ValueError(f"scoring_mode must be 'logits' or 'loss', got {scoring_mode!r}")
        if scoring_mode == "loss" and target_ids is None:
            raise ValueError("scoring_mode='loss' needs target_ids: the ids whose loss is "
                             "computed")
        token_ids = ops.convert_to_tensor(token_ids, "int32")
        if padding_mask is None:
            padding_mask = ops.ones_like(token_ids, dtype="bool")
        mask = ops.cast(padding_mask, "bool")
        if layer_intercept_fn is None:
            def layer_intercept_fn(x, unused_index):
                return x

        backbone = self.backbone
        x = layer_intercept_fn(backbone.token_embedding(token_ids), -1)
        x = backbone.input_dropout_layer(x)
        for i, (rnn, drop) in enumerate(zip(backbone.rnn_layers, backbone.dropout_layers)):
            x = drop(layer_intercept_fn(rnn(x, mask=mask)[0], i))
        logits = backbone.token_embedding(x, reverse=True)
        if scoring_mode == "logits":
            return logits
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")(
            target_ids, logits)
        return ops.where(mask, loss, ops.zeros_like(loss))

    def score_texts(self, texts, batch_size=64):
        """How likely the model finds each sentence.

        Args:
            texts: a sentence or a list of them, strings.
            batch_size: sentences per batch.

        Returns:
            A dict of NumPy arrays, one entry per sentence: "log_likelihood" (natural log, of
                its words and the closing `<eos>`, each predicted from the start of the
                sentence), "tokens" (how many were predicted) and "perplexity".

        Examples:
            >>> scores = lm.score_texts(["the company said it expects higher sales"])
            >>> scores["tokens"]
            array([8], dtype=int32)
        """
        if self.preprocessor is None:
            raise ValueError("score_texts() needs a preprocessor; use score() or "
                             "log_likelihoods() on token ids")
        texts = [texts] if isinstance(texts, str) else list(texts)
        totals, counts = [], []
        for start in range(0, len(texts), batch_size):
            batch = tf.constant(texts[start:start + batch_size])
            words = self.preprocessor.tokenizer.tokenize(batch)
            length = int(tf.reduce_max(words.row_lengths())) + 1
            x, y, weights = self.preprocessor(batch, sequence_length=length)
            log_p = self.log_likelihoods(x["token_ids"], weights, y)
            totals.append(ops.convert_to_numpy(ops.sum(log_p, axis=-1)))
            counts.append(ops.convert_to_numpy(ops.sum(ops.cast(weights, "int32"), axis=-1)))
        totals = np.concatenate(totals) if totals else np.zeros([0], np.float32)
        counts = np.concatenate(counts) if counts else np.zeros([0], np.int32)
        return {"log_likelihood": totals.astype(np.float64), "tokens": counts,
                "perplexity": np.exp(-totals / np.maximum(counts, 1))}

    def perplexity(self, token_ids, batch_size=10, sequence_length=70):
        """Perplexity of a whole stream of ids, AWD-LSTM's evaluation.

        The stream is cut into `batch_size` rows (the remainder of the division left out),
        read in windows of `sequence_length` with the states carried from window to window,
        the last window shorter.

        Args:
            token_ids: the stream, a 1-D sequence of ids (e.g. a test split's words and
                `<eos>`s).
            batch_size: rows the stream is cut into.
            sequence_length: positions per window.

        Returns:
            A dict: "perplexity", "cross_entropy" (nats per token) and "tokens" (how many
                were predicted).

        Examples:
            >>> ids = lm.preprocessor.tokenizer("the company said it expects higher sales")
            >>> sorted(lm.perplexity(np.tile(ids, 10), batch_size=2, sequence_length=10))
            ['cross_entropy', 'perplexity', 'tokens']
        """
        ids = np.asarray(token_ids, np.int32)
        rows = len(ids) // batch_size
        if rows < 2:
            raise ValueError(f"{len(ids)} tokens are too few for {batch_size} rows of at "
                             "least 2")
        stream = ids[: rows * batch_size].reshape(batch_size, rows)
        step = self._window_function()
        cache = self.empty_cache(batch_size)
        total, count = 0.0, 0
        for start in range(0, rows - 1, sequence_length):
            stop = min(start + sequence_length, rows - 1)
            inputs = tf.constant(stream[:, start:stop])
            targets = tf.constant(stream[:, start + 1:stop + 1])
            nll, cache = step(inputs, targets, cache)
            total += float(nll)
            count += inputs.shape[0] * inputs.shape[1]
        cross_entropy = total / count
        return {"perplexity": math.exp(cross_entropy), "cross_entropy": cross_entropy,
                "tokens": count}

    def _window_function(self):
        if getattr(self, "_window", None) is None:
            def window(inputs, targets, cache):
                logits, _, cache = self.call_with_cache(inputs, cache)
                nll = tf.nn.sparse_softmax_cross_entropy_with_logits(targets, logits)
                return tf.reduce_sum(tf.cast(nll, tf.float64)), cache

            self._window = tf.function(window, reduce_retracing=True)
        return self._window
