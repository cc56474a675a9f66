"""Weights stored as int8 with a scale per column (or per row): how the zoo keeps entries small
(`kasm_keras.zoo.compact_weights` writes them). A cell's matrix "<i>" is stored as int8 and its
scales as "<i>_scale", shaped (1, columns) so that their product is the matrix; `KernelCell` reads
them back as float32 (`read`). Embedding rows use `quantize` too, in their layers' own layout."""

import numpy as np

SCALE_SUFFIX = "_scale"


def quantize(matrix, axis=0, scale_dtype=np.float32):
    """A matrix as int8 values and a scale per column (or per row), their product the matrix.

    Each slice along `axis` is scaled so its largest magnitude is 127 (a slice of zeros gets
    scale 1); the values are rounded against the scales as stored, so `values * scales` is
    what a reader gets back.

    Args:
        matrix: a 2-D array (converted to float32).
        axis: 0 for a scale per column, 1 for a scale per row.
        scale_dtype: the scales' NumPy dtype.

    Returns:
        `(values, scales)`: int8 values of `matrix`'s shape, and the scales with `axis` kept
            at size 1 (`(1, columns)` for axis 0), in `scale_dtype`.

    Examples:
        >>> import numpy as np
        >>> from kasm_keras.layers import int8_storage
        >>> values, scales = int8_storage.quantize([[1.0, 0.0], [-0.5, 0.0]])
        >>> values.tolist(), values.dtype, scales.shape
        ([[127, 0], [-64, 0]], dtype('int8'), (1, 2))
        >>> (values * scales).round(2).tolist()  # back, to rounding
        [[1.0, 0.0], [-0.5, 0.0]]
    """
    matrix = np.asarray(matrix, dtype=np.float32)
    largest = np.abs(matrix).max(axis=axis, keepdims=True)
    scales = np.where(largest > 0, largest / 127.0, 1.0).astype(scale_dtype)
    values = np.clip(np.round(matrix / scales.astype(np.float32)), -127, 127).astype(np.int8)
    return values, scales


def read(store, count, where):
    """The `count` arrays of a layer's weight store, int8 matrices rescaled to float32.

    Each array is read once. A store whose keys are not the layer's gives None, so that Keras'
    own loading then says what is wrong.

    Args:
        store: a layer's weight store (a mapping from "0", "1", ... and "<i>_scale" to arrays).
        count: how many variables the layer has.
        where: the layer (and file) that errors name.

    Returns:
        A list of `count` NumPy arrays (int8 ones rescaled to float32), or None.

    Raises:
        ValueError: the store holds scales, but its keys or shapes do not fit the layer.

    Examples:
        >>> import numpy as np
        >>> from kasm_keras.layers import int8_storage
        >>> values, scales = int8_storage.quantize([[1.0], [-0.5]])
        >>> store = {"0": values, "0_scale": scales, "1": np.zeros(1, "float32")}
        >>> [a.round(2).tolist() for a in int8_storage.read(store, 2, where="cell")]
        [[[1.0], [-0.5]], [0.0]]
    """
    keys = set(store.keys())
    scaled = {k[:-len(SCALE_SUFFIX)] for k in keys if k.endswith(SCALE_SUFFIX)}
    expected = {str(i) for i in range(count)}
    if not scaled and keys != expected:
        return None
    if keys != expected | {k + SCALE_SUFFIX for k in scaled} or not scaled <= expected:
        raise ValueError(f"{where}: the stored weights are {sorted(keys)}, but the layer has "
                         f"{count} variables (\"0\" up to \"{count - 1}\", each int8 one with "
                         f"its \"<i>{SCALE_SUFFIX}\")")
    values = []
    for i in range(count):
        value = np.asarray(store[str(i)])
        scales = np.asarray(store[str(i) + SCALE_SUFFIX]) if str(i) in scaled else None
        if (value.dtype == np.int8) != (scales is not None) or scales is not None and (
                value.ndim != 2 or scales.shape != (1, value.shape[1])):
            raise ValueError(f"{where}: stored variable {i} is {value.dtype} {value.shape} with "
                             f"scales {None if scales is None else scales.shape}; an int8 "
                             "matrix needs one scale per column, and only int8 has scales")
        if scales is not None:
            value = value.astype(np.float32) * scales.astype(np.float32)
        values.append(value)
    return values
