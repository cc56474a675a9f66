"""One step of a recurrent kernel machine (Liang et al. 2019, Table 1) as a Keras RNN cell."""

import math
import os

import keras
from keras import constraints, initializers, ops, regularizers
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

from kasm_keras.layers import held_values, int8_storage
from kasm_keras.layers.variants import get_variant

NGRAM_PADDINGS = ("causal", "same")


def math_dtype(compute_dtype):
    """The dtype the gates, the cell update and the layer norm compute in.

    They run in float32 under a 16-bit policy, so the memory c_t does not lose its small
    updates to rounding; any other compute dtype is kept.

    Args:
        compute_dtype: a layer's compute dtype, e.g. "float32" or "bfloat16".

    Returns:
        The dtype's name: "float32" for "float16" and "bfloat16", `compute_dtype` otherwise.

    Examples:
        >>> from kasm_keras.layers.kernel_cell import math_dtype
        >>> math_dtype("bfloat16"), math_dtype("float64")
        ('float32', 'float64')
    """
    return "float32" if compute_dtype in ("float16", "bfloat16") else compute_dtype


def _drawn_in_float32(initializer, dtype):
    """`initializer` for a variable of `dtype`: a 16-bit variable's initial value is drawn in
    float32 and rounded, since some initializers have no 16-bit kernel (the orthogonal one's QR
    has none for bfloat16, so a pure bfloat16 layer could not be built). Any other dtype gets
    `initializer` itself, so its values stay exactly as they are."""
    if dtype not in ("float16", "bfloat16"):
        return initializer

    def initialize(shape, dtype=dtype):
        return ops.cast(initializer(shape, dtype="float32"), dtype)

    return initialize


def _logit(p):
    return math.log(p / (1.0 - p))


