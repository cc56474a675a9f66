"""The language model for TensorFlow Serving: sentences in, each one's log-likelihood out.

(This module serves `kasm_keras.models.kernel_lm.KernelCausalLM` the way
`kasm_keras.models.kernel_classifier.serving` serves the classifier.)

`serving_default` takes `text` (1-D tf.string, one sentence each) and returns, per sentence,
`log_likelihood` (float32, natural log: its words and the closing <eos>, each predicted from the
start of the sentence, as `KernelCausalLM.score` computes it), `tokens` (int32: the words plus
the <eos>) and `perplexity` (float32, exp(-log_likelihood / tokens)). Tokenisation is the
model's `KernelLMTokenizer` rebuilt from core ops (UTF-8 repair, its `word_ids` over a static
hash table), so the SavedModel loads with `tf.saved_model.load` without
kasm_keras, keras-hub or tensorflow-text and runs under `saved_model_cli run`.

Memory stays bounded whatever the request: sentences run SLICE at a time, and each slice in
windows of WINDOW positions with the recurrent states carried from one window to the next (the
same computation as one pass, since the cells are sequential), so the [batch, length, vocabulary]
logits are never held for a whole long sentence.
"""

import tensorflow as tf

from kasm_keras.data.vocabulary import Vocabulary
from kasm_keras.models.kernel_lm.tokenizer import word_ids
from kasm_keras.models.saved_model import write_saved_model

SLICE = 32  # sentences run at once
WINDOW = 64  # positions per window; the states carry across windows


