"""Raw multichannel series (and labels) to the time-series backbone's inputs."""

import keras
import keras_hub
import tensorflow as tf
from keras_hub.src.utils.tensor_utils import preprocessing_function

from kasm_keras.data.time_series_data import padded_batch
from kasm_keras.models.time_series_classifier.backbone import TimeSeriesBackbone


@keras.saving.register_keras_serializable(package="kasm_keras")
class TimeSeriesClassifierPreprocessor(keras_hub.models.Preprocessor):
    """Packs raw series as the backbone takes them: `{"series": float32 [batch, time,
    channels], "padding_mask": bool [batch, time]}`, zero-padded at the end to the longest
    series, `padding_mask` True at the real steps. `y` and `sample_weight` pass through.

    It takes a `tf.RaggedTensor` `[batch, (length), channels]` (series of any lengths), a dense
    `[batch, time, channels]` batch (every step real), one series `[time, channels]` (so it
    maps over an unbatched `tf.data.Dataset`), or the packed dict itself, which passes as it
    is. Raw values stay raw: the per-channel standardisation with the training statistics is
    the backbone's first layer, so a saved or exported model standardises by itself and the
    statistics are weights, not configuration. The preprocessor holds nothing, so
    `TimeSeriesClassifier` saves none and makes a new one when loaded.

    Examples:
        >>> import numpy as np, tensorflow as tf
        >>> from kasm_keras.models.time_series_classifier.preprocessor import (
        ...     TimeSeriesClassifierPreprocessor)
        >>> preprocessor = TimeSeriesClassifierPreprocessor()
        >>> ragged = tf.ragged.constant([np.ones([3, 2]), np.ones([5, 2])], ragged_rank=1)
        >>> packed = preprocessor(ragged)
        >>> packed["series"].shape, packed["padding_mask"].shape
        (TensorShape([2, 5, 2]), TensorShape([2, 5]))
    """

    backbone_cls = TimeSeriesBackbone

    @preprocessing_function  # keras-hub's input and output conversions (NumPy under Grain)
    def call(self, x, y=None, sample_weight=None):
        return keras.utils.pack_x_y_sample_weight(pack_series(x), y, sample_weight)


def pack_series(x):
    """The backbone's input dict of series, as `TimeSeriesClassifierPreprocessor` packs them.

    Args:
        x: A `tf.RaggedTensor` `[batch, (length), channels]`, a dense batch
            `[batch, time, channels]`, one series `[time, channels]` or the packed dict.

    Returns:
        `{"series": float32 [batch, time, channels], "padding_mask": bool [batch, time]}`
        (without the batch axis for one series), zero-padded at the end to the longest series.

    Examples:
        >>> import numpy as np, tensorflow as tf
        >>> from kasm_keras.models.time_series_classifier.preprocessor import pack_series
        >>> ragged = tf.ragged.constant([np.ones([3, 2]), np.ones([5, 2])], ragged_rank=1)
        >>> pack_series(ragged)["padding_mask"].numpy()
        array([[ True,  True,  True, False, False],
               [ True,  True,  True,  True,  True]])
    """
    if isinstance(x, dict):
        return {"series": tf.cast(x["series"], tf.float32),
                "padding_mask": tf.cast(x["padding_mask"], tf.bool)}
    if not isinstance(x, tf.RaggedTensor):
        x = tf.convert_to_tensor(x, tf.float32)
        if x.shape.rank == 2:  # one series
            return {"series": x, "padding_mask": tf.ones(tf.shape(x)[:1], tf.bool)}
        x = tf.RaggedTensor.from_tensor(x)
    return padded_batch(tf.cast(x, tf.float32), channels=x.shape[-1])
