"""The pooling both classifier families use: a mean over a sequence's unmasked steps."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kasm_keras")
class MaskedMean(keras.layers.Layer):
    """Mean over the unmasked time steps; an all-masked (empty) document gives zeros, not NaN."""

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
