"""Table 1 of Liang et al. (2019), written out step by step in NumPy, independently of the library.

Kernel layout (the one convention shared with the library): the rows of W are the lags of the
window, most recent first ([x_t, x_{t-1}, ...]); the columns are the weight blocks in Keras'
LSTM order (input, forget, candidate, output), keeping only those a variant has.
"""

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _lstm(z, c, s_i, s_f):
    i, f, g, o = np.split(z, 4, axis=-1)
    return sigmoid(i) * np.tanh(g) + sigmoid(f) * c, lambda c: sigmoid(o) * np.tanh(c)


def _rkm_lstm(z, c, s_i, s_f):
    i, f, g, o = np.split(z, 4, axis=-1)
    return sigmoid(i) * g + sigmoid(f) * c, lambda c: sigmoid(o) * c


def _rkm_cifg(z, c, s_i, s_f):
    f, g, o = np.split(z, 3, axis=-1)
    return (1.0 - sigmoid(f)) * g + sigmoid(f) * c, lambda c: sigmoid(o) * c


def _linear_kernel_ot(z, c, s_i, s_f):
    g, o = np.split(z, 2, axis=-1)
    return s_i * g + s_f * c, lambda c: sigmoid(o) * c


def _linear_kernel(z, c, s_i, s_f):
    return s_i * z + s_f * c, np.tanh


def _gated_cnn(z, c, s_i, s_f):
    g, o = np.split(z, 2, axis=-1)
    return s_i * g, lambda c: sigmoid(o) * c


def _cnn(z, c, s_i, s_f):
    return s_i * z, np.tanh


EQUATIONS = {
    "lstm": (_lstm, True),
    "rkm_lstm": (_rkm_lstm, True),
    "rkm_cifg": (_rkm_cifg, True),
    "linear_kernel_ot": (_linear_kernel_ot, True),
    "linear_kernel": (_linear_kernel, True),
    "gated_cnn": (_gated_cnn, False),
    "cnn": (_cnn, False),
}


def layer_norm(c, gamma, beta, eps):
    mean = c.mean(-1, keepdims=True)
    var = ((c - mean) ** 2).mean(-1, keepdims=True)
    return (c - mean) / np.sqrt(var + eps) * gamma + beta


def run(variant, x, W, b, U=None, mask=None, ngram=1, padding="causal", s_i=0.5, s_f=0.5,
        gamma=None, beta=None, eps=1e-5, h0=None, c0=None):
    """Returns (outputs (B, T, d), h_T, c_T); masked steps keep the state and repeat the output."""
    equation, recurrent = EQUATIONS[variant]
    x = np.asarray(x, np.float64)
    B, T, m = x.shape
    d = U.shape[0] if U is not None else _units(variant, W)
    mask = np.ones((B, T), bool) if mask is None else np.asarray(mask, bool)
    x = np.where(mask[..., None], x, 0.0)
    ahead = 0 if padding == "causal" else ngram - 1 - (ngram - 1) // 2
    h = np.zeros((B, d)) if h0 is None else np.array(h0, np.float64)
    c = np.zeros((B, d)) if c0 is None else np.array(c0, np.float64)
    outputs = np.zeros((B, T, d))
    for t in range(T):
        lags = [t + ahead - j for j in range(ngram)]
        window = np.concatenate([x[:, s] if 0 <= s < T else np.zeros((B, m)) for s in lags], -1)
        z = window @ W + b
        if recurrent:
            z = z + h @ U
        c_new, output = equation(z, c, s_i, s_f)
        if gamma is not None:
            c_new = layer_norm(c_new, gamma, beta, eps)
        h_new = output(c_new)
        keep = mask[:, t][:, None]
        h = np.where(keep, h_new, h)
        c = np.where(keep, c_new, c)
        outputs[:, t] = h
    return outputs, h, c


def _units(variant, W):
    blocks = {"lstm": 4, "rkm_lstm": 4, "rkm_cifg": 3, "linear_kernel_ot": 2, "linear_kernel": 1,
              "gated_cnn": 2, "cnn": 1}[variant]
    return W.shape[1] // blocks
