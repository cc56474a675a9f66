"""The paper's document classifier as a keras-hub `TextClassifier`."""

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from kasm_keras.layers.memory_kernel import memory_kernel
from kasm_keras.models import explanation
from kasm_keras.models.classifier_head import ClassifierHead
from kasm_keras.models.kernel_classifier.backbone import KernelClassifierBackbone, token_inputs
from kasm_keras.models.kernel_classifier.preprocessor import (
    KernelTextClassifierPreprocessor, trim_to_longest)
from kasm_keras.models.presets import ZooPresets
from kasm_keras.models.kernel_classifier.tokenizer import KernelTokenizer


@keras.saving.register_keras_serializable(package="kasm_keras")
class KernelTextClassifier(ClassifierHead, ZooPresets, keras_hub.models.TextClassifier):
    """The paper's document classifier as a keras-hub `TextClassifier`.

    Backbone -> dropout -> Dense(hidden_dim, ReLU) -> dropout -> Dense(num_classes), the
    authors' head (`kasm_keras.models.classifier_head`). Raw strings in when it has a
    preprocessor (`fit`, `predict`, `evaluate`); through `__call__` the backbone's inputs, a
    `{"token_ids", "padding_mask"}` dict or token ids alone (0 for padding). The zoo's
    entries load with `from_preset`.

    Args:
        backbone: a `KernelClassifierBackbone`.
        num_classes: number of classes.
        preprocessor: a `KernelTextClassifierPreprocessor`, or None to feed token ids.
        activation: of the last layer; None gives logits, "softmax" probabilities (the zoo's
            presets are saved with "softmax", so `predict` returns probabilities).
        hidden_dim: width of the hidden layer.
        dropout: rate of both dropout layers.
        class_names: the classes' names in id order, kept in the config.
        seed: seed of the dropout layers.
        **kwargs: `keras_hub.models.Task` arguments (`name`).

    Examples:
        >>> import kasm_keras
        >>> classifier = kasm_keras.KernelTextClassifier.from_preset("ag_news/rkm_cifg_1gram")
        >>> classifier.predict(["Oil prices rose as markets opened"], verbose=0).shape
        (1, 4)
        >>> classifier.classify(["Oil prices rose as markets opened"])
        ['Business']
    """

    zoo_task = "classification"  # its zoo names are presets (kasm_keras.models.presets)

    backbone_cls = KernelClassifierBackbone
    preprocessor_cls = KernelTextClassifierPreprocessor

    def __init__(self, backbone, num_classes, preprocessor=None, activation=None, hidden_dim=300,
                 dropout=0.5, class_names=None, seed=None, **kwargs):
        super().__init__(backbone, num_classes, activation=activation, hidden_dim=hidden_dim,
                         dropout=dropout, class_names=class_names, seed=seed,
                         preprocessor=preprocessor, **kwargs)

    def __call__(self, inputs, *args, **kwargs):
        return super().__call__(token_inputs(inputs), *args, **kwargs)

    @property
    def sequence_length(self):
        """Tokens the preprocessor keeps per document (None: all)."""
        return self.preprocessor.sequence_length

    def probabilities(self, texts, batch_size=256):
        """Class probabilities of raw texts, whatever the output activation.

        The texts run in order of length, each batch cut to its longest document
        (`trim_to_longest`: padding is masked, so only time is saved), so that a batch holds
        documents of similar length; the rows come back in the order given.

        Args:
            texts: the documents, strings.
            batch_size: documents per batch.

        Returns:
            A float32 NumPy array `(documents, num_classes)` whose rows sum to 1.

        Examples:
            >>> classifier.probabilities(["Oil prices rose as markets opened"]).shape
            (1, 4)
        """
        texts = list(texts)
        order = np.argsort([len(t) for t in texts], kind="stable")
        outputs = np.empty([len(texts), self.num_classes], np.float32)
        for start in range(0, len(texts), batch_size):
            chosen = order[start:start + batch_size]
            inputs = trim_to_longest(self.preprocessor(tf.constant([texts[i] for i in chosen])))
            outputs[chosen] = np.asarray(self._network(inputs), np.float32)
        return self.as_probabilities(outputs)

    @property
    def _network(self):
        """The model in inference mode on the backbone's inputs, traced once for any batch
        and length."""
        if getattr(self, "_traced_network", None) is None:
            spec = tf.TensorSpec([None, None], tf.int32)
            self._traced_network = tf.function(
                lambda inputs: self(inputs, training=False),
                input_signature=[{"token_ids": spec,
                                  "padding_mask": tf.TensorSpec([None, None], tf.bool)}])
        return self._traced_network

    def explain(self, texts, classes=None, batch_size=32, mode="auto", dtype="float32"):
        """Each token's exact share of the class logits (`kasm_keras.layers.held_values`).

        Computed in float32 whatever the dtype policy (or in float64: where the shares are
        far larger than the logits, float32 cannot hold their sum). One class costs about a
        forward and a backward pass; each further class adds about one backward pass.

        Args:
            texts: a document or a list of them, strings.
            classes: the classes explained: None for all, "predicted" for each document's
                most likely class, or a class name or id or a list of them.
            batch_size: documents per batch.
            mode: "auto", "reverse" or "forward", how the Jacobians are computed (see
                `kasm_keras.layers.held_values.decompose`); all give the same numbers.
            dtype: "float32" or "float64", what the explanation computes in.

        Returns:
            One `Explanation` per text, whose `contributions` `(tokens, classes explained)`
                and `constant` add up to its `logits` of those classes.

        Examples:
            >>> [explanation] = classifier.explain("Oil prices rose as markets opened")
            >>> explanation.tokens
            ['oil', 'prices', 'rose', 'as', 'markets', 'opened']
            >>> [top] = classifier.explain("Oil prices rose", classes="predicted")
            >>> top.class_names
            ['Business']
        """
        if self.preprocessor is None:
            raise ValueError("explain() needs a preprocessor to read text; this classifier "
                             "has none")
        texts = [texts] if isinstance(texts, str) else list(texts)
        model = explanation.twin(self, dtype, lambda d: self.rebuilt(dtype=d))
        tokenizer = self.preprocessor.tokenizer
        names = explanation.names_or_ids(self.class_names, self.num_classes)
        results = []
        for start in range(0, len(texts), batch_size):
            inputs = trim_to_longest(self.preprocessor(tf.constant(texts[start:start + batch_size])))
            ids, mask = inputs["token_ids"], tf.cast(inputs["padding_mask"], tf.bool)
            source = model.backbone.token_embedding(ids)
            offset = tf.zeros_like(source[:, :1, :1])
            chosen = explanation.chosen_outputs(classes, names, int(ids.shape[0]))
            contributions, constant, logits = explanation.decompose(
                model, model.held_logits, source, (mask, offset), 1, self.num_classes, mode,
                chosen)
            explained = explanation.explained_ids(chosen, logits)
            ids = np.asarray(ids)  # read as NumPy: indexing a tensor is one op per element
            for row, length in enumerate(np.sum(mask, axis=1)):
                results.append(explanation.Explanation(
                    [tokenizer.id_to_token(int(i)) for i in ids[row, :length]],
                    contributions[row, :length], constant[row],
                    logits[row, explained[row]], [names[k] for k in explained[row]]))
        return results

    def memory_kernel(self, texts, batch_size=32):
        """Each text's memory kernel (`kasm_keras.layers.memory_kernel`).

        At `[t, s]`, how strongly token s's candidate weighs in the recurrent layer's state at
        token t, under the held values `explain` uses. Computed in float32.

        Args:
            texts: a document or a list of them, strings.
            batch_size: documents per batch.

        Returns:
            One float32 NumPy array `(tokens, tokens)` per text.

        Examples:
            >>> [kernel] = classifier.memory_kernel(["Stocks fell on Wall Street"])
            >>> kernel.shape  # five tokens
            (5, 5)
        """
        if self.preprocessor is None:
            raise ValueError("memory_kernel() needs a preprocessor to read text; this "
                             "classifier has none")
        texts = [texts] if isinstance(texts, str) else list(texts)
        model = explanation.twin(self, "float32", lambda d: self.rebuilt(dtype=d))
        kernels = []
        for start in range(0, len(texts), batch_size):
            inputs = trim_to_longest(self.preprocessor(tf.constant(texts[start:start + batch_size])))
            mask = tf.cast(inputs["padding_mask"], tf.bool)
            source = model.backbone.token_embedding(inputs["token_ids"])
            batch = memory_kernel(model.backbone.kernel_rnn, source, mask)
            kernels += [k[:n, :n] for k, n in zip(batch, np.sum(mask, axis=1))]
        return kernels

    def classify(self, texts, batch_size=256):
        """The most probable class of each raw text.

        Args:
            texts: the documents, strings.
            batch_size: documents per batch.

        Returns:
            A list of class names (class ids without `class_names`).

        Examples:
            >>> classifier.classify(["Oil prices rose as markets opened"])
            ['Business']
        """
        return self.names_of(self.probabilities(texts, batch_size))

    def classification_report(self, texts, labels, batch_size=256):
        """How well the classifier labels these texts.

        Args:
            texts: the documents, strings.
            labels: their true class ids.
            batch_size: documents per batch.

        Returns:
            A dict: "accuracy", "documents", "per_class" (precision, recall, F1 and support
                of each class), "confusion_matrix" (rows: true class) and "classes".

        Examples:
            >>> report = classifier.classification_report(["Oil prices rose"], [2])
            >>> report["accuracy"]
            1.0
        """
        return self.report_from(self.probabilities(texts, batch_size), labels)


