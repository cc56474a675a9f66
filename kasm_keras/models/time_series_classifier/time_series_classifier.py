"""The multichannel time-series classifier (the paper's Table 4 task) as a keras-hub `Task`."""

import keras
import keras_hub
import numpy as np

from kasm_keras.data.classification_data import DataError
from kasm_keras.data.time_series_data import not_finite, pad, padded_batch, ragged_series
from kasm_keras.models import explanation
from kasm_keras.models.classifier_head import ClassifierHead
from kasm_keras.models.time_series_classifier.backbone import TimeSeriesBackbone
from kasm_keras.models.time_series_classifier.preprocessor import TimeSeriesClassifierPreprocessor
from kasm_keras.models.presets import ZooPresets


@keras.saving.register_keras_serializable(package="kasm_keras")
class TimeSeriesClassifier(ClassifierHead, ZooPresets, keras_hub.models.Task):
    """The paper's multichannel time-series classifier (its Table 4 task) as a keras-hub `Task`.

    Backbone -> dropout -> Dense(hidden_dim, ReLU) -> dropout -> Dense(num_classes), the
    head of the paper's classifiers (`kasm_keras.models.classifier_head`), on a
    `TimeSeriesBackbone`.

    It takes `{"series": float [batch, time, channels], "padding_mask": bool [batch, time]}`
    (raw values: the backbone standardises them); `predict` takes that, a raw
    `[batch, time, channels]` array (with `lengths=` for padded series) or a list of
    `[length, channels]` arrays; `probabilities`, `classify` and `classification_report` take
    a list of arrays of any lengths and pad them. A series with a NaN or inf (or a value that
    overflows on standardisation) raises ValueError naming it.

    Its preprocessor, a `TimeSeriesClassifierPreprocessor`, pads and masks series of unequal
    lengths (ragged, or a dataset of single series) for `fit`, `predict` and `evaluate`; the
    model's own input passes it unchanged. It holds nothing, so it is made here when none is
    given, and neither the config nor a preset records it (`get_config`, `save_to_preset`):
    presets and the zoo's entries keep the files they had.

    Args:
        backbone: a `TimeSeriesBackbone`.
        num_classes: number of classes.
        activation: of the last layer; None gives logits, "softmax" probabilities (the zoo's
            presets are saved with "softmax").
        hidden_dim: width of the hidden layer.
        dropout: rate of both dropout layers.
        class_names: the classes' names in id order (the .ts file's @classLabel order).
        seed: seed of the dropout layers.
        preprocessor: a `TimeSeriesClassifierPreprocessor` (a new one when None).
        **kwargs: `keras_hub.models.Task` arguments (`name`).

    Examples:
        >>> import numpy as np, kasm_keras
        >>> classifier = kasm_keras.TimeSeriesClassifier.from_preset(
        ...     "japanese_vowels/rkm_lstm_3gram")
        >>> series = [np.random.randn(20, 12), np.random.randn(15, 12)]  # any lengths
        >>> classifier.probabilities(series).shape  # nine speakers
        (2, 9)
        >>> speakers = classifier.classify(series)  # e.g. ['7', '9']
    """

    zoo_task = "time_series"  # its zoo names are presets (kasm_keras.models.presets)

    backbone_cls = TimeSeriesBackbone
    preprocessor_cls = TimeSeriesClassifierPreprocessor

    def __init__(self, backbone, num_classes, activation=None, hidden_dim=64, dropout=0.5,
                 class_names=None, seed=None, preprocessor=None, **kwargs):
        if preprocessor is None:
            preprocessor = TimeSeriesClassifierPreprocessor()
        super().__init__(backbone, num_classes, activation=activation, hidden_dim=hidden_dim,
                         dropout=dropout, class_names=class_names, seed=seed,
                         preprocessor=preprocessor, **kwargs)

    def get_config(self):
        """keras-hub's, with no preprocessor: it holds nothing and a new one is made on
        loading, so the config is the one of a task saved without it."""
        return {**super().get_config(), "preprocessor": None}

    def save_to_preset(self, preset_dir, max_shard_size=10):
        """keras-hub's, without `preprocessor.json` (see `get_config`)."""
        preprocessor, self.preprocessor = self.preprocessor, None
        try:
            super().save_to_preset(preset_dir, max_shard_size=max_shard_size)
        finally:
            self.preprocessor = preprocessor

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
        """Channels per step the model takes."""
        return self.backbone.channels

    def predict(self, x=None, batch_size=None, verbose="auto", steps=None, callbacks=None, *,
                lengths=None):
        """The model's outputs (probabilities or logits, as its activation) of raw series.

        Every real step must be finite once standardised (`check_series`): a NaN or inf, or
        a value that overflows float32 on standardisation, raises ValueError naming the
        series.

        Args:
            x: the series, as

                - a float array `[batch, time, channels]`, every step real unless `lengths`
                  gives each series' real steps (padded at the end);
                - a list of `[length, channels]` arrays of any lengths (padded per batch), or
                  a `tf.RaggedTensor` `[batch, (length), channels]` of them;
                - the model's own input, `{"series": ..., "padding_mask": ...}`;
                - a `tf.data.Dataset` of that input (passed on unchecked).
            batch_size: as for `keras.Model.predict` (32 for a list of series).
            verbose: as for `keras.Model.predict`.
            steps: as for `keras.Model.predict`.
            callbacks: as for `keras.Model.predict`.
            lengths: int `[batch]`, each in [1, time], the real steps of each series of an
                array; None when every step is real. Keyword-only, so that
                `predict(x, 32, 0)` means verbose=0 as it does for any model.

        Returns:
            A NumPy array `(batch, num_classes)`.

        Examples:
            >>> classifier.predict(np.random.randn(2, 20, 12), lengths=[20, 15],
            ...                    verbose=0).shape
            (2, 9)
        """
        import tensorflow as tf

        kwargs = {"verbose": verbose, "steps": steps, "callbacks": callbacks}
        if isinstance(x, tf.data.Dataset):
            return super().predict(x, batch_size=batch_size, **kwargs)
        if isinstance(x, tf.RaggedTensor):  # the preprocessor's input: series of any lengths
            x = [np.asarray(s, np.float32) for s in x.numpy()]
        if isinstance(x, (list, tuple)):
            if lengths is not None:
                raise ValueError("lengths= applies to an array [batch, time, channels]; a list "
                                 "of series gives each its own length")
            series = self.check_series(x)
            data = tf.data.Dataset.from_tensor_slices(ragged_series(series, self.channels))
            data = data.batch(batch_size or 32).map(padded_batch)
            return super().predict(data, **kwargs)
        if isinstance(x, dict):
            if lengths is not None:
                raise ValueError("lengths= applies to an array [batch, time, channels]; the "
                                 "input's padding_mask gives each series' steps")
            values, mask = np.asarray(x["series"], np.float32), np.asarray(x["padding_mask"], bool)
            if values.ndim != 3 or mask.shape != values.shape[:2]:
                raise ValueError(f"series {values.shape} and padding_mask {mask.shape}: expected "
                                 f"[batch, time, {self.channels}] and [batch, time]")
        else:
            values = np.asarray(x, np.float32)
            if values.ndim != 3:
                raise ValueError(f"series of shape {values.shape}; expected [batch, time, "
                                 f"{self.channels}] (or a list of [length, {self.channels}] "
                                 "arrays)")
            if values.shape[1] == 0:
                raise ValueError(f"series of shape {values.shape}: the series have no steps; a "
                                 "series needs at least one")
            if lengths is None:
                lengths = np.full([len(values)], values.shape[1])
            lengths = np.asarray(lengths)
            if lengths.shape != (len(values),) or not np.issubdtype(lengths.dtype, np.integer):
                raise ValueError(f"lengths of shape {lengths.shape} and dtype {lengths.dtype}; "
                                 f"expected one whole number per series ({len(values)})")
            bad = np.flatnonzero((lengths < 1) | (lengths > values.shape[1]))
            if len(bad):
                raise ValueError(f"series {bad[0]}: length {lengths[bad[0]]}, not in [1, "
                                 f"{values.shape[1]}] (its steps)")
            mask = np.arange(values.shape[1])[None, :] < lengths[:, None]
        self.check_series([v[m] for v, m in zip(values, mask)])
        return super().predict({"series": values, "padding_mask": mask}, batch_size=batch_size,
                               **kwargs)

    def check_series(self, series):
        """Checks series before the model reads them.

        The network would give a series with a value that is not finite once standardised
        the same answer whatever it is, so such input is refused rather than answered.

        Args:
            series: a list of `[length, channels]` arrays.

        Returns:
            The series as float32 arrays.

        Raises:
            DataError: (a ValueError) naming the first series that has the wrong shape, no
                steps, or a value the model cannot answer: NaN or inf, or one that is not
                finite once standardised with the training statistics (3e38 on a channel
                whose standard deviation is below 1).
        """
        series = [np.asarray(s, np.float32) for s in series]
        mean, std = self.backbone.standardization.get_weights()
        for i, s in enumerate(series):
            if s.ndim != 2 or s.shape[1] != self.channels:
                raise DataError(f"series {i} has shape {s.shape}; expected [length, "
                                f"{self.channels}]")
            if not len(s):
                raise DataError(f"series {i} has no steps; a series needs at least one")
            bad = not_finite(s, mean, std)
            if bad is not None:
                step, channel = bad
                value = s[step, channel]
                what = ("is not finite" if not np.isfinite(value) else
                        f"is not finite once standardised (mean {mean[channel]:g}, standard "
                        f"deviation {std[channel]:g})")
                raise DataError(f"series {i}: step {step}, channel {channel}: {value:g} {what}; "
                                "the model answers finite input only")
        return series

    def probabilities(self, series, batch_size=256):
        """Class probabilities of series of any lengths, whatever the output activation.

        The series are checked by `check_series`, run in order of length, each batch padded
        to its longest; the rows come back in the order given.

        Args:
            series: a list of `[length, channels]` arrays of raw values.
            batch_size: series per batch.

        Returns:
            A float32 NumPy array `(cases, num_classes)` whose rows sum to 1.

        Examples:
            >>> classifier.probabilities([np.random.randn(20, 12)]).shape
            (1, 9)
        """
        series = self.check_series(series)
        order = np.argsort([len(s) for s in series], kind="stable")
        outputs = np.empty([len(series), self.num_classes], np.float32)
        for start in range(0, len(series), batch_size):
            chosen = order[start:start + batch_size]
            values, lengths = pad([series[i] for i in chosen])
            mask = np.arange(values.shape[1])[None, :] < lengths[:, None]
            outputs[chosen] = np.asarray(self.predict_on_batch(
                {"series": values, "padding_mask": mask}), np.float32)
        return self.as_probabilities(outputs)

    def explain(self, series, classes=None, batch_size=32, mode="auto", dtype="float32"):
        """Each (step, channel) value's exact share of each class's logit
        (`kasm_keras.layers.held_values`).

        A value's part is value / std of its channel; the standardisation's offset,
        -mean / std, is in the constant. Computed in float32 whatever the dtype policy, or in
        float64 if asked.

        Args:
            series: a list of `[length, channels]` arrays of raw values.
            classes: the classes explained: None for all, "predicted" for each series' most
                likely class, or a class name or id or a list of them.
            batch_size: series per batch.
            mode: "auto", "reverse" or "forward", how the Jacobians are computed (see
                `kasm_keras.layers.held_values.decompose`); all give the same numbers.
            dtype: "float32" or "float64", what the explanation computes in.

        Returns:
            One `Explanation` per series, whose `contributions`
                `(length, channels, classes explained)` and `constant` add up to its `logits`
                of those classes.

        Examples:
            >>> [explanation] = classifier.explain([np.random.randn(20, 12)])
            >>> explanation.contributions.shape
            (20, 12, 9)
        """
        series = self.check_series(series)
        model = explanation.twin(self, dtype, lambda d: self.rebuilt(dtype=d))
        mean, std = (np.asarray(w, dtype)
                     for w in model.backbone.standardization.get_weights())
        names = explanation.names_or_ids(self.class_names, self.num_classes)
        results = []
        for start in range(0, len(series), batch_size):
            values, lengths = pad(series[start:start + batch_size])
            mask = (np.arange(values.shape[1])[None, :] < lengths[:, None])[:, :, None]
            source = np.where(mask, values / std, 0.0).astype(dtype)
            offset = np.where(mask, mean / std, 0.0).astype(dtype)
            chosen = explanation.chosen_outputs(classes, names, len(values))
            contributions, constant, logits = explanation.decompose(
                model, model.held_logits, source, (mask[:, :, 0], offset), 0,
                self.num_classes, mode, chosen)
            explained = explanation.explained_ids(chosen, logits)
            for row, length in enumerate(lengths):
                results.append(explanation.Explanation(
                    None, contributions[row, :length], constant[row],
                    logits[row, explained[row]], [names[k] for k in explained[row]]))
        return results

    def classify(self, series, batch_size=256):
        """The most probable class of each series.

        Args:
            series: a list of `[length, channels]` arrays of raw values.
            batch_size: series per batch.

        Returns:
            A list of class names (class ids without `class_names`).

        Examples:
            >>> speakers = classifier.classify([np.random.randn(20, 12)])  # e.g. ['7']
        """
        return self.names_of(self.probabilities(series, batch_size))

    def classification_report(self, series, labels, batch_size=256):
        """How well the classifier labels these series.

        Args:
            series: a list of `[length, channels]` arrays of raw values.
            labels: their true class ids.
            batch_size: series per batch.

        Returns:
            A dict: "accuracy", "cases", "per_class" (precision, recall, F1 and support of
                each class), "confusion_matrix" (rows: true class) and "classes".

        Examples:
            >>> report = classifier.classification_report([np.random.randn(20, 12)], [0])
            >>> sorted(report)
            ['accuracy', 'cases', 'classes', 'confusion_matrix', 'per_class']
        """
        return self.report_from(self.probabilities(series, batch_size), labels, unit="cases")

