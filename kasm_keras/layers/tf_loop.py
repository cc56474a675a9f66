"""The sequential variants' time loop on TensorFlow, with its backward pass written out.

TensorFlow's automatic gradient of a `while_loop` runs, at every step of the backward loop, the
gradient of every forward op: a small `h_{t-1}^T dz_t` matmul for dU, broadcast bookkeeping for
each elementwise op, and a push and pop for each intermediate. Here the forward loop keeps h'_{t-1}
and only the activations the hand-derived gradient reads (`_saved_keys`); the backward loop
carries dh'_t and dc_t through `dz_t U^T` (U^T transposed once, not at every step). dU is then
one large product over all steps, and the layer norm's gain and bias gradients are added up
elementwise in the loop and reduced over the batch once.

The forward step is `KernelCell.update` itself; the backward step is its derivative, read from
the same variant data (`Variant.blocks`, `input_scale`, `memory`, the activations). The tests
hold this loop to Keras' automatic gradient of `backend.rnn`.
"""

import tensorflow as tf


def _saved_keys(spec, params):
    """What the backward pass reads of each forward step (the rest it never needs)."""
    keys = []
    if spec.output_gate:
        keys += ["o", "a"]
    elif spec.output_activation == "tanh":
        keys.append("a")
    if "gamma" in params:
        keys += ["xhat", "rstd"]
    if (spec.candidate_activation == "tanh" or spec.input_scale != "sigma"
            or "s_i" in params.get("learned", ())):
        keys.append("cand")
    if spec.input_scale == "gate":
        keys.append("i")
    if "forget" in spec.blocks:
        keys.append("f")
    if spec.memory == "gate" or "s_f" in params.get("learned", ()):
        keys.append("c_prev")
    return keys


UNROLL = 4


def _steps(count, step, state, reverse=False):
    """`state = step(t, state)` for t in 0..count-1 (or back down), `UNROLL` steps per iteration.

    Each loop variable costs a handful of control ops per iteration of a `while_loop`;
    unrolling shares them between steps. The steps left over run one per iteration in a second
    loop.
    """
    blocks = count // UNROLL

    def block(i, state):
        for j in range(UNROLL):
            t = i * UNROLL + j
            state = step(count - 1 - t if reverse else t, state)
        return i + 1, state

    def single(t, state):
        return t + 1, step(count - 1 - t if reverse else t, state)

    _, state = tf.while_loop(lambda i, _: i < blocks, block, (0, state))
    _, state = tf.while_loop(lambda t, _: t < count, single, (blocks * UNROLL, state))
    return state


def _sigmoid_grad(y, dy):
    """dy * y * (1 - y) in one op."""
    return tf.raw_ops.SigmoidGrad(y=y, dy=dy)


def _tanh_grad(y, dy):
    """dy * (1 - y^2) in one op."""
    return tf.raw_ops.TanhGrad(y=y, dy=dy)


def _backward_step(cell, s, dh, dc, params):
    """Gradients of one step: (dz, dc_prev, sums) given dh'_t and dc_t (after the layer norm).

    `sums` holds this step's share of the gradients of the layer norm's gain and bias ("gamma",
    "beta") and of learned sigmas ("s_i", "s_f"), per batch row: the loop adds them up
    elementwise and reduces over the batch once at the end (a reduction per step costs more
    than the step's arithmetic).
    """
    spec = cell.spec
    dz, sums = {}, {}
    da = dh
    if spec.output_gate:
        o = s["o"]
        dz["output"] = _sigmoid_grad(o, dh * s["a"])
        da = dh * o
    if spec.output_activation == "tanh":
        da = _tanh_grad(s["a"], da)
    dc = dc + da
    if "gamma" in params:
        sums["gamma"], sums["beta"] = dc * s["xhat"], dc
        dx = dc * params["gamma"]
        xhat = s["xhat"]
        dc = s["rstd"] * (
            dx
            - tf.reduce_mean(dx, axis=-1, keepdims=True)
            - xhat * tf.reduce_mean(dx * xhat, axis=-1, keepdims=True)
        )
    dcand = dc * cell.input_scale(s, params)
    if spec.candidate_activation == "tanh":
        dcand = _tanh_grad(s["cand"], dcand)
    dz["candidate"] = dcand
    df = None
    if spec.input_scale == "gate":
        dz["input"] = _sigmoid_grad(s["i"], dc * s["cand"])
    elif spec.input_scale == "coupled":
        df = -dc * s["cand"]
    elif "s_i" in params.get("learned", ()):
        sums["s_i"] = dc * s["cand"]
    dc_prev = None
    if spec.memory is not None:
        dc_prev = dc * cell.forget_scale(s, params)
        if spec.memory == "gate":
            df = dc * s["c_prev"] if df is None else df + dc * s["c_prev"]
        elif "s_f" in params.get("learned", ()):
            sums["s_f"] = dc * s["c_prev"]
    if "forget" in spec.blocks:
        dz["forget"] = _sigmoid_grad(s["f"], df)
    return tf.concat([dz[b] for b in spec.blocks], axis=-1), dc_prev, sums


