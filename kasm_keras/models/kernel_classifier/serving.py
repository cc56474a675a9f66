"""The classifier for TensorFlow Serving (raw text in) and LiteRT (token ids in)."""

import os

import keras
import tensorflow as tf

from kasm_keras.data.text_encoding import TextEncoder, pad_length_to_multiple
from kasm_keras.data.vocabulary import Vocabulary
from kasm_keras.layers import held_values
from kasm_keras.models import explanation
from kasm_keras.models.saved_model import write_saved_model
from kasm_keras.utils.files import write_bytes


# Documents run through the network at once inside a SavedModel request; larger requests are
# processed in slices of this many, so memory stays bounded (see tools/benchmark.py's serving
# figures and the README).
SLICE = 128
# Under XLA a request's token ids are padded to a multiple of this many steps and its batch to a
# power of two, so XLA compiles a few shapes (at most 8 x 8 at 128 tokens and SLICE 128) rather
# than one for every length and batch it is sent.
XLA_LENGTH_STEP = 16
BATCH_SIZES = [2 ** i for i in range(SLICE.bit_length())]  # 1, 2, 4, ..., SLICE


class ServingModule(tf.Module):
    """What the SavedModel holds: tokenisation (core ops only), the network, the class names.

    With `jit_compile` the network (not the tokenisation, whose string ops XLA cannot compile)
    runs under XLA, which fuses each time step's small ops; requests are then padded to a few
    shapes (`XLA_LENGTH_STEP`, `BATCH_SIZES`) so that XLA compiles few. TF Serving runs such a
    model only with `--xla_cpu_compilation_enabled`.

    Args:
        classifier: A `KernelTextClassifier` with its preprocessor.
        jit_compile: Whether the network runs under XLA.

    Examples:
        >>> import kasm_keras, tensorflow as tf
        >>> from kasm_keras.models.kernel_classifier.serving import ServingModule
        >>> module = ServingModule(kasm_keras.zoo.load("ag_news/rkm_cifg_1gram"))
        >>> module.serve(tf.constant(["Stocks fell on Wall Street."]))["class_name"].numpy()
        array([b'Business'], dtype=object)
    """

    def __init__(self, classifier, jit_compile=False):
        super().__init__(name="kasm_text_classifier")
        tokenizer = classifier.preprocessor.tokenizer
        vocabulary = Vocabulary(tokenizer.get_vocabulary(), oov_token=tokenizer.oov_token,
                                padding_token=tokenizer.pad_token)
        self.encoder = TextEncoder(vocabulary, classifier.sequence_length, pad_to_longest=True)
        self.model = classifier
        self.softmax = classifier.activation is not keras.activations.softmax
        names = classifier.class_names or [str(i) for i in range(classifier.num_classes)]
        self.class_names = tf.constant(names, tf.string)
        self.jit_compile = jit_compile
        self._network = tf.function(
            lambda ids: tf.cast(self.model(ids, training=False), tf.float32),
            jit_compile=jit_compile, input_signature=[tf.TensorSpec([None, None], tf.int32)])

    def _padded_for_xla(self, ids):
        """ids padded to a multiple of XLA_LENGTH_STEP steps (at most the sequence length) and
        a power-of-two batch; padding is masked, and the extra rows are dropped after."""
        ids = pad_length_to_multiple(ids, XLA_LENGTH_STEP, self.encoder.max_length)
        batch = tf.shape(ids)[0]
        rows = tf.gather(BATCH_SIZES, tf.searchsorted(BATCH_SIZES, [batch])[0])
        return tf.pad(ids, [[0, rows - batch], [0, 0]])

    def _probabilities(self, text):
        ids, _ = self.encoder(text)
        batch = tf.shape(ids)[0]
        if self.jit_compile:
            ids = self._padded_for_xla(ids)
        outputs = self._network(ids)[:batch]
        return tf.nn.softmax(outputs, axis=-1) if self.softmax else outputs

    def serve(self, text):
        """Classifies documents (the SavedModel's `serving_default`).

        Args:
            text: 1-D tf.string, one document each.

        Returns:
            `{"probabilities": float32 [batch, classes], "class_id": int64 [batch],
            "class_name": string [batch]}`.
        """
        # Slices of SLICE documents, one after another, bound a request's memory whatever its
        # batch: the network's activations grow with the documents run at once.
        slices = (tf.shape(text)[0] + SLICE - 1) // SLICE
        classes = self.class_names.shape[0]

        def body(i, done):
            part = self._probabilities(text[i * SLICE:(i + 1) * SLICE])
            return i + 1, done.write(i, part)

        done = tf.TensorArray(tf.float32, size=slices, infer_shape=False,
                              element_shape=tf.TensorShape([None, classes]))
        _, done = tf.while_loop(lambda i, _: i < slices, body, (tf.constant(0), done),
                                parallel_iterations=1)
        probabilities = tf.reshape(done.concat(), [-1, classes])
        class_id = tf.argmax(probabilities, axis=-1, output_type=tf.int64)
        return {"probabilities": probabilities, "class_id": class_id,
                "class_name": tf.gather(self.class_names, class_id)}


