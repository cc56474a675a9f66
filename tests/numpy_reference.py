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


# ---------------------------------------------------------------- the kernel view (issue 28)
# The same cells with every sigmoid gate, the layer norm's 1/sigma and each tanh's secant
# tanh(a)/a held at their values, carried as parts: axis 1 of every "parts" array holds one
# slot per token and a last slot for the constant (biases, beta). Each function takes the real
# pre-activations z, their parts zp [B, P, k d] and the previous cell's parts cp, and returns
# the real c_t, its parts, and the output map (real c, parts) -> (real h, parts).


def secant(a):
    safe = np.where(a == 0, 1.0, a)
    return np.where(a == 0, 1.0, np.tanh(safe) / safe)


def _gated_output(o):
    return lambda c, cp: (sigmoid(o) * c, sigmoid(o)[:, None] * cp)


def _tanh_output(c, cp):
    return np.tanh(c), secant(c)[:, None] * cp


def _held_lstm(z, zp, c, cp, s_i, s_f):
    i, f, g, o = np.split(z, 4, -1)
    gp = np.split(zp, 4, -1)[2]
    i, f = sigmoid(i), sigmoid(f)
    new = i * np.tanh(g) + f * c
    parts = (i * secant(g))[:, None] * gp + f[:, None] * cp
    return new, parts, lambda c, cp: (sigmoid(o) * np.tanh(c), (sigmoid(o) * secant(c))[:, None] * cp)


def _held_rkm_lstm(z, zp, c, cp, s_i, s_f):
    i, f, g, o = np.split(z, 4, -1)
    gp = np.split(zp, 4, -1)[2]
    i, f = sigmoid(i), sigmoid(f)
    return i * g + f * c, i[:, None] * gp + f[:, None] * cp, _gated_output(o)


def _held_rkm_cifg(z, zp, c, cp, s_i, s_f):
    f, g, o = np.split(z, 3, -1)
    gp = np.split(zp, 3, -1)[1]
    f = sigmoid(f)
    return (1 - f) * g + f * c, (1 - f)[:, None] * gp + f[:, None] * cp, _gated_output(o)


def _held_linear_kernel_ot(z, zp, c, cp, s_i, s_f):
    g, o = np.split(z, 2, -1)
    gp = np.split(zp, 2, -1)[0]
    return s_i * g + s_f * c, s_i * gp + s_f * cp, _gated_output(o)


def _held_linear_kernel(z, zp, c, cp, s_i, s_f):
    return s_i * z + s_f * c, s_i * zp + s_f * cp, _tanh_output


def _held_gated_cnn(z, zp, c, cp, s_i, s_f):
    g, o = np.split(z, 2, -1)
    gp = np.split(zp, 2, -1)[0]
    return s_i * g, s_i * gp, _gated_output(o)


def _held_cnn(z, zp, c, cp, s_i, s_f):
    return s_i * z, s_i * zp, _tanh_output


HELD = {"lstm": (_held_lstm, True), "rkm_lstm": (_held_rkm_lstm, True),
        "rkm_cifg": (_held_rkm_cifg, True), "linear_kernel_ot": (_held_linear_kernel_ot, True),
        "linear_kernel": (_held_linear_kernel, True), "gated_cnn": (_held_gated_cnn, False),
        "cnn": (_held_cnn, False)}


def held_run(variant, x, W, b, U=None, mask=None, ngram=1, s_i=0.5, s_f=0.5, gamma=None,
             beta=None, eps=1e-5, x_parts=None):
    """The causal sequence layer run with held values, its input split into parts.

    `x_parts` [B, P, T, m] splits x among P - 1 sources (its last slot, the constant's, holds
    what belongs to none); by default token s alone is source s. Returns (outputs [B, T, d],
    output parts [B, P, T, d]) with the parts summing to the outputs."""
    held, recurrent = HELD[variant]
    x = np.asarray(x, np.float64)
    B, T, m = x.shape
    mask = np.ones((B, T), bool) if mask is None else np.asarray(mask, bool)
    x = np.where(mask[..., None], x, 0.0)
    if x_parts is None:
        x_parts = np.zeros((B, T + 1, T, m))
        x_parts[:, np.arange(T), np.arange(T)] = x
    x_parts = np.where(mask[:, None, :, None], x_parts, 0.0)
    P = x_parts.shape[1]
    d = _units(variant, W)
    h, c = np.zeros((B, d)), np.zeros((B, d))
    hp, cp = np.zeros((B, P, d)), np.zeros((B, P, d))
    outputs, output_parts = np.zeros((B, T, d)), np.zeros((B, P, T, d))
    for t in range(T):
        z = np.broadcast_to(b, (B, len(b))).copy()
        zp = np.zeros((B, P, len(b)))
        zp[:, -1] = b
        for j in range(ngram):
            if t - j >= 0:
                Wj = W[j * m:(j + 1) * m]
                z += x[:, t - j] @ Wj
                zp += x_parts[:, :, t - j] @ Wj
        if recurrent:
            z, zp = z + h @ U, zp + hp @ U
        c_new, cp_new, output = held(z, zp, c, cp, s_i, s_f)
        if gamma is not None:
            centred = c_new - c_new.mean(-1, keepdims=True)
            rstd = 1.0 / np.sqrt((centred ** 2).mean(-1, keepdims=True) + eps)
            c_new = centred * rstd * gamma + beta
            cp_new = (cp_new - cp_new.mean(-1, keepdims=True)) * rstd[:, None] * gamma
            cp_new[:, -1] += beta
        h_new, hp_new = output(c_new, cp_new)
        keep = mask[:, t][:, None]
        h, c = np.where(keep, h_new, h), np.where(keep, c_new, c)
        hp, cp = np.where(keep[:, None], hp_new, hp), np.where(keep[:, None], cp_new, cp)
        outputs[:, t], output_parts[:, :, t] = h, hp
    return outputs, output_parts


def held_head(pooled, pooled_parts, W1, b1, W2, b2):
    """Dense(ReLU) -> Dense on pooled [B, d] and its parts [B, P, d], the ReLU's mask held:
    (logits [B, C], their parts [B, P, C])."""
    hidden = pooled @ W1 + b1
    on = (hidden > 0).astype(np.float64)
    hidden_parts = pooled_parts @ W1
    hidden_parts[:, -1] += b1
    logits_parts = (on[:, None] * hidden_parts) @ W2
    logits_parts[:, -1] += b2
    return (on * hidden) @ W2 + b2, logits_parts