@keras.saving.register_keras_serializable(package="kasm_keras")
class KernelCell(keras.layers.Layer, DropoutRNNCell):
    """Cell for `keras.layers.RNN`: one of the paper's seven variants, one time step at a time.

    The cell computes Table 1's row for its variant: the pre-activations
    `z'_t = W x_t (+ U h'_{t-1} for the recurrent variants) + b`, the memory c_t and the output
    h'_t. Its state is
    `[h'_t, c_t]`. Use it to put a kernel cell inside your own `keras.layers.RNN` (or a stacked
    or bidirectional one); `kasm_keras.KernelRNN` wraps it with faster loops and n-gram windows.

    Args:
        units: d, the size of h'_t and c_t.
        variant: a name from `kasm_keras.VARIANTS` (or a `Variant`). Defaults to "rkm_lstm".
        ngram: n, the width of the input window. The kernel has n*m rows (one m-block per lag,
            most recent first). A cell called step by step only sees x_t, so `ngram > 1` works
            only inside `KernelRNN`, which builds the windows for the whole sequence.
        ngram_padding: "causal" (window x_t ... x_{t-n+1}, zeros before the start; the default)
            or "same" (centred, as the authors' convolution; `KernelRNN` only).
        layer_norm: layer-normalise c_t (learned gain and bias); the normalised c_t is the state.
            Defaults to True.
        layer_norm_epsilon: added to the variance before its square root.
        sigma_i: s_i = sigma_i^2 of the Linear Kernel, Gated CNN and CNN variants (0.5 as in
            the paper's reproduction). Positive; in (0, 1) with `learn_sigmas`.
        sigma_f: s_f = sigma_f^2 of the Linear Kernel variants, as `sigma_i`.
        learn_sigmas: learn s_f per unit and s_i as one scalar through a sigmoid, initialised at
            the given values, as the authors' TensorFlow code does. Defaults to False (fixed).
        use_bias: whether z'_t has the bias b.
        unit_forget_bias: initialise the forget-gate bias at +1, so the memory starts open.
        kernel_initializer: initializer of W, the `(n m, k d)` input kernel.
        recurrent_initializer: initializer of U, the `(d, k d)` recurrent kernel.
        bias_initializer: initializer of b (the forget block aside, with `unit_forget_bias`).
        kernel_regularizer: regularizer of W, or None.
        recurrent_regularizer: regularizer of U, or None.
        bias_regularizer: regularizer of b, or None.
        kernel_constraint: constraint on W, or None.
        recurrent_constraint: constraint on U, or None.
        bias_constraint: constraint on b, or None.
        dropout: rate on x_t in training, in [0, 1); one mask for all time steps.
        recurrent_dropout: rate on h'_{t-1} in training, in [0, 1); one mask for all time steps.
        seed: seed of the dropout masks, or None.
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`, `trainable`).

    Call arguments:
        - `inputs`: x_t, of shape `(batch, features)`.
        - `states`: `[h'_{t-1}, c_{t-1}]`, each of shape `(batch, units)`.
        - `training`: whether dropout applies.

    Returns:
        `(h'_t, [h'_t, c_t])`: the output and the new states, as `keras.layers.RNN` expects.

    Examples:
        >>> import numpy as np, keras, kasm_keras
        >>> cell = kasm_keras.KernelCell(16, variant="rkm_cifg")
        >>> layer = keras.layers.RNN(cell, return_sequences=True)
        >>> layer(np.zeros((4, 10, 8), "float32")).shape
        TensorShape([4, 10, 16])
    """

    def __init__(
        self,
        units,
        variant="rkm_lstm",
        ngram=1,
        ngram_padding="causal",
        layer_norm=True,
        layer_norm_epsilon=1e-5,
        sigma_i=0.5,
        sigma_f=0.5,
        learn_sigmas=False,
        use_bias=True,
        unit_forget_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(units, int) or units <= 0:
            raise ValueError(f"units must be a positive integer, got units={units!r}")
        if not isinstance(ngram, int) or ngram <= 0:
            raise ValueError(f"ngram must be a positive integer, got ngram={ngram!r}")
        if ngram_padding not in NGRAM_PADDINGS:
            raise ValueError(f"ngram_padding must be one of {NGRAM_PADDINGS}, got {ngram_padding!r}")
        for name, value in (("sigma_i", sigma_i), ("sigma_f", sigma_f)):
            bad = not (0.0 < value < 1.0) if learn_sigmas else not value > 0.0
            if bad:
                need = "in (0, 1) when learn_sigmas=True" if learn_sigmas else "positive"
                raise ValueError(f"{name} must be {need}, got {name}={value!r}")
        for name, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {name}={rate!r}")
        self.units = units
        self.variant = get_variant(variant).name
        self.spec = get_variant(variant)
        self.ngram = ngram
        self.ngram_padding = ngram_padding
        self.layer_norm = layer_norm
        self.layer_norm_epsilon = layer_norm_epsilon
        self.sigma_i = float(sigma_i)
        self.sigma_f = float(sigma_f)
        self.learn_sigmas = learn_sigmas
        self.use_bias = use_bias
        self.unit_forget_bias = unit_forget_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)  # no effect without feedback
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed=seed)
        self.state_size = [units, units]  # h'_t, c_t
        self.output_size = units

    def build(self, input_shape):
        input_dim = input_shape[-1]
        width = self.spec.k * self.units
        self.kernel = self.add_weight(
            shape=(self.ngram * input_dim, width),
            name="kernel",
            initializer=_drawn_in_float32(self.kernel_initializer, self.variable_dtype),
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = None
        if self.spec.recurrent:
            self.recurrent_kernel = self.add_weight(
                shape=(self.units, width),
                name="recurrent_kernel",
                initializer=_drawn_in_float32(self.recurrent_initializer, self.variable_dtype),
                regularizer=self.recurrent_regularizer,
                constraint=self.recurrent_constraint,
            )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(width,),
                name="bias",
                initializer=self._block_bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self.gamma = self.beta = None
        if self.layer_norm:
            self.gamma = self.add_weight(shape=(self.units,), name="gamma", initializer="ones")
            self.beta = self.add_weight(shape=(self.units,), name="beta", initializer="zeros")
        self.sigma_i_logit = self.sigma_f_logit = None
        if self.learn_sigmas and "input" in self.spec.sigmas:
            self.sigma_i_logit = self.add_weight(
                shape=(), name="sigma_i_logit",
                initializer=initializers.Constant(_logit(self.sigma_i)),
            )
        if self.learn_sigmas and "forget" in self.spec.sigmas:
            self.sigma_f_logit = self.add_weight(
                shape=(self.units,), name="sigma_f_logit",
                initializer=initializers.Constant(_logit(self.sigma_f)),
            )

    def _block_bias_initializer(self, shape, dtype=None):
        parts = []
        for block in self.spec.blocks:
            if block == "forget" and self.unit_forget_bias:
                parts.append(ops.ones((self.units,), dtype=dtype))
            else:
                parts.append(self.bias_initializer((self.units,), dtype=dtype))
        return ops.concatenate(parts, axis=0)

    @property
    def weight_entries(self):
        """Entries of the kernels W and U (no biases, norms or sigmas), the figure the paper's
        Table 2 counts. The cell must be built."""
        kernels = [self.kernel, self.recurrent_kernel]
        return sum(math.prod(k.shape) for k in kernels if k is not None)

    def project_sequence(self, sequences):
        """W [x_t, ..., x_{t-n+1}] + b for every step at once.

        The window at t is [x_t, ..., x_{t-n+1}] with causal padding; with "same" it is shifted
        (n-1)//2 steps into the future, as TensorFlow's centred convolution. An n-gram window is a
        width-n convolution whose filter is the kernel's n lag blocks in reverse order, so no
        shifted copies of the input are made. With n = 1 it is a matmul on the last axis, so
        time-major input works as well.

        Args:
            sequences: the inputs, of shape `(batch, time, m)`.

        Returns:
            The pre-activations of every block, of shape `(batch, time, k d)`.
        """
        n = self.ngram
        kernel = ops.cast(self.kernel, sequences.dtype)
        if n == 1:
            z = ops.matmul(sequences, kernel)
        else:
            ahead = 0 if self.ngram_padding == "causal" else n - 1 - (n - 1) // 2
            padded = ops.pad(sequences, [[0, 0], [n - 1 - ahead, ahead], [0, 0]])
            filters = ops.flip(ops.reshape(kernel, (n, -1, kernel.shape[-1])), axis=0)
            z = ops.conv(padded, filters, padding="valid")
        if self.use_bias:
            z = z + ops.cast(self.bias, z.dtype)
        return z

    def recurrent_projection(self, h_prev, recurrent_mask=None, kernel=None):
        """U h'_{t-1}, the recurrent part of the pre-activations.

        Args:
            h_prev: h'_{t-1}, of shape `(batch, units)`.
            recurrent_mask: a dropout mask multiplied into `h_prev`, or None.
            kernel: stands in for U, or None for the cell's own (`KernelRNN` passes U with its
                weight dropout applied, drawn once for the whole sequence).

        Returns:
            U h'_{t-1} in the compute dtype, of shape `(batch, k d)`.
        """
        if recurrent_mask is not None:
            h_prev = h_prev * ops.cast(recurrent_mask, h_prev.dtype)
        h_prev = ops.cast(h_prev, self.compute_dtype)
        kernel = self.recurrent_kernel if kernel is None else kernel
        return ops.matmul(h_prev, ops.cast(kernel, self.compute_dtype))

    def _sigma(self, which):
        logit = self.sigma_i_logit if which == "input" else self.sigma_f_logit
        if logit is not None:
            return ops.sigmoid(ops.cast(logit, math_dtype(self.compute_dtype)))
        return self.sigma_i if which == "input" else self.sigma_f

    def update_weights(self):
        """The weights `update` reads besides z.

        Returns:
            A dict: the layer norm's "gamma" and "beta" (when it normalises), "s_i" and "s_f"
                (when the variant uses them; floats unless learned) and "epsilon".
        """
        dtype = math_dtype(self.compute_dtype)
        weights = {"epsilon": self.layer_norm_epsilon}
        if self.layer_norm:
            weights["gamma"] = ops.cast(self.gamma, dtype)
            weights["beta"] = ops.cast(self.beta, dtype)
        for which in self.spec.sigmas:
            weights["s_i" if which == "input" else "s_f"] = self._sigma(which)
        return weights

    def input_scale(self, saved, weights):
        """What multiplies the candidate c~_t in c_t.

        Args:
            saved: the gates `update` saved ("i", "f").
            weights: `update_weights()`'s dict.

        Returns:
            eta_t, 1 - f_t or s_i, by the variant.
        """
        if self.spec.input_scale == "gate":
            return saved["i"]
        if self.spec.input_scale == "coupled":
            return 1.0 - saved["f"]
        return weights["s_i"]

    def forget_scale(self, saved, weights):
        """What multiplies c_{t-1} in c_t.

        Args:
            saved: the gates `update` saved ("f").
            weights: `update_weights()`'s dict.

        Returns:
            f_t or s_f, by the variant.
        """
        return saved["f"] if self.spec.memory == "gate" else weights["s_f"]

    def update(self, z, c_prev, weights=None, saved=None):
        """Table 1's elementwise update from the pre-activations `z'_t` and `c_{t-1}`.

        Works on any leading shape, so the feed-forward variants run it on a whole sequence.
        The gates, the layer norm's 1/sigma and the activations come from
        `held_values.current()`: the functions themselves, or, while explaining, held values.

        Args:
            z: z'_t, all blocks, of shape `(..., k d)`.
            c_prev: c_{t-1}, of shape `(..., d)` (ignored by the variants without memory).
            weights: stands in for `update_weights()`, or None for the cell's own (the fused
                loop passes tensors it differentiates itself).
            saved: a dict that receives the intermediates a backward pass reads: "cand", "i",
                "f", "xhat", "rstd", "a" (h'_t before o_t) and "o"; or None.

        Returns:
            `(h'_t, c_t)`, each of shape `(..., d)`, in float32 under a 16-bit policy.
        """
        spec = self.spec
        fn = held_values.current()
        w = self.update_weights() if weights is None else weights
        s = {} if saved is None else saved
        dtype = math_dtype(self.compute_dtype)
        z = ops.cast(z, dtype)
        blocks = dict(zip(spec.blocks, ops.split(z, spec.k, axis=-1)))
        s["cand"] = fn.activation(spec.candidate_activation, blocks["candidate"])
        if "forget" in blocks:
            s["f"] = fn.sigmoid(blocks["forget"])
        if spec.input_scale == "gate":
            s["i"] = fn.sigmoid(blocks["input"])
        c = self.input_scale(s, w) * s["cand"]
        if spec.memory is not None:
            c_prev = ops.cast(c_prev, dtype)
            c = c + self.forget_scale(s, w) * c_prev
        if self.layer_norm:
            mean = ops.mean(c, axis=-1, keepdims=True)
            centred = c - mean
            variance = ops.mean(ops.square(centred), axis=-1, keepdims=True)
            s["rstd"] = fn.hold(ops.rsqrt(variance + w["epsilon"]))
            s["xhat"] = centred * s["rstd"]
            c = s["xhat"] * w["gamma"] + w["beta"]
        h = s["a"] = fn.activation(spec.output_activation, c)
        if spec.output_gate:
            s["o"] = fn.sigmoid(blocks["output"])
            h = s["o"] * h
        return h, c

    def call(self, inputs, states, training=False):
        if self.ngram > 1:
            raise ValueError(
                f"KernelCell(ngram={self.ngram}) needs each step's whole input window, which a cell "
                "called one step at a time does not see. Use kasm_keras.KernelRNN(ngram=...) "
                "(it builds the windows for the whole sequence), or ngram=1."
            )
        h_prev, c_prev = states
        if training and self.dropout > 0:
            inputs = inputs * self.get_dropout_mask(inputs)
        z = self.project_sequence(inputs[:, None, :])[:, 0]
        if self.spec.recurrent:
            recurrent_mask = None
            if training and self.recurrent_dropout > 0:
                recurrent_mask = self.get_recurrent_dropout_mask(h_prev)
            z = ops.cast(z, self.compute_dtype) + self.recurrent_projection(h_prev, recurrent_mask)
        h, c = self.update(z, c_prev)
        return ops.cast(h, self.compute_dtype), [ops.cast(h, h_prev.dtype), ops.cast(c, c_prev.dtype)]

    def load_own_variables(self, store):
        """Loads the cell's variables from `store`, also kernels the zoo stored as int8.

        Args:
            store: the layer's weight store; int8 matrices with their "<i>_scale" are rescaled
                to float32 (`int8_storage.read`), every array read once.

        Raises:
            ValueError: the store holds scales, but its keys or shapes do not fit the cell.
        """
        variables = self._trainable_variables + self._non_trainable_variables
        source = getattr(store, "path_or_io", None)  # the weights file, where Keras says
        where = self.path + (f" in {os.fspath(source)}"
                             if isinstance(source, (str, os.PathLike)) else "")
        arrays = int8_storage.read(store, len(variables), where=where)
        if arrays is None:
            return super().load_own_variables(store)
        for variable, value in zip(variables, arrays):
            variable.assign(value)

    def get_initial_state(self, batch_size=None):
        """Zero states.

        Args:
            batch_size: the batch size.

        Returns:
            `[h'_0, c_0]`, zeros of shape `(batch_size, units)`.
        """
        return [ops.zeros((batch_size, d), dtype=self.compute_dtype) for d in self.state_size]

    def get_config(self):
        config = {
            "units": self.units,
            "variant": self.variant,
            "ngram": self.ngram,
            "ngram_padding": self.ngram_padding,
            "layer_norm": self.layer_norm,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "sigma_i": self.sigma_i,
            "sigma_f": self.sigma_f,
            "learn_sigmas": self.learn_sigmas,
            "use_bias": self.use_bias,
            "unit_forget_bias": self.unit_forget_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}