class ExplainModule(tf.Module):
    """The `explain` signature: `KernelTextClassifier.explain` inside the SavedModel, raw text
    in. Reverse accumulation (one backward pass per class): a document has more tokens than a
    classifier has classes. Under XLA with the serving module's
    `jit_compile` (the decomposition's many small ops per step fused), on padded shapes as
    `serving_default`'s.

    Args:
        classifier: A `KernelTextClassifier` with its preprocessor.
        serving: The `ServingModule` whose tokenisation and `jit_compile` it shares.

    Examples:
        >>> import kasm_keras, tensorflow as tf
        >>> from kasm_keras.models.kernel_classifier.serving import ExplainModule, ServingModule
        >>> classifier = kasm_keras.zoo.load("ag_news/rkm_cifg_1gram")
        >>> explainer = ExplainModule(classifier, ServingModule(classifier))
        >>> shares = explainer.explain(tf.constant(["Stocks fell sharply."]))
        >>> shares["tokens"].numpy(), shares["contributions"].shape
        (array([[b'stocks', b'fell', b'sharply', b'.']], dtype=object), TensorShape([1, 4, 4]))
    """

    def __init__(self, classifier, serving):
        super().__init__(name="kasm_text_classifier_explain")
        self.serving = serving
        self.model = explanation.twin(
            classifier, "float32", lambda d: classifier.rebuilt(dtype=d))
        self.tokens = tf.constant(classifier.preprocessor.tokenizer.get_vocabulary(), tf.string)
        self.num_classes = classifier.num_classes
        self._decompose = tf.function(self._shares, jit_compile=serving.jit_compile)

    def _shares(self, ids, mask):
        source = self.model.backbone.token_embedding(ids)
        offset = tf.zeros_like(source[:, :1, :1])
        return held_values.decompose(self.model.held_logits, source, (mask, offset), 1,
                                     self.num_classes, "reverse",
                                     for_xla=self.serving.jit_compile)

    def explain(self, text):
        """Shares each document's logits out among its tokens (the SavedModel's `explain`).

        Args:
            text: 1-D tf.string, one document each.

        Returns:
            `{"tokens": string [batch, time] (empty past each document's `length`),
            "contributions": float32 [batch, time, classes], "constant": [batch, classes],
            "logits": [batch, classes], "length": int32 [batch]}`; the contributions and the
            constant add up to the logits, as `KernelTextClassifier.explain`'s do.
        """
        ids, mask = self.serving.encoder(text)
        batch, length = tf.shape(ids)[0], tf.shape(ids)[1]
        if self.serving.jit_compile:
            ids = self.serving._padded_for_xla(ids)
            mask = ids != 0  # id 0 is padding (`TextEncoder`)
        contributions, constant, logits = self._decompose(ids, mask)
        contributions, constant, logits = (
            contributions[:batch, :length], constant[:batch], logits[:batch])
        mask = mask[:batch, :length]
        return {"tokens": tf.where(mask, tf.gather(self.tokens, ids[:batch, :length]), ""),
                "contributions": contributions * tf.cast(mask, tf.float32)[..., None],
                "constant": constant, "logits": logits,
                "length": tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)}


