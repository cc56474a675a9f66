"""Weights stored as int8 with a scale per column (or per row): how the zoo keeps entries small
(`kasm_keras.zoo.compact_weights` writes them). A cell's matrix "<i>" is stored as int8 and its
scales as "<i>_scale", shaped (1, columns) so that their product is the matrix; `KernelCell` reads
them back as float32 (`read`). Embedding rows use `quantize` too, in their layers' own layout."""

import numpy as np

SCALE_SUFFIX = "_scale"


def quantize(matrix, axis=0, scale_dtype=np.float32):
    """(int8 values, scales): each slice along `axis` (0: each column, 1: each row) scaled so its
    largest magnitude is 127 (a slice of zeros gets scale 1); the scales keep their axis of size
    1, in `scale_dtype`, and the values are rounded against the scales as stored."""
    matrix = np.asarray(matrix, dtype=np.float32)
    largest = np.abs(matrix).max(axis=axis, keepdims=True)
    scales = np.where(largest > 0, largest / 127.0, 1.0).astype(scale_dtype)
    values = np.clip(np.round(matrix / scales.astype(np.float32)), -127, 127).astype(np.int8)
    return values, scales


def read(store, count, where):
    """The `count` arrays of a layer's weight store, int8 matrices rescaled to float32, each read
    once; None when the store's keys are not the layer's (Keras' own loading then says what is
    wrong). `where` names the layer (and file) in errors."""
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
