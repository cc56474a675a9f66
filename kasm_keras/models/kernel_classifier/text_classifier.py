"""The paper's document classifier as a keras-hub `TextClassifier`."""

import keras
import keras_hub
import numpy as np

from kasm_keras.models.classifier_head import ClassifierHead
from kasm_keras.models.kernel_classifier.backbone import KernelClassifierBackbone
from kasm_keras.models.kernel_classifier.preprocessor import KernelTextClassifierPreprocessor
from kasm_keras.models.kernel_classifier.presets import ZooPresets


@keras.saving.register_keras_serializable(package="kasm_keras")
class KernelTextClassifier(ClassifierHead, ZooPresets, keras_hub.models.TextClassifier):
    """Backbone -> dropout -> Dense(hidden_dim, ReLU) -> dropout -> Dense(num_classes), the
    authors' head (`kasm_keras.models.classifier_head`). Raw strings in when it has a
    preprocessor; token ids in through `__call__`.

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
        super().__init__(backbone, num_classes, activation=activation, hidden_dim=hidden_dim,
                         dropout=dropout, class_names=class_names, seed=seed,
                         preprocessor=preprocessor, **kwargs)

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
        return self.as_probabilities(outputs)

    def classify(self, texts, batch_size=256):
        """Class names (class ids without `class_names`) of raw texts."""
        return self.names_of(self.probabilities(texts, batch_size))

    def classification_report(self, texts, labels, batch_size=256):
        """Accuracy, per-class precision/recall/F1 and the confusion matrix (rows: true class)."""
        return self.report_from(self.probabilities(texts, batch_size), labels)