def export_saved_model(classifier, export_dir, jit_compile=False, explain=False):
    """Writes a classifier as a SavedModel for TensorFlow Serving: raw text in, classes out.
    It loads without kasm_keras, keras-hub or tensorflow-text. It is written beside
    `export_dir`, then renamed, so a folder that exists is whole.

    Args:
        classifier: A `KernelTextClassifier` with its preprocessor.
        export_dir: The SavedModel's folder.
        jit_compile: Whether the network runs under XLA (see `ServingModule`; TF Serving
            then needs `--xla_cpu_compilation_enabled`).
        explain: Whether the SavedModel has an `explain` signature too
            (`ExplainModule.explain`, the same `text` in).

    Returns:
        `export_dir`. Its `serving_default` takes `text` (1-D tf.string) and returns
        `probabilities`, `class_id` and `class_name` (`ServingModule.serve`).

    Examples:
        >>> import tempfile, kasm_keras, tensorflow as tf
        >>> from kasm_keras.models.kernel_classifier.serving import export_saved_model
        >>> folder = export_saved_model(kasm_keras.zoo.load("ag_news/rkm_cifg_1gram"),
        ...                             tempfile.mkdtemp() + "/classifier", explain=True)
        >>> sorted(tf.saved_model.load(folder).signatures)
        ['explain', 'serving_default']
    """
    module = ServingModule(classifier, jit_compile=jit_compile)
    text = [tf.TensorSpec([None], tf.string, name="text")]
    endpoints = {}
    if explain:
        module.explainer = ExplainModule(classifier, module)
        endpoints["explain"] = (module.explainer.explain, text)
    return write_saved_model(classifier, module, text, export_dir, endpoints)


def export_tflite(classifier, path):
    """Writes a classifier as a LiteRT (.tflite) model, for phones and microcontrollers.

    LiteRT has no kernels for the string ops of tokenisation, so the model maps token ids
    `[1, sequence_length]` to probabilities; `vocabulary.txt` beside it (one token per line,
    id order) tokenises.

    Args:
        classifier: A `KernelTextClassifier` with its preprocessor and a `sequence_length`.
        path: The .tflite file's path.

    Returns:
        `path`.

    Examples:
        >>> import os, tempfile, kasm_keras
        >>> from kasm_keras.models.kernel_classifier.serving import export_tflite
        >>> path = export_tflite(kasm_keras.zoo.load("ag_news/rkm_cifg_1gram"),
        ...                      os.path.join(tempfile.mkdtemp(), "model.tflite"))
        >>> sorted(os.listdir(os.path.dirname(path)))
        ['model.tflite', 'vocabulary.txt']
    """
    spec = tf.TensorSpec([1, classifier.sequence_length], tf.int32, name="token_ids")
    softmax = classifier.activation is not keras.activations.softmax

    def probabilities(ids):
        outputs = tf.cast(classifier(ids, training=False), tf.float32)
        return tf.nn.softmax(outputs) if softmax else outputs

    function = tf.function(probabilities, input_signature=[spec])
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2)

    # Weights as constants: LiteRT cannot read resource variables inside the time loop.
    frozen = convert_variables_to_constants_v2(function.get_concrete_function())
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    write_bytes(path, converter.convert())
    classifier.preprocessor.tokenizer.save_assets(os.path.dirname(os.path.abspath(path)))
    return path
