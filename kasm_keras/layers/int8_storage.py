"""Weight matrices stored as int8 with one float16 scale per column: how the zoo keeps a language
model's recurrent kernels small (`kasm_keras.zoo.compact_weights` writes them, `KernelCell` reads
them back as float32). Matrix "<i>" is stored as int8 and its scales as "<i>_scale", shaped
(1, columns) so that their product is the matrix."""

import numpy as np

SCALE_SUFFIX = "_scale"


def quantize(matrix):
    """(int8 values, float16 scales): each column scaled so its largest magnitude is 127."""
    matrix = np.asarray(matrix, dtype=np.float32)
    scales = np.maximum(np.abs(matrix).max(axis=0, keepdims=True), 1e-12) / 127.0
    scales = scales.astype(np.float16)
    values = np.clip(np.round(matrix / scales.astype(np.float32)), -127, 127).astype(np.int8)
    return values, scales


def read(store, count, where):
    """The `count` arrays of a layer's weight store as float32, int8 matrices rescaled; None when
    the store holds no int8 matrix (Keras' own loading reads it). `where` names the layer in
    errors."""
    keys = set(store.keys())
    scaled = {k[:-len(SCALE_SUFFIX)] for k in keys if k.endswith(SCALE_SUFFIX)}
    if not scaled:
        return None
    expected = {str(i) for i in range(count)}
    if keys != expected | {k + SCALE_SUFFIX for k in scaled} or not scaled <= expected:
        raise ValueError(f"{where}: the stored weights are {sorted(keys)}, but the layer has "
                         f"{count} variables (\"0\" to \"{count - 1}\", int8 ones with a "
                         f"\"<i>{SCALE_SUFFIX}\" each)")
    arrays = []
    for i in range(count):
        value = np.asarray(store[str(i)])
        if str(i) in scaled:
            scales = np.asarray(store[str(i) + SCALE_SUFFIX]).astype(np.float32)
            if value.dtype != np.int8 or value.ndim != 2 or scales.shape != (1, value.shape[1]):
                raise ValueError(f"{where}: stored variable {i} is {value.dtype} "
                                 f"{value.shape} with scales {scales.shape}; expected an int8 "
                                 "matrix and one scale per column")
            value = value.astype(np.float32) * scales
        arrays.append(value)
    return arrays
