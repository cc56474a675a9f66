"""Weight matrices stored as int8 with one float32 scale per column: how the zoo keeps a language
model's recurrent kernels small (`kasm_keras.zoo.compact_weights` writes them, `KernelCell` reads
them back as float32). Matrix "<i>" is stored as int8 and its scales as "<i>_scale", shaped
(1, columns) so that their product is the matrix."""

import numpy as np

SCALE_SUFFIX = "_scale"


def quantize(matrix):
    """(int8 values, float32 scales): each column scaled so its largest magnitude is 127 (a column
    of zeros gets scale 1)."""
    matrix = np.asarray(matrix, dtype=np.float32)
    largest = np.abs(matrix).max(axis=0, keepdims=True)
    scales = np.where(largest > 0, largest / 127.0, 1.0).astype(np.float32)
    values = np.clip(np.round(matrix / scales), -127, 127).astype(np.int8)
    return values, scales


def read(store, count, where):
    """The `count` arrays of a layer's weight store as float32, int8 matrices rescaled; None when
    the store holds no int8 array (Keras' own loading reads it). `where` names the layer (and
    file) in errors."""
    keys = set(store.keys())
    arrays = {k: np.asarray(store[k]) for k in keys}
    scaled = {k[:-len(SCALE_SUFFIX)] for k in keys if k.endswith(SCALE_SUFFIX)}
    if not scaled and not any(a.dtype == np.int8 for a in arrays.values()):
        return None
    expected = {str(i) for i in range(count)}
    if keys != expected | {k + SCALE_SUFFIX for k in scaled} or not scaled <= expected:
        raise ValueError(f"{where}: the stored weights are {sorted(keys)}, but the layer has "
                         f"{count} variables (\"0\" up to \"{count - 1}\", each int8 one with "
                         f"its \"<i>{SCALE_SUFFIX}\")")
    values = []
    for i in range(count):
        value = arrays[str(i)]
        scales = arrays.get(str(i) + SCALE_SUFFIX)
        if (value.dtype == np.int8) != (scales is not None) or scales is not None and (
                value.ndim != 2 or scales.shape != (1, value.shape[1])):
            raise ValueError(f"{where}: stored variable {i} is {value.dtype} {value.shape} with "
                             f"scales {None if scales is None else scales.shape}; an int8 "
                             "matrix needs one scale per column, and only int8 has scales")
        if scales is not None:
            value = value.astype(np.float32) * scales.astype(np.float32)
        values.append(value)
    return values
