"""Variational ("locked") dropout: one mask per sequence, reused at every time step, as AWD-LSTM
applies to embeddings and between layers (Merity et al. 2017, "Regularizing and Optimizing LSTM
Language Models", section 4.2; Gal and Ghahramani 2016)."""

import keras
from keras import ops


def check_rate(name, rate):
    """A dropout rate, checked to be in [0, 1): a rate of 1 would drop everything and scale by
    infinity.

    Args:
        name: the argument's name, for the error.
        rate: the rate given.

    Returns:
        `rate` as a float.

    Raises:
        ValueError: `rate` is not in [0, 1).

    Examples:
        >>> from kasm_keras.regularizers.locked_dropout import check_rate
        >>> check_rate("dropout", 0)
        0.0
    """
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {name}={rate!r}")
    return float(rate)


def keep_mask(shape, rate, seed_generator):
    """A dropout mask: 0 or 1/(1-rate) per entry, so the kept entries keep the mean.

    It is drawn in float32 whatever the compute dtype, so a 16-bit policy drops the same
    entries as float32 does.

    Args:
        shape: the mask's shape.
        rate: the probability of 0, in [0, 1).
        seed_generator: the `keras.random.SeedGenerator` the draw comes from.

    Returns:
        A float32 tensor of `shape`.

    Examples:
        >>> import keras, numpy as np
        >>> from kasm_keras.regularizers.locked_dropout import keep_mask
        >>> mask = keep_mask((100,), 0.5, keras.random.SeedGenerator(0))
        >>> sorted(set(np.asarray(mask).tolist()))
        [0.0, 2.0]
    """
    keep = keras.random.uniform(shape, dtype="float32", seed=seed_generator) >= rate
    return ops.where(keep, 1.0 / (1.0 - rate), 0.0)


@keras.saving.register_keras_serializable(package="kasm_keras")
class LockedDropout(keras.layers.Layer):
    """Dropout over `(batch, time, features)` with one mask of shape `(batch, 1, features)`.

    A unit dropped for a sequence is dropped at all its steps, so the network cannot recover it
    from neighbouring steps, which is what makes dropout work on recurrent connections. Kept
    entries are scaled by 1/(1-rate), so inference (and rate 0) is the identity. A Keras mask
    passes through unchanged.

    Args:
        rate: fraction of features dropped, in [0, 1).
        seed: seed of the layer's `keras.random.SeedGenerator` (its state is in the layer's
            variables, so a checkpoint resumes the masks).
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`).

    Call arguments:
        - `inputs`: a `(batch, time, features)` tensor.
        - `training`: whether to drop; otherwise the inputs pass unchanged.

    Returns:
        A tensor of the inputs' shape and dtype.

    Examples:
        >>> import numpy as np
        >>> from kasm_keras.regularizers import LockedDropout
        >>> layer = LockedDropout(0.5, seed=0)
        >>> x = np.ones((2, 4, 8), "float32")
        >>> y = layer(x, training=True).numpy()
        >>> bool((y == y[:, :1]).all())  # one mask for every step
        True
        >>> bool((layer(x).numpy() == x).all())  # not training: the identity
        True
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = check_rate("rate", rate)
        self.seed = seed
        if self.rate > 0:
            self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True
        self._build_at_init()

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        shape = ops.shape(inputs)
        mask_shape = (shape[0],) + (1,) * (len(shape) - 2) + (shape[-1],)
        mask = keep_mask(mask_shape, self.rate, self.seed_generator)
        return inputs * ops.cast(mask, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
