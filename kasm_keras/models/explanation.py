"""What the task models' `explain` methods share: the result they return, the float32 model
they explain with, and the traced run of `kasm_keras.layers.held_values.decompose`."""

import dataclasses
import functools

import numpy as np
import tensorflow as tf

from kasm_keras.layers import held_values


@dataclasses.dataclass
class Explanation:
    """One input's outputs, shared out exactly among its parts (`held_values`): summed over
    the parts, `contributions` plus `constant` is `logits`, to float32 rounding.

    Attributes:
        tokens: the input's tokens as the tokenizer writes them (unknown words as its
            unknown token); None for a time series, whose parts are (step, channel).
        contributions: float32 `[len(tokens), outputs]`, or `[time, channels, outputs]` for
            a time series: each part's share of each output.
        constant: float32 `[outputs]`: what no part brings (biases, the layer norm's beta, a
            time series' standardisation offset).
        logits: float32 `[outputs]`: the model's, before any softmax.
        class_names: one name per output: the classes, or a language model's target words.

    Examples:
        >>> import kasm_keras
        >>> classifier = kasm_keras.KernelTextClassifier.from_preset("ag_news/rkm_cifg_1gram")
        >>> [explanation] = classifier.explain("Oil prices rose as markets opened")
        >>> explanation.contributions.shape  # six tokens, four classes
        (6, 4)
        >>> explanation.completeness_error() < 1e-3
        True
    """

    tokens: list | None
    contributions: np.ndarray
    constant: np.ndarray
    logits: np.ndarray
    class_names: list

    def completeness_error(self):
        """How far the parts are from adding up to the logits (float32 rounding only).

        Returns:
            max over outputs of |sum of contributions + constant - logits|, a float.
        """
        parts = self.contributions.reshape(-1, self.contributions.shape[-1]).sum(0)
        return float(np.max(np.abs(parts + self.constant - self.logits), initial=0.0))


def float32_twin(task, rebuild):
    """`task` itself when it computes in float32; otherwise a float32 copy of it, made once by
    `rebuild()` and kept on the task, given the task's weights as they are now."""
    if task.backbone.dtype_policy.name == "float32":
        return task
    twin = getattr(task, "_float32_twin", None)
    if twin is None:
        twin = rebuild()
        _keep(task, "_float32_twin", twin)
    twin.set_weights([np.asarray(w, np.float32) for w in task.get_weights()])
    return twin


def decompose(model, forward, source, extras, feature_axes, num_outputs, mode="auto"):
    """`held_values.decompose(forward, ...)` as NumPy arrays, traced once per `model` (kept on
    it) and reused for any batch and length. `mode` "auto" picks the cheaper accumulation
    (`held_values.cheaper_mode`) from the number of sources of this batch."""
    if mode not in held_values.MODES:
        raise ValueError(f"mode must be one of {held_values.MODES}, got {mode!r}")
    source = tf.convert_to_tensor(source, tf.float32)
    if mode == "auto":
        sources = int(np.prod(source.shape[1:source.shape.rank - feature_axes]))
        mode = held_values.cheaper_mode(sources, num_outputs)
    functions = getattr(model, "_explanation_functions", None)
    if functions is None:
        functions = {}
        _keep(model, "_explanation_functions", functions)
    if forward.__name__ not in functions:
        functions[forward.__name__] = tf.function(
            functools.partial(held_values.decompose, forward), reduce_retracing=True)
    outputs = functions[forward.__name__](
        source, tuple(tf.convert_to_tensor(e) for e in extras), feature_axes, num_outputs, mode)
    return [np.asarray(o, np.float32) for o in outputs]


def _keep(model, name, value):
    """Sets an attribute that Keras does not track: the twin's weights are not the task's."""
    object.__setattr__(model, name, value)


def names_or_ids(class_names, count):
    """The class names, or the ids as strings where there are none."""
    return list(class_names) if class_names else [str(i) for i in range(count)]
