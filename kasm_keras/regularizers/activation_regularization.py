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
    """AR: alpha * mean(h_t^2), a penalty to add to the loss.

    AWD applies it to the last layer's outputs after dropout, keeping outputs small without
    pulling the weights down.

    Args:
        outputs: the outputs h_t, `(batch, time, features)`.
        alpha: the penalty's weight.
        mask: a `(batch, time)` tensor, True at the steps to count (padded steps are left
            out of the mean), or None for all.

    Returns:
        A float32 scalar tensor; 0 when no step is unmasked.

    Examples:
        >>> import numpy as np
        >>> from kasm_keras.regularizers import activation_regularization
        >>> outputs = np.full((2, 3, 4), 3.0, "float32")
        >>> float(activation_regularization(outputs, alpha=2.0))  # 2 * 3^2
        18.0
    """
    outputs = ops.cast(outputs, "float32")
    return alpha * _masked_mean(ops.square(outputs), mask)


def temporal_activation_regularization(outputs, beta, mask=None):
    """TAR: beta * mean((h_t - h_{t-1})^2) over t >= 1, a penalty to add to the loss.

    AWD applies it to the last layer's outputs before dropout, penalising large changes of the
    hidden state between steps.

    Args:
        outputs: the outputs h_t, `(batch, time, features)`.
        beta: the penalty's weight.
        mask: a `(batch, time)` tensor, True at the real steps, or None for all; a pair of
            steps counts only if both are unmasked.

    Returns:
        A float32 scalar tensor; 0 when no pair is unmasked.

    Examples:
        >>> import numpy as np
        >>> from kasm_keras.regularizers import temporal_activation_regularization
        >>> outputs = np.array([[[0.0], [1.0], [3.0]]], "float32")  # changes of 1 and 2
        >>> float(temporal_activation_regularization(outputs, beta=1.0))  # (1 + 4) / 2
        2.5
        >>> float(temporal_activation_regularization(
        ...     outputs, beta=1.0, mask=np.array([[True, True, False]])))
        1.0
    """
    outputs = ops.cast(outputs, "float32")
    changes = ops.square(outputs[:, 1:] - outputs[:, :-1])
    if mask is not None:
        mask = ops.cast(mask, "bool")
        mask = ops.logical_and(mask[:, 1:], mask[:, :-1])
    return beta * _masked_mean(changes, mask)
