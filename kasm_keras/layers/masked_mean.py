"""The pooling both classifier families use: a mean over a sequence's unmasked steps."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kasm_keras")
class MaskedMean(keras.layers.Layer):
    """Mean over the unmasked time steps; an all-masked (empty) document gives zeros, not NaN.

    Both classifier families pool their recurrent layer's sequence of h'_t with it, so padding
    never enters the document's vector.

    Args:
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`).

    Call arguments:
        - `inputs`: a `(batch, time, features)` tensor.
        - `mask`: a boolean `(batch, time)` tensor, True at the steps to average, or None for all.

    Returns:
        A `(batch, features)` tensor.

    Examples:
        >>> import numpy as np, kasm_keras
        >>> x = np.ones((2, 3, 4), "float32")
        >>> mask = np.array([[True, True, False], [False, False, False]])
        >>> kasm_keras.MaskedMean()(x, mask=mask).numpy()[:, 0]
        array([1., 0.], dtype=float32)
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.mean(inputs, axis=1)
        weights = ops.cast(mask, inputs.dtype)[:, :, None]
        total = ops.sum(inputs * weights, axis=1)
        return total / ops.maximum(ops.sum(weights, axis=1), 1.0)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])