def run(cell, projected, h0, c0, recurrent_kernel, params, mask=None, recurrent_mask=None,
        zero_output_for_mask=False):
    """Run a `KernelCell` over a sequence of projected inputs, with a hand-written gradient.

    Time-major in and out because the loop reads and writes one step at a time; the caller
    transposes the narrower tensors (x before the projection). `KernelRNN`'s "fused"
    implementation calls it.

    Args:
        cell: a built `KernelCell` of a sequential variant.
        projected: `cell.project_sequence` of the inputs, time-major `(time, batch, k d)`, in
            the compute dtype.
        h0: h'_0, `(batch, d)`, in the dtype the update computes in (`math_dtype`).
        c0: c_0, `(batch, d)`, in `h0`'s dtype.
        recurrent_kernel: U `(d, k d)` in the compute dtype, or None for the variants without
            recurrence.
        params: `cell.update_weights()`.
        mask: a `(batch, time)` bool tensor, or None. Masked steps keep the state and output
            it (the previous step's output, h0 before any).
        recurrent_mask: a dropout mask `(batch, d)` multiplied into h'_{t-1}, or None.
        zero_output_for_mask: output zeros at masked steps instead.

    Returns:
        `(outputs, h_T, c_T)`: outputs `(time, batch, d)` and the final states `(batch, d)`,
            in `h0`'s dtype.

    Examples:
        >>> import numpy as np, tensorflow as tf, kasm_keras
        >>> from kasm_keras.layers import tf_loop
        >>> cell = kasm_keras.KernelCell(4, variant="rkm_cifg")
        >>> cell.build((None, 3))
        >>> x = np.random.randn(2, 5, 3).astype("float32")  # (batch, time, m)
        >>> projected = tf.transpose(cell.project_sequence(x), [1, 0, 2])
        >>> zeros = tf.zeros([2, 4])
        >>> outputs, h, c = tf_loop.run(
        ...     cell, projected, zeros, zeros, cell.recurrent_kernel, cell.update_weights())
        >>> outputs.shape, h.shape
        (TensorShape([5, 2, 4]), TensorShape([2, 4]))
    """
    spec = cell.spec
    math_dtype = h0.dtype
    compute_dtype = projected.dtype
    learned = tuple(name for name in ("s_i", "s_f") if tf.is_tensor(params.get(name)))
    names = [n for n in ("gamma", "beta") + learned if n in params]
    fixed = {**params, "learned": learned}
    recurrent = recurrent_kernel is not None
    time_steps = tf.shape(projected)[0]
    mask_tm = None if mask is None else tf.transpose(mask)[:, :, None]
    if recurrent_mask is not None:
        recurrent_mask = tf.cast(recurrent_mask, math_dtype)

    def recurrent_input(h):
        if recurrent_mask is not None:
            h = h * recurrent_mask
        return tf.cast(h, compute_dtype)

    @tf.custom_gradient
    def loop(projected, h0, c0, *weights):
        kernel = weights[0] if recurrent else None
        p = {**fixed, **dict(zip(names, weights[1 if recurrent else 0:]))}
        z_ta = tf.TensorArray(compute_dtype, size=time_steps).unstack(projected)
        # The backward loop reads h'_{t-1} and then stacks it for dU: keep it after a read.
        keep = {k: tf.TensorArray(math_dtype, size=time_steps, clear_after_read=False)
                for k in ["h"] * recurrent + _saved_keys(spec, fixed)}
        out_ta = tf.TensorArray(math_dtype, size=time_steps)

        def body(t, state):
            h, c, out, out_ta, keep = state
            z = z_ta.read(t)
            if recurrent:
                z = z + tf.matmul(recurrent_input(h), kernel)
            z = tf.cast(z, math_dtype)
            saved = {"c_prev": c}
            h_new, c_new = cell.update(z, c, weights=p, saved=saved)
            keep = {k: ta.write(t, h if k == "h" else saved[k]) for k, ta in keep.items()}
            if mask_tm is None:
                new_out = h_new
            else:
                m = mask_tm[t]
                new_out = tf.where(m, h_new, tf.zeros_like(h_new) if zero_output_for_mask else out)
                h_new, c_new = tf.where(m, h_new, h), tf.where(m, c_new, c)
            # Without a mask the outputs are the states: no need to carry them.
            return h_new, c_new, (() if mask_tm is None else new_out), out_ta.write(t, new_out), keep

        h, c, _, out_ta, keep = _steps(
            time_steps, body,
            (h0, c0, () if mask_tm is None else h0, out_ta, keep),
        )
        outputs = out_ta.stack()

        def grad(d_outputs, d_h, d_c):
            if d_outputs is None:
                d_outputs = tf.zeros_like(outputs)
            d_out_ta = tf.TensorArray(math_dtype, size=time_steps).unstack(
                tf.cast(d_outputs, math_dtype))
            dz_ta = tf.TensorArray(math_dtype, size=time_steps)
            param_sums = {k: tf.zeros_like(h0) for k in names}
            kernel_t = tf.transpose(kernel) if recurrent else None

            def back(t, state):
                gh, gc, gout, dz_ta, param_sums = state
                s = {k: keep[k].read(t) for k in _saved_keys(spec, fixed)}
                if mask_tm is None:  # the outputs are the states: nothing flows output to output
                    dh, dc = gh + d_out_ta.read(t), gc
                    gh_prev, gc_prev, gout_prev = None, None, gout
                else:
                    gout = gout + d_out_ta.read(t)
                    m = mask_tm[t]
                    zeros = tf.zeros_like(gh)
                    dh, dc = tf.where(m, gh + gout, zeros), tf.where(m, gc, zeros)
                    gh_prev, gc_prev = tf.where(m, zeros, gh), tf.where(m, zeros, gc)
                    gout_prev = zeros if zero_output_for_mask else tf.where(m, zeros, gout)
                dz, dc_prev, sums = _backward_step(cell, s, dh, dc, p)
                dz_ta = dz_ta.write(t, dz)
                param_sums = {k: v + sums[k] for k, v in param_sums.items()}
                if recurrent:
                    dh_in = tf.matmul(tf.cast(dz, compute_dtype), kernel_t)
                    dh_in = tf.cast(dh_in, math_dtype)
                    if recurrent_mask is not None:
                        dh_in = dh_in * recurrent_mask
                    gh_prev = dh_in if gh_prev is None else gh_prev + dh_in
                if dc_prev is not None:
                    gc_prev = dc_prev if gc_prev is None else gc_prev + dc_prev
                gh_prev = tf.zeros_like(gh) if gh_prev is None else gh_prev
                gc_prev = tf.zeros_like(gc) if gc_prev is None else gc_prev
                return gh_prev, gc_prev, gout_prev, dz_ta, param_sums

            d_h = tf.zeros_like(h0) if d_h is None else tf.cast(d_h, math_dtype)
            d_c = tf.zeros_like(c0) if d_c is None else tf.cast(d_c, math_dtype)
            dh0, dc0, d_out0, dz_ta, param_sums = _steps(
                time_steps, back,
                (d_h, d_c, () if mask_tm is None else tf.zeros_like(h0), dz_ta, param_sums),
                reverse=True,
            )
            if mask_tm is not None:  # masked steps before the first unmasked one output h0
                dh0 = dh0 + d_out0
            dz_tm = dz_ta.stack()
            d_projected = tf.cast(dz_tm, compute_dtype)
            d_weights = []
            units = tf.shape(h0)[-1]
            if recurrent:
                h_in = recurrent_input(keep["h"].stack())
                d_weights.append(tf.matmul(
                    tf.reshape(h_in, [-1, units]),
                    tf.cast(tf.reshape(dz_tm, [-1, tf.shape(dz_tm)[-1]]), compute_dtype),
                    transpose_a=True))
            for name in names:
                total = tf.reduce_sum(param_sums[name], axis=0)
                d_weights.append(tf.reduce_sum(total) if name == "s_i" else total)
            return (d_projected, dh0, dc0, *d_weights)

        return (outputs, h, c), grad

    weights = ([recurrent_kernel] if recurrent else []) + [params[n] for n in names]
    # Variables passed in as themselves would count as captured by the custom gradient.
    weights = [tf.identity(w) for w in weights]
    return loop(projected, h0, c0, *weights)