def build_classifier(vocabulary_size, num_classes, variant, units=300, ngram=1, max_length=128,
                     embedding_dim=300, embedding_matrix=None, train_embeddings=True, dropout=0.5,
                     hidden=300, seed=0, vocabulary=None, class_names=None, activation=None,
                     **cell_options):
    """The paper's classifier as a `KernelTextClassifier`, from its hyperparameters.

    Args:
        vocabulary_size: rows of the embedding; id 0 is padding.
        num_classes: number of classes.
        variant: one of `kasm_keras.VARIANTS`.
        units: the cell's hidden size d.
        ngram: input window width n.
        max_length: tokens the preprocessor keeps per document (with `vocabulary`).
        embedding_dim: the word-vector size m (taken from `embedding_matrix` when given).
        embedding_matrix: a `(vocabulary_size, m)` array (e.g. GloVe rows in vocabulary order)
            the embedding starts from, or None for a random start. It is assigned after the
            model is built, so the model's config never holds it.
        train_embeddings: whether training updates the embedding.
        dropout: rate of the head's two dropout layers.
        hidden: width of the head's hidden layer.
        seed: seed of the dropout layers.
        vocabulary: tokens in id order, or None. With it the classifier gets its
            preprocessor and takes raw text too; without, it takes token ids.
        class_names: the classes' names in id order, or None.
        activation: of the last layer: None gives logits, "softmax" probabilities.
        **cell_options: further `KernelClassifierBackbone` arguments (`layer_norm`,
            `learn_sigmas`, `sigma_i`, `sigma_f`, `implementation`, ...).

    Returns:
        A `KernelTextClassifier`, its weights freshly initialised.

    Examples:
        >>> import kasm_keras
        >>> classifier = kasm_keras.build_classifier(
        ...     vocabulary_size=4, num_classes=2, variant="rkm_lstm", units=8,
        ...     embedding_dim=4, hidden=8, vocabulary=["[PAD]", "[UNK]", "good", "film"],
        ...     class_names=["negative", "positive"])
        >>> classifier.probabilities(["good film"]).shape
        (1, 2)
    """
    if embedding_matrix is not None:
        embedding_dim = embedding_matrix.shape[1]
        if embedding_matrix.shape[0] != vocabulary_size:
            raise ValueError(f"embedding matrix has {embedding_matrix.shape[0]} rows for a "
                             f"vocabulary of {vocabulary_size}")
    backbone = KernelClassifierBackbone(
        vocabulary_size, variant, units=units, embedding_dim=embedding_dim, ngram=ngram,
        train_embeddings=train_embeddings, seed=seed, **cell_options)
    if embedding_matrix is not None:
        backbone.token_embedding.embeddings.assign(embedding_matrix)
    preprocessor = None
    if vocabulary is not None:
        preprocessor = KernelTextClassifierPreprocessor(
            KernelTokenizer(vocabulary=list(vocabulary)), sequence_length=max_length)
    return KernelTextClassifier(backbone, num_classes, preprocessor=preprocessor,
                                hidden_dim=hidden, dropout=dropout, seed=seed,
                                class_names=class_names, activation=activation)
