"""The layer users reach for: a whole sequence through one kernel cell, as fast as the variant allows."""

import zlib

import keras
from keras import ops
from keras.src import backend, tree

from kasm_keras.layers import held_values, tf_loop
from kasm_keras.layers.kernel_cell import KernelCell, math_dtype
from kasm_keras.regularizers.weight_drop import drop_connect

IMPLEMENTATIONS = ("auto", "fused", "loop", "parallel")

_CELL_ARGS = (
    "variant", "ngram", "ngram_padding", "layer_norm", "layer_norm_epsilon", "sigma_i", "sigma_f",
    "learn_sigmas", "use_bias", "unit_forget_bias", "kernel_initializer", "recurrent_initializer",
    "bias_initializer", "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
    "kernel_constraint", "recurrent_constraint", "bias_constraint", "dropout", "recurrent_dropout",
    "seed",
)


@keras.saving.register_keras_serializable(package="kasm_keras")
class KernelRNN(keras.layers.RNN):
    """A recurrent kernel machine layer over `(batch, time, features)` inputs.

    The input projection W [x_t ... x_{t-n+1}] + b of every step is one matmul before the
    time loop; only U h'_{t-1} and the elementwise update stay inside it. States are
    `[h'_T, c_T]`. With `stateful=True` they carry over between calls, but the n-gram window
    does not: each call starts its window with zeros.

    Masked steps leave the state unchanged, so trailing padding never changes the
    final output or states: without `return_sequences` the output is the final h'_T.
    With `return_sequences=True` a masked step outputs the state, that is the last unmasked
    step's h'_t, or the initial h before any (`keras.layers.RNN` outputs zeros there, which
    differs only with a non-zero initial or carried-over state), or zeros with
    `zero_output_for_mask=True`. So a sequence cut in two, the second call given the first's
    states (`initial_state` or `stateful`), outputs what one call on the whole does (n = 1).
    Masked inputs count as zeros inside the n-gram windows of their neighbours, so with
    padding at the start or the end the result equals running on the unpadded sequence.

    Args:
        units: d, the size of h'_t and c_t.
        variant: a name from `kasm_keras.VARIANTS`. Defaults to "rkm_lstm".
        return_sequences: return h'_t of every step, `(batch, time, units)`, rather than the
            last one, `(batch, units)`.
        return_state: also return the final states h'_T and c_T.
        go_backwards: run over the sequence backwards (and return the reversed sequence).
        stateful: carry the final states of a batch over as the initial states of the next.
        unroll: unroll the loop (the "loop" implementation), for short sequences.
        zero_output_for_mask: output zeros at masked steps with `return_sequences`, rather
            than the state.
        implementation: "parallel" (no loop at all; `gated_cnn` and `cnn` only), "fused" (the
            sequential variants on TensorFlow: a loop with its backward pass written out, see
            `kasm_keras.layers.tf_loop`), "loop" (Keras' `backend.rnn` and automatic
            gradients, any backend), or "auto" (the default), the fastest that applies. All
            give the same results.
        weight_dropout: DropConnect on the recurrent kernel U in training, as AWD-LSTM's weight
            drop (Merity et al. 2017): one mask per call, the same at every time step, kept
            entries scaled by 1/(1-rate); it regularises the recurrence while the loop stays one
            matmul per step. In [0, 1); the variants without feedback (no U) accept it and
            ignore it. Its masks come from a seed generator of their own, seeded from `seed`,
            so layers built with one seed draw the same masks.
        **kwargs: every other `KernelCell` argument (`ngram`, `ngram_padding`, `layer_norm`,
            `layer_norm_epsilon`, `sigma_i`, `sigma_f`, `learn_sigmas`, `use_bias`,
            `unit_forget_bias`, initializers, regularizers, constraints, `dropout`,
            `recurrent_dropout`, `seed`) and the `keras.layers.Layer` ones (`name`, `dtype`,
            `trainable`).

    Call arguments:
        - `sequences`: the inputs, of shape `(batch, time, features)`.
        - `initial_state`: `[h'_0, c_0]`, each `(batch, units)`, or None for zeros.
        - `mask`: a boolean `(batch, time)` tensor, True at the steps to use, or None.
        - `training`: whether dropout and weight dropout apply.

    Returns:
        h'_T, `(batch, units)`; or every h'_t, `(batch, time, units)`, with
            `return_sequences`; followed by h'_T and c_T with `return_state`.

    Examples:
        >>> import numpy as np, kasm_keras
        >>> x = np.zeros((4, 10, 8), "float32")
        >>> kasm_keras.KernelRNN(16, variant="rkm_cifg", ngram=2)(x).shape
        TensorShape([4, 16])
        >>> h, h_last, c_last = kasm_keras.KernelRNN(
        ...     16, return_sequences=True, return_state=True)(x)
        >>> h.shape, c_last.shape
        (TensorShape([4, 10, 16]), TensorShape([4, 16]))
    """

    def __init__(
        self,
        units,
        variant="rkm_lstm",
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        zero_output_for_mask=False,
        implementation="auto",
        weight_dropout=0.0,
        **kwargs,
    ):
        if not 0.0 <= weight_dropout < 1.0:
            raise ValueError(f"weight_dropout must be in [0, 1), got weight_dropout={weight_dropout!r}")
        if implementation not in IMPLEMENTATIONS:
            raise ValueError(
                f"implementation must be one of {IMPLEMENTATIONS}, got implementation={implementation!r}"
            )
        cell_kwargs = {name: kwargs.pop(name) for name in _CELL_ARGS if name in kwargs}
        cell = KernelCell(
            units,
            variant=variant,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name="kernel_cell",
            **cell_kwargs,
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            zero_output_for_mask=zero_output_for_mask,
            **kwargs,
        )
        self.input_spec = keras.layers.InputSpec(ndim=3)
        spec = self.cell.spec
        if implementation == "parallel" and spec.sequential:
            raise ValueError(
                f"implementation='parallel' needs a variant without feedback or memory; "
                f"{spec.name!r} is sequential"
            )
        if implementation == "fused" and (not spec.sequential or backend.backend() != "tensorflow"):
            raise ValueError(
                "implementation='fused' is the TensorFlow loop of the sequential variants; "
                f"got variant {spec.name!r} on the {backend.backend()!r} backend"
            )
        self.implementation = implementation
        self.weight_dropout = float(weight_dropout)
        if self.weight_dropout > 0 and spec.recurrent:  # no new variable otherwise
            self.weight_dropout_seed_generator = keras.random.SeedGenerator(
                _weight_dropout_seed(cell_kwargs.get("seed")))

    def _chosen_implementation(self, training=True):
        """"fused" only pays in training (its forward keeps what its backward pass reads), and its
        gradient function cannot be saved in a SavedModel, so inference runs "loop". While
        explaining (`held_values.holding`) the held derivative is needed, not "fused"'s."""
        if self.implementation == "fused" and held_values.is_holding():
            return "loop"
        if self.implementation != "auto":
            return self.implementation
        if not self.cell.spec.sequential:
            return "parallel"
        if backend.backend() == "tensorflow" and not self.unroll and training:
            return "fused"
        return "loop"

    @property
    def units(self):
        """d, the size of h'_t and c_t."""
        return self.cell.units

    @property
    def variant(self):
        """The variant's name, one of `kasm_keras.VARIANTS`."""
        return self.cell.variant

    @property
    def weight_entries(self):
        """Entries of the kernels W and U, the figure the paper's Table 2 counts (built layers)."""
        return self.cell.weight_entries

    def inner_loop(self, sequences, initial_state, mask, training=False):
        cell = self.cell
        if tree.is_nested(mask):
            mask = mask[0]
        if self.go_backwards:
            sequences = ops.flip(sequences, axis=1)
            mask = None if mask is None else ops.flip(mask, axis=1)
        if mask is not None:
            mask = ops.cast(mask, "bool")
            sequences = ops.where(mask[:, :, None], sequences, ops.zeros_like(sequences))
        if training and cell.dropout > 0:
            dropout_mask = cell.get_dropout_mask(sequences[:, 0, :])
            sequences = sequences * ops.cast(dropout_mask, sequences.dtype)[:, None, :]
        dtype = math_dtype(cell.compute_dtype)
        initial_state = [ops.cast(s, dtype) for s in initial_state]
        implementation = self._chosen_implementation(training)
        if implementation == "fused":
            if cell.ngram == 1:  # x is narrower than W x: transpose it, not the projection
                projected = cell.project_sequence(ops.transpose(sequences, (1, 0, 2)))
            else:
                projected = ops.transpose(cell.project_sequence(sequences), (1, 0, 2))
            return self._fused(projected, initial_state, mask, training)
        projected = cell.project_sequence(sequences)
        if implementation == "parallel":
            return self._parallel(projected, initial_state, mask)
        return self._sequential(projected, initial_state, mask, training)

    def _recurrent_dropout_mask(self, initial_state, training):
        cell = self.cell
        if training and cell.recurrent_dropout > 0 and cell.spec.recurrent:
            return cell.get_recurrent_dropout_mask(initial_state[0])
        return None

    def _recurrent_kernel(self, training):
        """U in the compute dtype, with the weight dropout in training: one mask per call, which
        both implementations then use at every step (the fused loop's gradient is with respect
        to this tensor, and reaches U through the mask)."""
        kernel = self.cell.recurrent_kernel
        if training and self.weight_dropout > 0:
            kernel = drop_connect(kernel, self.weight_dropout, self.weight_dropout_seed_generator)
        return ops.cast(kernel, self.cell.compute_dtype)

    def _fused(self, projected, initial_state, mask, training):
        """`projected` is time-major."""
        cell = self.cell
        kernel = self._recurrent_kernel(training) if cell.spec.recurrent else None
        outputs, h, c = tf_loop.run(
            cell, ops.cast(projected, cell.compute_dtype), *initial_state, kernel,
            cell.update_weights(),
            mask=mask, recurrent_mask=self._recurrent_dropout_mask(initial_state, training),
            zero_output_for_mask=self.zero_output_for_mask,
        )
        return h, ops.transpose(outputs, (1, 0, 2)), [h, c]

    def _sequential(self, projected, initial_state, mask, training):
        cell = self.cell
        recurrent_mask = self._recurrent_dropout_mask(initial_state, training)
        weights = cell.update_weights()  # cast (and sigmoid) once, not at every step
        kernel = self._recurrent_kernel(training) if cell.spec.recurrent else None

        def step(z, states):
            h_prev, c_prev = states
            if cell.spec.recurrent:
                z = z + cell.recurrent_projection(h_prev, recurrent_mask, kernel=kernel)
            h, c = cell.update(z, c_prev, weights=weights)
            return h, [h, c]

        _, outputs, states = backend.rnn(
            step,
            projected,
            initial_state,
            mask=mask,
            unroll=self.unroll,
            input_length=projected.shape[1],
            zero_output_for_mask=self.zero_output_for_mask,
            return_all_outputs=self.return_sequences,
        )
        if mask is not None and self.return_sequences and not self.zero_output_for_mask:
            # backend.rnn outputs zeros before the first unmasked step; the state there is h_0.
            started = ops.cumsum(ops.cast(mask, "int32"), axis=1) > 0
            h0 = ops.cast(initial_state[0], outputs.dtype)
            outputs = ops.where(started[:, :, None], outputs, h0[:, None, :])
        # backend.rnn's last output is zeros for trailing padding with zero_output_for_mask,
        # and for a row with no unmasked step; the final h'_T is the output.
        return states[0], outputs, states

    def _parallel(self, projected, initial_state, mask):
        """No feedback and no memory: every step at once, then Keras' masking semantics."""
        h, c = self.cell.update(projected, None)
        if mask is None:
            return h[:, -1], h, [h[:, -1], c[:, -1]]
        # Index (from 1; 0 is the initial state) of the last unmasked step at or before t, found
        # with a sort because Keras' associative_scan does not compile under XLA.
        steps = ops.arange(ops.shape(mask)[1], dtype="int32")
        valid_first = ops.argsort(ops.where(mask, steps, steps + ops.shape(mask)[1]), axis=1)
        count = ops.cumsum(ops.cast(mask, "int32"), axis=1)
        latest = ops.take_along_axis(valid_first, ops.maximum(count - 1, 0), axis=1)
        latest = ops.where(count > 0, ops.cast(latest, "int32") + 1, 0)
        h_all = ops.concatenate([initial_state[0][:, None], h], axis=1)
        c_all = ops.concatenate([initial_state[1][:, None], c], axis=1)
        last = latest[:, -1:, None]
        h_last = ops.take_along_axis(h_all, last, axis=1)[:, 0]
        c_last = ops.take_along_axis(c_all, last, axis=1)[:, 0]
        if not self.return_sequences:
            outputs = h_last
        elif self.zero_output_for_mask:
            outputs = ops.where(mask[:, :, None], h, ops.zeros_like(h))
        else:
            index = ops.broadcast_to(latest[:, :, None], ops.shape(h))
            outputs = ops.take_along_axis(h_all, index, axis=1)
        return h_last, outputs, [h_last, c_last]

    def call(self, sequences, initial_state=None, mask=None, training=False):
        return super().call(sequences, mask=mask, training=training, initial_state=initial_state)

    def get_config(self):
        config = {**self.cell.get_config(), **super().get_config()}
        config["implementation"] = self.implementation
        config["weight_dropout"] = self.weight_dropout
        del config["cell"]
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _weight_dropout_seed(seed):
    """A fixed function of the layer's seed, but not the seed itself: the cell's dropout
    generator starts from that, and two generators with one seed draw the same numbers."""
    if seed is None:
        return None
    return zlib.crc32(f"weight_dropout {seed}".encode()) % (2 ** 31 - 1)
