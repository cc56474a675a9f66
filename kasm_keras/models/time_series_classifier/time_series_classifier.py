"""The multichannel time-series classifier (the paper's Table 4 task) as a keras-hub `Task`."""

import keras
import keras_hub
import numpy as np

from kasm_keras.data.time_series_data import pad
from kasm_keras.models.classifier_head import ClassifierHead
from kasm_keras.models.time_series_classifier.backbone import TimeSeriesBackbone
from kasm_keras.models.time_series_classifier.presets import TimeSeriesPresets


@keras.saving.register_keras_serializable(package="kasm_keras")
class TimeSeriesClassifier(ClassifierHead, TimeSeriesPresets, keras_hub.models.Task):
    """Backbone -> dropout -> Dense(hidden_dim, ReLU) -> dropout -> Dense(num_classes), the
    head of the paper's classifiers (`kasm_keras.models.classifier_head`), on a
    `TimeSeriesBackbone`.

    It takes `{"series": float [batch, time, channels], "padding_mask": bool [batch, time]}`
    (raw values: the backbone standardises them); `probabilities`, `classify` and
    `classification_report` take a list of `[length, channels]` arrays of any lengths and pad
    them. No preprocessor: there is nothing to tokenise.

    Args:
        backbone: a `TimeSeriesBackbone`.
        num_classes: number of classes.
        activation: of the last layer; None gives logits, "softmax" probabilities (the zoo's
            presets are saved with "softmax").
        hidden_dim: width of the hidden layer.
        dropout: rate of both dropout layers.
        class_names: the classes' names in id order (the .ts file's @classLabel order).
        seed: seed of the dropout layers.

    Example:
    ```python
    classifier = TimeSeriesClassifier.from_preset("japanese_vowels/rkm_lstm_3gram")
    classifier.classify([np.random.randn(20, 12)])   # ['3'], a speaker
    ```
    """

    backbone_cls = TimeSeriesBackbone
    preprocessor_cls = None

    def __init__(self, backbone, num_classes, activation=None, hidden_dim=64, dropout=0.5,
                 class_names=None, seed=None, **kwargs):
        super().__init__(backbone, num_classes, activation=activation, hidden_dim=hidden_dim,
                         dropout=dropout, class_names=class_names, seed=seed, **kwargs)

    def compile(self, optimizer="auto", loss="auto", *, metrics="auto", **kwargs):
        """keras-hub's classifier defaults: Adam (1e-3 here: a model trained from scratch),
        sparse categorical cross-entropy on logits or probabilities as the activation gives,
        and accuracy."""
        if optimizer == "auto":
            optimizer = keras.optimizers.Adam(1e-3)
        if loss == "auto":
            # Task.__init__ compiles before this class has set its own attributes.
            activation = keras.activations.get(getattr(self, "activation", None))
            from_logits = activation is not keras.activations.softmax
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
        if metrics == "auto":
            metrics = [keras.metrics.SparseCategoricalAccuracy()]
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    @property
    def channels(self):
        return self.backbone.channels

    def probabilities(self, series, batch_size=256):
        """Class probabilities [cases, num_classes] of a list of `[length, channels]` arrays,
        whatever the activation. They run in order of length, each batch padded to its
        longest; the rows come back in the order given."""
        series = [np.asarray(s, np.float32) for s in series]
        for i, s in enumerate(series):
            if s.ndim != 2 or s.shape[1] != self.channels or not len(s):
                raise ValueError(f"series {i} has shape {s.shape}; expected [length >= 1, "
                                 f"{self.channels}]")
        order = np.argsort([len(s) for s in series], kind="stable")
        outputs = np.empty([len(series), self.num_classes], np.float32)
        for start in range(0, len(series), batch_size):
            chosen = order[start:start + batch_size]
            values, lengths = pad([series[i] for i in chosen])
            mask = np.arange(values.shape[1])[None, :] < lengths[:, None]
            outputs[chosen] = np.asarray(self.predict_on_batch(
                {"series": values, "padding_mask": mask}), np.float32)
        return self.as_probabilities(outputs)

    def classify(self, series, batch_size=256):
        """Class names (class ids without `class_names`) of a list of series."""
        return self.names_of(self.probabilities(series, batch_size))

    def classification_report(self, series, labels, batch_size=256):
        """Accuracy, per-class precision/recall/F1 and the confusion matrix (rows: true class)
        over `cases`."""
        return self.report_from(self.probabilities(series, batch_size), labels, unit="cases")

def build_time_series_classifier(channels, num_classes, variant, mean=None, std=None, units=64,
                                 ngram=1, hidden_dim=64, dropout=0.5, seed=0, class_names=None,
                                 activation=None, **cell_options):
    """A `TimeSeriesClassifier` whose standardisation holds `mean` and `std` (the training
    split's `channel_statistics`; zeros and ones when not given)."""
    backbone = TimeSeriesBackbone(channels, variant, units=units, ngram=ngram, seed=seed,
                                  **cell_options)
    if mean is not None:
        backbone.standardization.set_statistics(mean, std)
    return TimeSeriesClassifier(backbone, num_classes, activation=activation,
                                hidden_dim=hidden_dim, dropout=dropout, class_names=class_names,
                                seed=seed)
