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

    Args:
        tokens: the input's tokens as the tokenizer writes them (unknown words as its
            unknown token); None for a time series, whose parts are (step, channel).
        contributions: float32 (float64 if asked) `[len(tokens), outputs]`, or `[time,
            channels, outputs]` for a time series: each part's share of each output explained.
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
    """The model an `explain` computes with, in the dtype asked for.

    float32 unless asked: float64 is for models whose shares are far larger than their logits
    (see the explanations guide).

    Args:
        task: the model explained.
        dtype: "float32" or "float64".
        rebuild: a function of a dtype that makes a copy of `task` in it.

    Returns:
        `task` itself when it computes in `dtype`; otherwise its copy in `dtype`, made once
            by `rebuild(dtype)` and kept on the task, given the task's weights as they are now.

    Raises:
        ValueError: `dtype` is not one of `DTYPES`.

    Examples:
        >>> from kasm_keras import zoo
        >>> classifier = zoo.load("ag_news/rkm_cifg_1gram")
        >>> model = twin(classifier, "float64",
        ...              lambda dtype: classifier.rebuilt(activation=None, dtype=dtype))
        >>> model.backbone.dtype_policy.name
        'float64'
        >>> twin(classifier, "float32", None) is classifier
        True
    """
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
    """Runs `held_values.decompose(forward, ...)` as a traced function, results as NumPy.

    The function is traced once per `model` and `forward` (kept on the model) and reused for
    any batch and length.

    Args:
        model: the model that keeps the traced function.
        forward: the network from the sources to the outputs, as `held_values.decompose`
            takes it.
        source: the inputs shared out, `[batch, ..., features]`.
        extras: more tensors `forward` takes (masks, offsets), a sequence.
        feature_axes: how many trailing axes of `source` are one source's features.
        num_outputs: how many outputs the model has.
        mode: an accumulation of `held_values.MODES`; "auto" picks the cheaper
            (`held_values.cheaper_mode`) from the number of sources of this batch and of
            outputs chosen.
        chosen: the outputs explained: `[batch, k]` output ids, `held_values.TOP` (each
            row's largest), or None for all.

    Returns:
        `held_values.decompose`'s outputs, a list of NumPy arrays.

    Raises:
        ValueError: `mode` is not one of `held_values.MODES`.

    Examples:
        >>> import numpy as np, tensorflow as tf
        >>> from kasm_keras import zoo
        >>> classifier = zoo.load("ag_news/rkm_cifg_1gram")
        >>> inputs = classifier.preprocessor(tf.constant(["Oil prices rose"]))
        >>> mask = tf.cast(inputs["padding_mask"], tf.bool)
        >>> source = classifier.backbone.token_embedding(inputs["token_ids"])
        >>> offset = tf.zeros_like(source[:, :1, :1])
        >>> contributions, constant, logits = decompose(
        ...     classifier, classifier.held_logits, source, (mask, offset), 1, 4)
        >>> contributions.shape, constant.shape, logits.shape
        ((1, 128, 4), (1, 4), (1, 4))
        >>> np.allclose(contributions.sum(1) + constant, logits, atol=1e-3)
        True
    """
    if mode not in held_values.MODES:
        raise ValueError(f"mode must be one of {held_values.MODES}, got {mode!r}")
    source = tf.convert_to_tensor(source)
    if chosen is not None and not held_values.is_top(chosen):
        chosen = tf.convert_to_tensor(chosen, tf.int32)
    if mode == "auto":
        sources = int(np.prod(source.shape[1:source.shape.rank - feature_axes]))
        explained = (num_outputs if chosen is None else 1 if held_values.is_top(chosen)
                     else int(chosen.shape[1]))
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

    Raises:
        ValueError: `classes` is empty or names an unknown class.

    Examples:
        >>> chosen_outputs("Sports", ["World", "Sports"], rows=2).tolist()
        [[1], [1]]
        >>> chosen_outputs("predicted", ["World", "Sports"], rows=2)
        'top'
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
    """Each row's explained output ids, from `chosen_outputs`' choice and the logits.

    Args:
        chosen: what `chosen_outputs` returned.
        logits: `[rows, outputs]`; with `held_values.TOP`, each row's largest is explained.

    Returns:
        The ids, a NumPy array `[rows, k]`.

    Examples:
        >>> import numpy as np
        >>> explained_ids("top", np.array([[0.1, 2.0], [3.0, -1.0]])).tolist()
        [[1], [0]]
    """
    if chosen is None:
        return np.tile(np.arange(logits.shape[-1]), (len(logits), 1))
    if held_values.is_top(chosen):
        return np.argmax(logits, axis=-1)[:, None]
    return np.asarray(chosen)


def names_or_ids(class_names, count):
    """The class names, or the ids as strings where there are none.

    Args:
        class_names: the classes' names in id order, or None.
        count: the number of classes.

    Returns:
        A list of strings.

    Examples:
        >>> names_or_ids(None, 3)
        ['0', '1', '2']
    """
    return list(class_names) if class_names else [str(i) for i in range(count)]
