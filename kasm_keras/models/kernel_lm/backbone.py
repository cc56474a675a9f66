"""AWD-LSTM (Merity et al. 2017) with its recurrent layers replaced by kernel cells (Table 3)."""

import keras
import keras_hub
import numpy as np
from keras import ops

from kasm_keras.layers import KernelRNN
from kasm_keras.regularizers import LockedDropout, embedding_dropout
from kasm_keras.models.presets import ZooPresets


@keras.saving.register_keras_serializable(package="kasm_keras")
class TiedEmbedding(keras.layers.Layer):
    """Word embedding whose transpose, plus a bias, is the softmax layer (tied weights, Press &
    Wolf 2017; AWD-LSTM's decoder keeps its bias).

    `call(ids)` looks words up, dropping whole words in training (embedding dropout: a dropped
    word is zero wherever it occurs in the batch); `call(hidden, reverse=True)` gives logits,
    in float32 under a float16 or bfloat16 policy (and float64 under float64): a softmax and
    a perplexity summed over the vocabulary in half precision lose the rare words' small
    probabilities. Keras' mixed-precision convention returns the compute dtype; this layer
    departs from it on purpose.

    Args:
        vocabulary_size: Rows of the embedding (the softmax's width).
        embedding_dim: The word-vector size.
        embedding_dropout: The fraction of words dropped in training, in [0, 1).
        seed: Seed of the embedding dropout.
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`).

    Examples:
        >>> import numpy as np
        >>> from kasm_keras.models.kernel_lm.backbone import TiedEmbedding
        >>> embedding = TiedEmbedding(10, 4)
        >>> vectors = embedding(np.array([[1, 2, 3]]))
        >>> vectors.shape, embedding(vectors, reverse=True).shape
        (TensorShape([1, 3, 4]), TensorShape([1, 3, 10]))
    """

    def __init__(self, vocabulary_size, embedding_dim, embedding_dropout=0.0, seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= embedding_dropout < 1.0:
            raise ValueError(f"embedding_dropout must be in [0, 1), got {embedding_dropout!r}")
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.embedding_dropout = float(embedding_dropout)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True  # the logits keep the padding mask of the outputs

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(
            shape=(self.vocabulary_size, self.embedding_dim), name="embeddings",
            initializer=keras.initializers.RandomUniform(-0.1, 0.1))
        self.bias = self.add_weight(shape=(self.vocabulary_size,), name="bias",
                                    initializer="zeros")

    def call(self, inputs, reverse=False, training=False):
        if reverse:
            table = ops.cast(self.embeddings, self.compute_dtype)
            logits = ops.matmul(inputs, ops.transpose(table))
            dtype = self._logits_dtype()
            return ops.cast(logits, dtype) + ops.cast(self.bias, dtype)
        vectors = ops.take(ops.cast(self.embeddings, self.compute_dtype), inputs, axis=0)
        if training and self.embedding_dropout > 0:
            scale = embedding_dropout(inputs, self.vocabulary_size, self.embedding_dropout,
                                      self.seed_generator)
            vectors = vectors * ops.cast(scale, vectors.dtype)
        return vectors

    def load_own_variables(self, store):
        """Also reads the zoo's compact storage: "0" the first rows as they are, "1" the bias,
        "2" the remaining rows as int8 and "3" one scale per such row."""
        if sorted(store.keys()) == ["0", "1", "2", "3"]:
            exact, bias, rare, scale = (np.asarray(store[k]) for k in ("0", "1", "2", "3"))
            if rare.dtype != np.int8 or len(rare) != len(scale) or \
                    len(exact) + len(rare) != self.vocabulary_size:
                raise ValueError(f"{self.name}: the stored table has {len(exact)} + {len(rare)} "
                                 f"rows for a vocabulary of {self.vocabulary_size}")
            self.embeddings.assign(np.concatenate([
                exact.astype(np.float32),
                rare.astype(np.float32) * scale.astype(np.float32)[:, None]]))
            self.bias.assign(bias.astype(np.float32))
            return
        super().load_own_variables(store)

    def compute_output_shape(self, input_shape, reverse=False):
        if reverse:
            return (*input_shape[:-1], self.vocabulary_size)
        return (*input_shape, self.embedding_dim)

    def compute_output_spec(self, inputs, reverse=False, training=False):
        shape = self.compute_output_shape(inputs.shape, reverse=reverse)
        return keras.KerasTensor(shape, dtype=self._logits_dtype() if reverse else self.compute_dtype)

    def _logits_dtype(self):
        return "float64" if self.compute_dtype == "float64" else "float32"

    def get_config(self):
        return {**super().get_config(), "vocabulary_size": self.vocabulary_size,
                "embedding_dim": self.embedding_dim,
                "embedding_dropout": self.embedding_dropout, "seed": self.seed}


@keras.saving.register_keras_serializable(package="kasm_keras")
class KernelLMBackbone(ZooPresets, keras_hub.models.Backbone):
    """Word ids -> the last recurrent layer's outputs, one vector per position.

    TiedEmbedding -> locked dropout -> `num_layers` KernelRNNs (the last one `embedding_dim`
    wide, so the softmax can share the embedding), locked dropout between them and after the
    last. The defaults are AWD-LSTM's for the Penn Treebank (the paper's Table 3 recipe):
    3 layers, embedding 400, hidden 1150, dropouts 0.4 / 0.25 / 0.4 / 0.1, weight-drop 0.5.
    `run` runs from given states and returns the new ones, which is how training carries the
    state across batches and generation caches it.

    Args:
        vocabulary_size: words in the vocabulary (the softmax's width).
        variant: one of `kasm_keras.VARIANTS`.
        num_layers: recurrent layers.
        hidden_dim: width of every recurrent layer but the last.
        embedding_dim: width of the embedding and of the last recurrent layer.
        layer_norm: layer-normalise every cell's c_t.
        dropout: locked dropout on the last layer's outputs.
        hidden_dropout: locked dropout between recurrent layers.
        input_dropout: locked dropout on the embedded words.
        embedding_dropout: share of vocabulary words dropped per batch.
        weight_dropout: DropConnect on every recurrent kernel U, one mask per batch.
        implementation: as for `KernelRNN`.
        seed: seed of every dropout.
        dtype: the dtype policy.
        **kwargs: `keras_hub.models.Backbone` arguments (`name`, `trainable`).

    Call arguments:
        - `inputs`: `{"token_ids": int32 [batch, length], "padding_mask": [batch, length]}`;
            padded steps keep the state (so right padding changes nothing before it).

    Returns:
        The last layer's outputs, `(batch, length, embedding_dim)`.

    Examples:
        >>> import numpy as np, kasm_keras
        >>> backbone = kasm_keras.KernelLMBackbone(
        ...     vocabulary_size=100, variant="rkm_cifg", num_layers=2, hidden_dim=32,
        ...     embedding_dim=16)
        >>> backbone({"token_ids": np.array([[4, 17, 9]]),
        ...           "padding_mask": np.ones((1, 3), "int32")}).shape
        TensorShape([1, 3, 16])
    """

    zoo_task = "language_model"  # its zoo names are presets (kasm_keras.models.presets)

    def __init__(self, vocabulary_size, variant="rkm_lstm", num_layers=3, hidden_dim=1150,
                 embedding_dim=400, layer_norm=True, dropout=0.4, hidden_dropout=0.25,
                 input_dropout=0.4, embedding_dropout=0.1, weight_dropout=0.5,
                 implementation="auto", seed=None, dtype=None, **kwargs):
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"num_layers must be a positive integer, got {num_layers!r}")

        def seed_at(offset):
            return None if seed is None else seed + offset

        # === Layers ===
        self.token_embedding = TiedEmbedding(
            vocabulary_size, embedding_dim, embedding_dropout=embedding_dropout,
            seed=seed_at(0), dtype=dtype, name="token_embedding")
        self.input_dropout_layer = LockedDropout(input_dropout, seed=seed_at(1), dtype=dtype,
                                                 name="input_dropout")
        self.rnn_layers, self.dropout_layers = [], []
        for i in range(num_layers):
            last = i == num_layers - 1
            self.rnn_layers.append(KernelRNN(
                embedding_dim if last else hidden_dim, variant=variant, layer_norm=layer_norm,
                weight_dropout=weight_dropout, implementation=implementation,
                return_sequences=True, return_state=True, seed=seed_at(10 + i), dtype=dtype,
                name=f"kernel_rnn_{i}"))
            self.dropout_layers.append(LockedDropout(
                dropout if last else hidden_dropout, seed=seed_at(20 + i), dtype=dtype,
                name="output_dropout" if last else f"hidden_dropout_{i}"))

        # === Functional model ===
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        padding_mask = keras.Input(shape=(None,), dtype="int32", name="padding_mask")
        x = self.input_dropout_layer(self.token_embedding(token_ids))
        mask = ops.cast(padding_mask, "bool")
        for rnn, drop in zip(self.rnn_layers, self.dropout_layers):
            x = drop(rnn(x, mask=mask)[0])
        super().__init__(inputs={"token_ids": token_ids, "padding_mask": padding_mask},
                         outputs=x, dtype=dtype, **kwargs)

        # === Config ===
        self.vocabulary_size = vocabulary_size
        self.variant = variant
        self.num_layers = num_layers
        self.hidden_dim = hidden_dim
        self.embedding_dim = embedding_dim
        self.layer_norm = layer_norm
        self.dropout = dropout
        self.hidden_dropout = hidden_dropout
        self.input_dropout = input_dropout
        self.embedding_dropout = embedding_dropout
        self.weight_dropout = weight_dropout
        self.implementation = implementation
        self.seed = seed

    @property
    def state_sizes(self):
        """Widths of each layer's (h'_t, c_t)."""
        return [rnn.units for rnn in self.rnn_layers]

    def initial_states(self, batch_size, dtype="float32"):
        """Zero states, where a stream starts.

        Args:
            batch_size: rows of the states.
            dtype: their dtype.

        Returns:
            One `[h, c]` pair per layer, each `(batch_size, width of the layer)`.
        """
        return [[ops.zeros((batch_size, d), dtype) for _ in range(2)] for d in self.state_sizes]

    def run(self, token_ids, states=None, padding_mask=None, training=False):
        """Reads token ids from given states and returns the new ones.

        Args:
            token_ids: int32 `(batch, length)`.
            states: one `[h, c]` pair per layer, as `initial_states` gives them, or None for
                zeros.
            padding_mask: `(batch, length)`, False at padding (which keeps the states); None
                for none.
            training: whether the dropouts apply.

        Returns:
            `(outputs, raw_outputs, new_states)`: the last layer's outputs after its dropout
                and before it (AWD-LSTM's activation regularisation reads the first, the temporal
                one the second), and the states after the last position.

        Examples:
            >>> import numpy as np, kasm_keras
            >>> backbone = kasm_keras.KernelLMBackbone(
            ...     vocabulary_size=100, variant="rkm_cifg", num_layers=2, hidden_dim=32,
            ...     embedding_dim=16)
            >>> outputs, raw, states = backbone.run(np.array([[4, 17, 9]]))
            >>> outputs.shape, len(states)
            (TensorShape([1, 3, 16]), 2)
        """
        if states is None:
            states = self.initial_states(ops.shape(token_ids)[0])
        mask = None if padding_mask is None else ops.cast(padding_mask, "bool")
        x = self.input_dropout_layer(self.token_embedding(token_ids, training=training),
                                     training=training)
        new_states = []
        raw = x
        for rnn, drop, state in zip(self.rnn_layers, self.dropout_layers, states):
            raw, h, c = rnn(x, initial_state=list(state), mask=mask, training=training)
            new_states.append([h, c])
            x = drop(raw, training=training)
        return x, raw, new_states

    def get_config(self):
        config = super().get_config()
        config.update({name: getattr(self, name) for name in (
            "vocabulary_size", "variant", "num_layers", "hidden_dim", "embedding_dim",
            "layer_norm", "dropout", "hidden_dropout", "input_dropout", "embedding_dropout",
            "weight_dropout", "implementation", "seed")})
        return config
