"""What both classifier families' keras-hub tasks share: the authors' head on a backbone's
pooled vector, its config, how it is rebuilt for storage, and probabilities from its outputs.

The head is dropout -> Dense(hidden_dim, ReLU) -> dropout -> Dense(num_classes), the last layer
in float32 under mixed precision. Its layers keep the names the zoo's stored weights use
(`pooled_dropout`, `hidden_dense`, `hidden_dropout`, `logits`).
"""

import keras
import numpy as np
from keras import ops

from kasm_keras.layers import held_values
from kasm_keras.models.classification_report import classification_report

HEAD_CONFIG = ("num_classes", "hidden_dim", "dropout", "class_names", "seed")


class ClassifierHead:
    """Mixin for a keras-hub `Task` whose model is backbone -> the authors' head; it comes
    first among the task's bases, and its `__init__` builds the functional model.

    Args:
        backbone: the family's backbone (a functional model with a pooled output).
        num_classes: the number of classes.
        activation: of the last layer ("softmax"), or None for logits.
        hidden_dim: width of the hidden layer.
        dropout: rate of both dropout layers.
        class_names: the classes' names in id order, or None.
        seed: seed of the dropout layers, or None.
        preprocessor: the task's preprocessor, or None.
        **kwargs: passed to `keras.Model`.

    Examples:
        >>> import kasm_keras
        >>> classifier = kasm_keras.KernelTextClassifier.from_preset("ag_news/rkm_cifg_1gram")
        >>> isinstance(classifier, kasm_keras.models.classifier_head.ClassifierHead)
        True
        >>> classifier.num_classes, classifier.hidden_dim
        (4, 300)
    """

    def __init__(self, backbone, num_classes, activation=None, hidden_dim=300, dropout=0.5,
                 class_names=None, seed=None, preprocessor=None, **kwargs):
        head = dict(activation=activation, hidden_dim=hidden_dim, dropout=dropout,
                    class_names=class_names, seed=seed)
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        outputs = self.head_outputs(backbone, num_classes, **head)

        # === Functional model ===
        super().__init__(inputs=backbone.input, outputs=outputs, **kwargs)

        # === Config ===
        self.set_head_config(num_classes, **head)

    def head_outputs(self, backbone, num_classes, *, activation, hidden_dim, dropout,
                     class_names, seed):
        """Makes the head's layers on top of a backbone.

        Args:
            backbone: the family's backbone (a functional model with a pooled output).
            num_classes: width of the last layer.
            activation: of the last layer, or None for logits.
            hidden_dim: width of the hidden layer.
            dropout: rate of both dropout layers.
            class_names: the classes' names in id order, or None.
            seed: seed of the dropout layers, or None.

        Returns:
            The head's output tensor on `backbone.input`.
        """
        if class_names is not None and len(class_names) != num_classes:
            raise ValueError(f"{len(class_names)} class names for {num_classes} classes")
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
        x = self.pooled_dropout(backbone(backbone.input))
        return self.output_dense(self.hidden_dropout(self.hidden_dense(x)))

    def set_head_config(self, num_classes, *, activation, hidden_dim, dropout, class_names,
                        seed):
        """Keeps the head's arguments as attributes, for `get_config` and `rebuilt`.

        Args:
            num_classes: number of classes.
            activation: of the last layer, or None.
            hidden_dim: width of the hidden layer.
            dropout: rate of both dropout layers.
            class_names: the classes' names in id order, or None.
            seed: seed of the dropout layers, or None.
        """
        self.num_classes = num_classes
        self.activation = keras.activations.get(activation)
        self.hidden_dim = hidden_dim
        self.dropout = dropout
        self.class_names = None if class_names is None else [str(c) for c in class_names]
        self.seed = seed

    def get_config(self):
        """The task's config, with the head's arguments added to the keras-hub task's.

        Returns:
            A dict that `from_config` rebuilds the task from.
        """
        config = super().get_config()
        config.update({
            "num_classes": self.num_classes,
            "activation": keras.activations.serialize(self.activation),
            **{name: getattr(self, name) for name in HEAD_CONFIG[1:]},
        })
        return config

    def get_compile_config(self):
        """Nothing: keras-hub's `compile` is custom, so Keras could not restore it on loading
        (and warns); a loaded model gets the defaults a new one gets.

        Returns:
            None.
        """
        return None

    def rebuilt(self, activation="same", dtype="same"):
        """A new task with these weights and another output activation or dtype policy.

        A model trained under mixed precision is stored and served as `dtype="float32"`.

        Args:
            activation: of the last layer; "same" keeps this model's.
            dtype: the new dtype policy; "same" keeps this model's.

        Returns:
            A task of the same class, with the same preprocessor and a copy of the weights.

        Examples:
            >>> logits_model = classifier.rebuilt(activation=None, dtype="float32")
        """
        config = self.backbone.get_config()
        if dtype != "same":
            config["dtype"] = dtype
        preprocessor = {"preprocessor": self.preprocessor} if self.preprocessor_cls else {}
        copy = type(self)(
            type(self.backbone).from_config(config), self.num_classes,
            activation=self.activation if activation == "same" else activation,
            hidden_dim=self.hidden_dim, dropout=self.dropout, class_names=self.class_names,
            seed=self.seed, **preprocessor)
        copy.set_weights(self.get_weights())
        return copy

    def held_logits(self, inputs, copies, padding_mask, offset):
        """The logits (before the activation) from the recurrent layer's inputs, as
        `held_values.decompose` calls its network; the ReLU's mask is held with the cells'
        values.

        Args:
            inputs: the recurrent layer's inputs (the embedded tokens), `copies` rows per
                document.
            copies: how many rows of `inputs` each document has.
            padding_mask: one row per document, True at its tokens.
            offset: subtracted from `inputs` (one row per document).

        Returns:
            The logits, `(rows of inputs, num_classes)`.
        """
        mask = held_values.tile_rows(padding_mask, copies)
        inputs = inputs - held_values.tile_rows(offset, copies)
        backbone = self.backbone
        pooled = backbone.pooling(backbone.kernel_rnn(inputs, mask=mask), mask=mask)
        hidden, logits = self.hidden_dense, self.output_dense
        activation = keras.activations.serialize(hidden.activation)
        x = held_values.current().activation(activation, ops.matmul(
            pooled, ops.cast(hidden.kernel, pooled.dtype)) + ops.cast(hidden.bias, pooled.dtype))
        # The output layer keeps float32 under any policy (keras-hub's tasks do).
        return ops.matmul(x, ops.cast(logits.kernel, x.dtype)) + ops.cast(logits.bias, x.dtype)

    def as_probabilities(self, outputs):
        """Probabilities from the model's outputs, whatever its activation.

        Args:
            outputs: the model's outputs, `(batch, num_classes)`: probabilities with a softmax
                activation, logits otherwise.

        Returns:
            A float32 NumPy array of the same shape whose rows sum to 1.
        """
        outputs = np.asarray(outputs, np.float32)
        if self.activation is keras.activations.softmax:
            return outputs
        outputs = np.exp(outputs - outputs.max(axis=-1, keepdims=True))
        return outputs / outputs.sum(axis=-1, keepdims=True)

    def report_from(self, probabilities, labels, unit="documents"):
        """The classification report of predicted probabilities against true labels.

        Args:
            probabilities: `(examples, num_classes)`; the most probable class is predicted.
            labels: the true class ids.
            unit: what the examples are called in the report ("documents", "series").

        Returns:
            A dict: "accuracy", the count under `unit`, "per_class", "confusion_matrix"
                (rows: true class) and "classes".
        """
        predictions = np.asarray(probabilities).argmax(-1) if len(probabilities) else []
        return classification_report(predictions, labels, self.num_classes, self.class_names,
                                     unit=unit)

    def names_of(self, probabilities):
        """The most probable class of each row.

        Args:
            probabilities: `(examples, num_classes)`.

        Returns:
            A list of class names (class ids without `class_names`).
        """
        ids = np.asarray(probabilities).argmax(-1)
        return [self.class_names[i] for i in ids] if self.class_names else ids.tolist()