class LanguageModelServingModule(tf.Module):
    """What the SavedModel holds: tokenisation (core ops only) and the network.

    Args:
        lm: A `KernelCausalLM` with its preprocessor.

    Raises:
        ValueError: `lm` has no preprocessor (its vocabulary).

    Examples:
        >>> import kasm_keras, tensorflow as tf
        >>> from kasm_keras.models.kernel_lm.serving import LanguageModelServingModule
        >>> module = LanguageModelServingModule(kasm_keras.zoo.load("ptb/rkm_cifg"))
        >>> module.serve(tf.constant(["the company said", "the"]))["tokens"].numpy()
        array([4, 2], dtype=int32)
    """

    def __init__(self, lm):
        super().__init__(name="kasm_causal_lm")
        if lm.preprocessor is None:
            raise ValueError("exporting a language model needs its preprocessor (the "
                             "vocabulary)")
        tokenizer = lm.preprocessor.tokenizer
        vocabulary = Vocabulary(tokenizer.get_vocabulary(), oov_token=tokenizer.unk_token,
                                padding_token=None)
        self.table = vocabulary.lookup_table()
        self.lowercase = bool(tokenizer.lowercase)
        self.eos_id = int(tokenizer.end_token_id)
        self.unk_id = int(tokenizer.unk_token_id)
        self.model = lm

    def _word_ids(self, text):
        """Ragged [batch, words] int32, as `KernelLMTokenizer` tokenises (bad UTF-8 bytes
        become U+FFFD first, where the tokenizer would fail)."""
        text = tf.strings.unicode_transcode(text, "UTF-8", "UTF-8", errors="replace",
                                            replacement_char=0xFFFD)
        return tf.cast(word_ids(text, self.table.lookup, self.unk_id, self.lowercase), tf.int32)

    def _score(self, text):
        """(log-likelihood float32 [batch], tokens int32 [batch]) of a slice of sentences."""
        ids = self._word_ids(text)
        batch = ids.nrows(out_type=tf.int32)
        eos = tf.fill([batch, 1], self.eos_id)
        eos = tf.RaggedTensor.from_tensor(eos)
        inputs = tf.concat([eos, ids], axis=1)  # <eos> w_1 ... w_n
        targets = tf.concat([ids, eos], axis=1)  # w_1 ... w_n <eos>
        lengths = tf.cast(inputs.row_lengths(), tf.int32)
        width = tf.maximum(tf.reduce_max(lengths), 1)  # an empty batch too
        inputs = inputs.to_tensor(default_value=self.eos_id, shape=[batch, width])
        targets = targets.to_tensor(default_value=self.eos_id, shape=[batch, width])
        mask = tf.sequence_mask(lengths, width)
        windows = (width + WINDOW - 1) // WINDOW
        cache = self.model.empty_cache(batch)

        def body(i, total, cache):
            start = i * WINDOW
            x, y = inputs[:, start:start + WINDOW], targets[:, start:start + WINDOW]
            m = mask[:, start:start + WINDOW]
            logits, _, cache = self.model.call_with_cache(x, cache, padding_mask=m)
            log_p = -tf.nn.sparse_softmax_cross_entropy_with_logits(
                y, tf.cast(logits, tf.float32))
            total += tf.reduce_sum(tf.where(m, log_p, tf.zeros_like(log_p)), axis=1)
            return i + 1, total, tuple(tf.cast(c, tf.float32) for c in cache)

        cache = tuple(tf.cast(c, tf.float32) for c in cache)
        _, total, _ = tf.while_loop(lambda i, *_: i < windows, body,
                                    (tf.constant(0), tf.zeros([batch], tf.float32), cache),
                                    parallel_iterations=1)
        return total, lengths

    def serve(self, text):
        """Scores sentences (the SavedModel's `serving_default`).

        Args:
            text: 1-D tf.string, one sentence each.

        Returns:
            `{"log_likelihood": float32 [batch], "tokens": int32 [batch], "perplexity":
            float32 [batch]}`, as the module's docstring defines them.
        """
        slices = (tf.shape(text)[0] + SLICE - 1) // SLICE

        def body(i, totals, counts):
            total, count = self._score(text[i * SLICE:(i + 1) * SLICE])
            return i + 1, totals.write(i, total), counts.write(i, count)

        totals = tf.TensorArray(tf.float32, size=slices, infer_shape=False,
                                element_shape=tf.TensorShape([None]))
        counts = tf.TensorArray(tf.int32, size=slices, infer_shape=False,
                                element_shape=tf.TensorShape([None]))
        _, totals, counts = tf.while_loop(lambda i, *_: i < slices, body,
                                          (tf.constant(0), totals, counts),
                                          parallel_iterations=1)
        log_likelihood = tf.reshape(totals.concat(), [-1])
        tokens = tf.reshape(counts.concat(), [-1])
        perplexity = tf.exp(-log_likelihood / tf.cast(tokens, tf.float32))
        return {"log_likelihood": log_likelihood, "tokens": tokens, "perplexity": perplexity}


def export_saved_model(lm, export_dir):
    """Writes a language model as a SavedModel for TensorFlow Serving: sentences in, their
    log-likelihoods out. It loads without kasm_keras, keras-hub or tensorflow-text. It is
    written beside `export_dir`, then renamed, so a folder that exists is whole.

    Args:
        lm: A `KernelCausalLM` with its preprocessor.
        export_dir: The SavedModel's folder.

    Returns:
        `export_dir`. Its `serving_default` takes `text` (1-D tf.string of sentences) and
        returns `log_likelihood`, `tokens` and `perplexity` per sentence
        (`LanguageModelServingModule.serve`).

    Raises:
        ValueError: `lm` has no preprocessor.

    Examples:
        >>> import tempfile, kasm_keras, tensorflow as tf
        >>> from kasm_keras.models.kernel_lm.serving import export_saved_model
        >>> folder = export_saved_model(kasm_keras.zoo.load("ptb/rkm_cifg"),
        ...                             tempfile.mkdtemp() + "/lm")
        >>> sorted(tf.saved_model.load(folder).signatures)
        ['serving_default']
    """
    return write_saved_model(lm, LanguageModelServingModule(lm),
                             [tf.TensorSpec([None], tf.string, name="text")], export_dir)
