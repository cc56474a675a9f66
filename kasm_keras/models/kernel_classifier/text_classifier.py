"""The paper's document classifier as a keras-hub `TextClassifier`."""

import keras
import keras_hub
import numpy as np

from kasm_keras.models.kernel_classifier.backbone import KernelClassifierBackbone
from kasm_keras.models.kernel_classifier.preprocessor import KernelTextClassifierPreprocessor
from kasm_keras.models.kernel_classifier.presets import ZooPresets


@keras.saving.register_keras_serializable(package="kasm_keras")
class KernelTextClassifier(ZooPresets, keras_hub.models.TextClassifier):
    """Backbone -> dropout -> Dense(hidden_dim, ReLU) -> dropout -> Dense(num_classes), the
    authors' head. Raw strings in when it has a preprocessor; token ids in through `__call__`.

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

    Example:
    ```python
    classifier = KernelTextClassifier.from_preset("ag_news/rkm_cifg_1gram")
    classifier.predict(["Oil prices rose as markets opened"])   # probabilities [1, 4]
    classifier.classify(["Oil prices rose as markets opened"])  # ['Business']
    classifier.fit(texts, labels)                                # fine-tunes
    ```
    """

    backbone_cls = KernelClassifierBackbone
    preprocessor_cls = KernelTextClassifierPreprocessor

    def __init__(self, backbone, num_classes, preprocessor=None, activation=None, hidden_dim=300,
                 dropout=0.5, class_names=None, seed=None, **kwargs):
        if class_names is not None and len(class_names) != num_classes:
            raise ValueError(f"{len(class_names)} class names for {num_classes} classes")
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.pooled_dropout = keras.layers.Dropout(
            dropout, seed=seed, dtype=backbone.dtype_policy, name="pooled_dropout")
        self.hidden_dense = keras.layers.Dense(
            hidden_dim, activation="relu", dtype=backbone.dtype_policy, name="hidden_dense")
        self.hidden_dropout = keras.layers.Dropout(
            dropout, seed=None if seed is None else seed + 1, dtype=backbone.dtype_policy,
            name="hidden_dropout")
        # Logits in float32 under mixed precision.
        self.output_dense = keras.layers.Dense(
            num_classes, activation=activation, dtype="float32", name="logits")

        # === Functional model ===
        inputs = backbone.input
        x = self.pooled_dropout(backbone(inputs))
        x = self.hidden_dropout(self.hidden_dense(x))
        outputs = self.output_dense(x)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.num_classes = num_classes
        self.activation = keras.activations.get(activation)
        self.hidden_dim = hidden_dim
        self.dropout = dropout
        self.class_names = None if class_names is None else [str(c) for c in class_names]
        self.seed = seed

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_classes": self.num_classes,
            "activation": keras.activations.serialize(self.activation),
            "hidden_dim": self.hidden_dim,
            "dropout": self.dropout,
            "class_names": self.class_names,
            "seed": self.seed,
        })
        return config

    def get_compile_config(self):
        """Nothing: keras-hub's `compile` is custom, so Keras could not restore it on loading
        (and warns); a loaded model gets the defaults a new one gets."""
        return None

    def rebuilt(self, activation="same", dtype="same"):
        """A new classifier with these weights, another output `activation` and/or dtype policy:
        a model trained under mixed precision is stored and served as `dtype="float32"`."""
        from kasm_keras.models.kernel_classifier.backbone import KernelClassifierBackbone

        config = self.backbone.get_config()
        if dtype != "same":
            config["dtype"] = dtype
        copy = type(self)(
            KernelClassifierBackbone.from_config(config), self.num_classes,
            preprocessor=self.preprocessor,
            activation=self.activation if activation == "same" else activation,
            hidden_dim=self.hidden_dim, dropout=self.dropout, class_names=self.class_names,
            seed=self.seed)
        copy.set_weights(self.get_weights())
        return copy

    @property
    def sequence_length(self):
        return self.preprocessor.sequence_length

    def probabilities(self, texts, batch_size=256):
        """Class probabilities [documents, num_classes] for raw texts, whatever the activation.

        The texts run in order of length, so that each batch (padded to its longest document)
        holds documents of similar length; the rows come back in the order given."""
        texts = list(texts)
        order = np.argsort([len(t) for t in texts], kind="stable")
        outputs = np.empty([len(texts), self.num_classes], np.float32)
        if texts:
            outputs[order] = np.asarray(
                self.predict([texts[i] for i in order], batch_size=batch_size, verbose=0),
                np.float32).reshape([-1, self.num_classes])
        if self.activation is keras.activations.softmax:
            return outputs
        outputs = np.exp(outputs - outputs.max(axis=-1, keepdims=True))
        return outputs / outputs.sum(axis=-1, keepdims=True)

    def classify(self, texts, batch_size=256):
        """Class names (class ids without `class_names`) of raw texts."""
        ids = self.probabilities(texts, batch_size).argmax(-1)
        return [self.class_names[i] for i in ids] if self.class_names else ids.tolist()

    def classification_report(self, texts, labels, batch_size=256):
        """Accuracy, per-class precision/recall/F1 and the confusion matrix (rows: true class)."""
        labels = np.asarray(labels, np.int64)
        k = self.num_classes
        if labels.size and not (0 <= labels.min() and labels.max() < k):
            raise ValueError(f"labels must be in 0..{k - 1}, found {labels.min()}..{labels.max()}")
        predictions = self.probabilities(texts, batch_size).argmax(-1)
        names = self.class_names or [str(i) for i in range(k)]
        confusion = np.zeros((k, k), np.int64)
        np.add.at(confusion, (labels, predictions), 1)
        per_class = {}
        for i, name in enumerate(names):
            tp = confusion[i, i]
            precision = tp / max(1, confusion[:, i].sum())
            recall = tp / max(1, confusion[i].sum())
            f1 = 2 * precision * recall / max(1e-12, precision + recall)
            per_class[name] = {"precision": float(precision), "recall": float(recall),
                               "f1": float(f1), "support": int(confusion[i].sum())}
        return {"accuracy": float(np.mean(predictions == labels)) if labels.size else None,
                "documents": int(labels.size), "per_class": per_class,
                "confusion_matrix": confusion.tolist(), "classes": list(names)}
