"""Activation regularisation (AR) and temporal activation regularisation (TAR): L2 penalties on
the last layer's outputs and on their step-to-step changes (Merity et al. 2017, "Regularizing and
Optimizing LSTM Language Models", section 4.6; Merity, McCann and Socher 2017)."""

from keras import ops


def _masked_mean(values, mask):
    """Mean of `values` (batch, time, features) over the unmasked (batch, time) entries; 0 when
    there are none (AWD's mean would be NaN there)."""
    if mask is None:
        return ops.divide_no_nan(ops.sum(values), ops.cast(ops.size(values), values.dtype))
    weights = ops.cast(mask, values.dtype)
    features = ops.cast(ops.shape(values)[-1], values.dtype)
    return ops.divide_no_nan(ops.sum(values * weights[:, :, None]), ops.sum(weights) * features)


def activation_regularization(outputs, alpha, mask=None):
    """AR: alpha * mean(h_t^2) over `outputs` (batch, time, features), float32 scalar.

    AWD applies it to the last layer's outputs after dropout, keeping outputs small without
    pulling the weights down. `mask` (batch, time) leaves padded steps out of the mean.
    """
    outputs = ops.cast(outputs, "float32")
    return alpha * _masked_mean(ops.square(outputs), mask)


def temporal_activation_regularization(outputs, beta, mask=None):
    """TAR: beta * mean((h_t - h_{t-1})^2) over t >= 1 of `outputs` (batch, time, features),
    float32 scalar.

    AWD applies it to the last layer's outputs before dropout, penalising large changes of the
    hidden state between steps. With `mask` (batch, time) a pair counts only if both of its
    steps are unmasked.
    """
    outputs = ops.cast(outputs, "float32")
    changes = ops.square(outputs[:, 1:] - outputs[:, :-1])
    if mask is not None:
        mask = ops.cast(mask, "bool")
        mask = ops.logical_and(mask[:, 1:], mask[:, :-1])
    return beta * _masked_mean(changes, mask)
