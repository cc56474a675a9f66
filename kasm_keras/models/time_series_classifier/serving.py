"""The time-series classifier for TensorFlow Serving: raw float series in, classes out."""

import keras
import tensorflow as tf

from kasm_keras.models.saved_model import write_saved_model

WITH_LENGTHS = "with_lengths"  # the signature for series of unequal lengths


class TimeSeriesServingModule(tf.Module):
    """What the SavedModel holds: the network (its standardisation inside) and the class names.

    `serve(series)`: `series` float32 `[batch, time, channels]` of raw values, every step real
    (series of one length). `serve_with_lengths(series, lengths)`: series of unequal lengths,
    padded at the end with anything; `lengths` int32 `[batch]`, the real steps of each series,
    each in [1, time]. Both return `probabilities` float32 `[batch, classes]`, `class_id` int64
    and `class_name` string. Input the model cannot answer is an error status
    (InvalidArgumentError) naming the series, checked before the network runs: no series, a
    series with no steps, a length out of range, or a real step that is NaN, inf or not finite once
    standardised with the training statistics (the network would give it the same answer as
    any other such series).

    Args:
        classifier: A `TimeSeriesClassifier`.

    Examples:
        >>> import numpy as np, kasm_keras
        >>> from kasm_keras.models.time_series_classifier.serving import (
        ...     TimeSeriesServingModule)
        >>> module = TimeSeriesServingModule(kasm_keras.zoo.load("japanese_vowels/rkm_cifg_1gram"))
        >>> series = np.zeros([2, 20, 12], np.float32)  # two series of 12 channels, 20 steps
        >>> outputs = module.serve_with_lengths(series, np.array([15, 20], np.int32))
        >>> outputs["probabilities"].shape, outputs["class_name"].shape
        (TensorShape([2, 9]), TensorShape([2]))
    """

    def __init__(self, classifier):
        super().__init__(name="kasm_time_series_classifier")
        self.model = classifier
        self.softmax = classifier.activation is not keras.activations.softmax
        names = classifier.class_names or [str(i) for i in range(classifier.num_classes)]
        self.class_names = tf.constant(names, tf.string)

    def serve(self, series):
        """Classifies series of one length (the SavedModel's `serving_default`).

        Args:
            series: float32 `[batch, time, channels]`, every step real.

        Returns:
            `{"probabilities": float32 [batch, classes], "class_id": int64 [batch],
            "class_name": string [batch]}`.
        """
        shape = tf.shape(series)
        return self.serve_with_lengths(series, tf.fill([shape[0]], shape[1]))

    def serve_with_lengths(self, series, lengths):
        """Classifies series of unequal lengths (the SavedModel's `with_lengths`).

        Args:
            series: float32 `[batch, time, channels]`, each padded at the end with anything.
            lengths: int32 `[batch]`, the real steps of each series, each in [1, time].

        Returns:
            As `serve`.
        """
        # Each check runs before the ops that would fail on (or answer) what it refuses, and
        # after the one before it: the lengths' count, the steps, the lengths' range, then
        # finiteness before the network.
        batch, time = tf.shape(series)[0], tf.shape(series)[1]
        check = tf.debugging.assert_equal(tf.shape(lengths)[0], batch,
                                          message="lengths must give one length per series")
        with tf.control_dependencies([check]):
            lengths = tf.identity(lengths)
        check = tf.debugging.Assert((batch > 0) & (time > 0), [
            "series of shape", tf.shape(series), ": no series, or series with no steps; a "
            "request needs at least one series of at least one step"])
        with tf.control_dependencies([check]):
            lengths = tf.identity(lengths)
        out_of_range = tf.reshape(tf.where((lengths < 1) | (lengths > time)), [-1])
        check = tf.debugging.Assert(tf.equal(tf.size(out_of_range), 0), [
            "lengths must be in [1, time], time", time, "; series (index) out of range:",
            out_of_range, "their lengths:", tf.gather(lengths, out_of_range)])
        with tf.control_dependencies([check]):
            mask = tf.sequence_mask(tf.identity(lengths), time)
        standardized = self.model.backbone.standardization(series, mask=mask)
        finite = tf.reduce_all(tf.math.is_finite(standardized), axis=[1, 2])
        not_finite = tf.reshape(tf.where(~finite), [-1])
        check = tf.debugging.Assert(tf.reduce_all(finite), [
            "a real step is NaN or inf, or not finite once standardised with the model's "
            "training statistics: the model answers finite input only; series (index):",
            not_finite])
        with tf.control_dependencies([check]):
            series, mask = tf.identity(series), tf.identity(mask)
        outputs = tf.cast(self.model({"series": series, "padding_mask": mask}, training=False),
                          tf.float32)
        probabilities = tf.nn.softmax(outputs, axis=-1) if self.softmax else outputs
        class_id = tf.argmax(probabilities, axis=-1, output_type=tf.int64)
        return {"probabilities": probabilities, "class_id": class_id,
                "class_name": tf.gather(self.class_names, class_id)}


def export_saved_model(classifier, export_dir):
    """Writes a time-series classifier as a SavedModel for TensorFlow Serving: raw float
    series in, classes out, or an error status for input the model cannot answer
    (`TimeSeriesServingModule`). It loads with `tf.saved_model.load` alone, without kasm_keras
    or keras-hub. It is written beside `export_dir`, then renamed, so a folder that exists is
    whole.

    Args:
        classifier: A `TimeSeriesClassifier`.
        export_dir: The SavedModel's folder.

    Returns:
        `export_dir`. Its `serving_default` takes `series` (float32 [batch, time, channels],
        the channel count fixed by the model, every step real) and its `with_lengths` takes
        `series` padded at the end and `lengths` (int32 [batch]), as
        `TimeSeriesServingModule.serve` and `serve_with_lengths` do.

    Examples:
        >>> import tempfile, kasm_keras, tensorflow as tf
        >>> from kasm_keras.models.time_series_classifier.serving import export_saved_model
        >>> folder = export_saved_model(kasm_keras.zoo.load("japanese_vowels/rkm_cifg_1gram"),
        ...                             tempfile.mkdtemp() + "/series")
        >>> sorted(tf.saved_model.load(folder).signatures)
        ['serving_default', 'with_lengths']
    """
    module = TimeSeriesServingModule(classifier)
    series = tf.TensorSpec([None, None, classifier.channels], tf.float32, name="series")
    return write_saved_model(classifier, module, [series], export_dir, endpoints={
        WITH_LENGTHS: (module.serve_with_lengths,
                       [series, tf.TensorSpec([None], tf.int32, name="lengths")])})
