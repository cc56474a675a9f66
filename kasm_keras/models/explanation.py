"""What the task models' `explain` methods share: the result they return, the float32 (or
float64) model they explain with, the outputs they explain, and the traced run of
`kasm_keras.layers.held_values.decompose`."""

import dataclasses
import functools

import numpy as np
import tensorflow as tf

from kasm_keras.layers import held_values


@dataclasses.dataclass
class Explanation:
    """One input's outputs, shared out exactly among its parts (`held_values`): summed over
    the parts, `contributions` plus `constant` is `logits`, to the rounding of the dtype the
    explanation computed in (float32 unless `explain(dtype="float64")`).

    Attributes:
        tokens: the input's tokens as the tokenizer writes them (unknown words as its
            unknown token); None for a time series, whose parts are (step, channel).
        contributions: float32 (float64 if asked) `[len(tokens), outputs]`, or `[time, channels, outputs]` for
            a time series: each part's share of each output explained.
        constant: `[outputs]`: what no part brings (biases, the layer norm's beta, a
            time series' standardisation offset).
        logits: `[outputs]`: the model's logits of the outputs explained, before any
            softmax.
        class_names: one name per output explained: classes, or a language model's target
            words.

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
        """How far the parts are from adding up to the logits (rounding only).

        Returns:
            max over outputs of |sum of contributions + constant - logits|, a float.
        """
        parts = self.contributions.reshape(-1, self.contributions.shape[-1]).sum(0)
        return float(np.max(np.abs(parts + self.constant - self.logits), initial=0.0))


DTYPES = ("float32", "float64")


def twin(task, dtype, rebuild):
    """The model an `explain` computes with: `task` itself when it computes in `dtype`;
    otherwise a copy in `dtype`, made once by `rebuild(dtype)` and kept on the task, given the
    task's weights as they are now. float32 unless asked: float64 is for models whose shares
    are far larger than their logits (see the explanations guide)."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    if task.backbone.dtype_policy.name == dtype:
        return task
    twins = getattr(task, "_explanation_twins", None)
    if twins is None:
        twins = {}
        _keep(task, "_explanation_twins", twins)
    if dtype not in twins:
        twins[dtype] = rebuild(dtype)
    twins[dtype].set_weights([np.asarray(w, dtype) for w in task.get_weights()])
    return twins[dtype]


def decompose(model, forward, source, extras, feature_axes, num_outputs, mode="auto",
              chosen=None):
    """`held_values.decompose(forward, ...)` as NumPy arrays, traced once per `model` (kept on
    it) and reused for any batch and length. `mode` "auto" picks the cheaper accumulation
    (`held_values.cheaper_mode`) from the number of sources of this batch and of outputs
    chosen (`chosen`: `[batch, k]` output ids, `held_values.TOP` or None for all)."""
    if mode not in held_values.MODES:
        raise ValueError(f"mode must be one of {held_values.MODES}, got {mode!r}")
    source = tf.convert_to_tensor(source)
    rows = int(source.shape[0])
    if chosen is None:
        chosen = np.tile(np.arange(num_outputs, dtype=np.int32), (rows, 1))
    if not (isinstance(chosen, str) and chosen == held_values.TOP):
        chosen = tf.convert_to_tensor(chosen, tf.int32)
    if mode == "auto":
        sources = int(np.prod(source.shape[1:source.shape.rank - feature_axes]))
        explained = 1 if isinstance(chosen, str) else int(chosen.shape[1])
        mode = held_values.cheaper_mode(sources, explained)
    functions = getattr(model, "_explanation_functions", None)
    if functions is None:
        functions = {}
        _keep(model, "_explanation_functions", functions)
    if forward.__name__ not in functions:
        functions[forward.__name__] = tf.function(
            functools.partial(held_values.decompose, forward), reduce_retracing=True)
    outputs = functions[forward.__name__](
        source, tuple(tf.convert_to_tensor(e) for e in extras), feature_axes, num_outputs, mode,
        chosen)
    return [np.asarray(o) for o in outputs]


def _keep(model, name, value):
    """Sets an attribute that Keras does not track: the twin's weights are not the task's."""
    object.__setattr__(model, name, value)


def chosen_outputs(classes, names, rows):
    """The outputs a classifier's `explain(classes=...)` asks for, as `decompose` takes them.

    Args:
        classes: None (every class), "predicted" (each input's most likely class), or a class
            name or id, or a list of them.
        names: the classifier's class names (ids as strings where it has none).
        rows: the batch's size.

    Returns:
        None, `held_values.TOP`, or int32 `[rows, k]`.
    """
    if classes is None:
        return None
    if isinstance(classes, str) and classes == "predicted":
        return held_values.TOP
    wanted = [classes] if isinstance(classes, (str, int, np.integer)) else list(classes)
    if not wanted:
        raise ValueError("classes is empty; give None for every class")
    ids = []
    for name in wanted:
        if isinstance(name, str) and name in names:
            ids.append(names.index(name))
        elif isinstance(name, (int, np.integer)) and not isinstance(name, bool) and \
                0 <= name < len(names):
            ids.append(int(name))
        else:
            raise ValueError(f"unknown class {name!r}: classes are None, 'predicted', or names "
                             f"or ids of {names}")
    return np.tile(np.asarray(ids, np.int32), (rows, 1))


def explained_ids(chosen, logits):
    """Each row's explained output ids, from `chosen_outputs`' choice and the logits."""
    if chosen is None:
        return np.tile(np.arange(logits.shape[-1]), (len(logits), 1))
    if isinstance(chosen, str):
        return np.argmax(logits, axis=-1)[:, None]
    return np.asarray(chosen)


def names_or_ids(class_names, count):
    """The class names, or the ids as strings where there are none."""
    return list(class_names) if class_names else [str(i) for i in range(count)]
