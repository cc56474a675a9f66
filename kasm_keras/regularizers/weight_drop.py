"""DropConnect on a weight matrix (Wan et al. 2013), which AWD-LSTM applies to the hidden-to-hidden
matrix once per batch (Merity et al. 2017, "Regularizing and Optimizing LSTM Language Models",
section 2): it regularises the recurrence without touching the fast recurrent loop."""

from keras import ops

from kasm_keras.regularizers.locked_dropout import check_rate, keep_mask


def drop_connect(kernel, rate, seed_generator):
    """`kernel` with each entry zeroed with probability `rate` and the rest scaled by 1/(1-rate),
    one mask for the whole kernel (drawn in float32). Differentiable in `kernel`: the gradient
    is the mask times the gradient of the dropped kernel. Rate 0 returns `kernel`."""
    rate = check_rate("rate", rate)
    if rate == 0:
        return kernel
    mask = keep_mask(ops.shape(kernel), rate, seed_generator)
    return kernel * ops.cast(mask, kernel.dtype)