def build_time_series_classifier(channels, num_classes, variant, mean=None, std=None, units=64,
                                 ngram=1, hidden_dim=64, dropout=0.5, seed=0, class_names=None,
                                 activation=None, **cell_options):
    """A new `TimeSeriesClassifier` from its hyperparameters.

    Args:
        channels: channels per step.
        num_classes: number of classes.
        variant: one of `kasm_keras.VARIANTS`.
        mean: `(channels,)`, the training split's per-channel means (`channel_statistics`);
            zeros when None.
        std: `(channels,)`, the per-channel standard deviations; ones when None.
        units: the cell's hidden size d.
        ngram: input window width n.
        hidden_dim: width of the head's hidden layer.
        dropout: rate of the head's two dropout layers.
        seed: seed of every dropout.
        class_names: the classes' names in id order, or None.
        activation: of the last layer: None gives logits, "softmax" probabilities.
        **cell_options: further `TimeSeriesBackbone` arguments (`layer_norm`,
            `learn_sigmas`, `sigma_i`, `sigma_f`, `implementation`, ...).

    Returns:
        A `TimeSeriesClassifier`, its weights freshly initialised.

    Examples:
        >>> import numpy as np, kasm_keras
        >>> classifier = kasm_keras.build_time_series_classifier(
        ...     channels=12, num_classes=9, variant="rkm_lstm", mean=np.zeros(12),
        ...     std=np.ones(12), units=16, hidden_dim=16)
        >>> classifier.probabilities([np.random.randn(20, 12)]).shape
        (1, 9)
    """
    backbone = TimeSeriesBackbone(channels, variant, units=units, ngram=ngram, seed=seed,
                                  **cell_options)
    if mean is not None:
        backbone.standardization.set_statistics(mean, std)
    return TimeSeriesClassifier(backbone, num_classes, activation=activation,
                                hidden_dim=hidden_dim, dropout=dropout, class_names=class_names,
                                seed=seed)
