"""DropConnect on a weight matrix (Wan et al. 2013), which AWD-LSTM applies to the hidden-to-hidden
matrix once per batch (Merity et al. 2017, "Regularizing and Optimizing LSTM Language Models",
section 2): it regularises the recurrence without touching the fast recurrent loop."""

from keras import ops

from kasm_keras.regularizers.locked_dropout import check_rate, keep_mask


def drop_connect(kernel, rate, seed_generator):
    """DropConnect: `kernel` with each entry zeroed with probability `rate`, the rest scaled by
    1/(1-rate).

    One mask for the whole kernel (drawn in float32). Differentiable in `kernel`: the gradient
    is the mask times the gradient of the dropped kernel.

    Args:
        kernel: a weight tensor (or variable).
        rate: the probability of dropping an entry, in [0, 1); 0 returns `kernel` itself.
        seed_generator: the `keras.random.SeedGenerator` the mask comes from.

    Returns:
        A tensor of `kernel`'s shape and dtype.

    Raises:
        ValueError: `rate` is not in [0, 1).

    Examples:
        >>> import keras, numpy as np
        >>> from kasm_keras.regularizers import drop_connect
        >>> kernel = np.ones((8, 8), "float32")
        >>> dropped = drop_connect(kernel, 0.5, keras.random.SeedGenerator(0))
        >>> sorted(set(np.asarray(dropped).ravel().tolist()))
        [0.0, 2.0]
    """
    rate = check_rate("rate", rate)
    if rate == 0:
        return kernel
    mask = keep_mask(ops.shape(kernel), rate, seed_generator)
    return kernel * ops.cast(mask, kernel.dtype)
