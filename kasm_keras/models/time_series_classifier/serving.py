"""The time-series classifier for TensorFlow Serving: raw float series in, classes out."""

import keras
import tensorflow as tf

from kasm_keras.models.saved_model import write_saved_model

WITH_LENGTHS = "with_lengths"  # the signature for series of unequal lengths


class TimeSeriesServingModule(tf.Module):
    """What the SavedModel holds: the network (its standardisation inside) and the class names.

    `serve(series)`: `series` float32 `[batch, time, channels]` of raw values, every step real
    (series of one length). `serve_with_lengths(series, lengths)`: series of unequal lengths,
    padded at the end with anything; `lengths` int32 `[batch]`, the real steps of each series
    (clipped to [0, time]; a series of length 0 gets the probabilities of an empty input). Both
    return `probabilities` float32 `[batch, classes]`, `class_id` int64 and `class_name` string.
    """

    def __init__(self, classifier):
        super().__init__(name="kasm_time_series_classifier")
        self.model = classifier
        self.softmax = classifier.activation is not keras.activations.softmax
        names = classifier.class_names or [str(i) for i in range(classifier.num_classes)]
        self.class_names = tf.constant(names, tf.string)

    def serve(self, series):
        shape = tf.shape(series)
        return self.serve_with_lengths(series, tf.fill([shape[0]], shape[1]))

    def serve_with_lengths(self, series, lengths):
        check = tf.debugging.assert_equal(tf.shape(lengths)[0], tf.shape(series)[0],
                                          message="lengths must give one length per series")
        with tf.control_dependencies([check]):  # before any op that would fail on the shapes
            series, lengths = tf.identity(series), tf.identity(lengths)
        time = tf.shape(series)[1]
        mask = tf.sequence_mask(tf.clip_by_value(lengths, 0, time), time)
        outputs = tf.cast(self.model({"series": series, "padding_mask": mask}, training=False),
                          tf.float32)
        probabilities = tf.nn.softmax(outputs, axis=-1) if self.softmax else outputs
        class_id = tf.argmax(probabilities, axis=-1, output_type=tf.int64)
        return {"probabilities": probabilities, "class_id": class_id,
                "class_name": tf.gather(self.class_names, class_id)}


def export_saved_model(classifier, export_dir):
    """A SavedModel whose `serving_default` takes `series` (float32 [batch, time, channels],
    the channel count fixed by the model, every step real) and whose `with_lengths` takes
    `series` padded at the end and `lengths` (int32 [batch]); both return `probabilities`,
    `class_id` and `class_name`. Written beside `export_dir`, then renamed. It loads with
    `tf.saved_model.load` alone, without kasm_keras or keras-hub."""
    module = TimeSeriesServingModule(classifier)
    series = tf.TensorSpec([None, None, classifier.channels], tf.float32, name="series")
    return write_saved_model(classifier, module, [series], export_dir, endpoints={
        WITH_LENGTHS: (module.serve_with_lengths,
                       [series, tf.TensorSpec([None], tf.int32, name="lengths")])})
