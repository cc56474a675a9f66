"""The authors' document encoder: token embedding -> KernelRNN -> mean over the unmasked steps."""

import keras
import keras_hub
import numpy as np
from keras import ops

from kasm_keras.layers import KernelRNN, MaskedMean
from kasm_keras.models.presets import ZooPresets


@keras.saving.register_keras_serializable(package="kasm_keras")
class TokenEmbedding(keras.layers.Embedding):
    """`keras.layers.Embedding` that also reads the zoo's compact storage of its table: the
    first rows as they are, the rest as int8 rows with one scale each (`kasm_keras.zoo` writes
    it to keep entries small). What it saves is always the plain table.

    Its arguments are `keras.layers.Embedding`'s.

    Examples:
        >>> import numpy as np
        >>> from kasm_keras.models.kernel_classifier.backbone import TokenEmbedding
        >>> embedding = TokenEmbedding(10, 4, mask_zero=True)
        >>> embedding(np.array([[3, 0]])).shape
        TensorShape([1, 2, 4])
    """

    def load_own_variables(self, store):
        if sorted(store.keys()) == ["0", "1", "2"]:
            exact, rare, scale = (np.asarray(store[k]) for k in ("0", "1", "2"))
            if rare.dtype != np.int8 or len(rare) != len(scale) or \
                    len(exact) + len(rare) != self.input_dim:
                raise ValueError(f"{self.name}: the stored table has {len(exact)} + {len(rare)} "
                                 f"rows for an embedding of {self.input_dim}")
            rows = np.concatenate([exact.astype(np.float32),
                                   rare.astype(np.float32) * scale.astype(np.float32)[:, None]])
            self.embeddings.assign(rows)
            return
        super().load_own_variables(store)


def token_inputs(inputs):
    """The backbone's input dict from token ids alone, as the training loop and the SavedModel
    feed them.

    Args:
        inputs: Token ids, `[batch, length]` (id 0 is padding), or the input dict.

    Returns:
        `{"token_ids": int32, "padding_mask": int32 (token_ids != 0)}`; a dict passes as it
        is.

    Examples:
        >>> import numpy as np
        >>> from kasm_keras.models.kernel_classifier.backbone import token_inputs
        >>> token_inputs(np.array([[4, 9, 0]]))["padding_mask"].numpy()
        array([[1, 1, 0]], dtype=int32)
    """
    if isinstance(inputs, dict):
        return inputs
    token_ids = ops.convert_to_tensor(inputs, "int32")
    return {"token_ids": token_ids,
            "padding_mask": ops.cast(ops.not_equal(token_ids, 0), "int32")}


@keras.saving.register_keras_serializable(package="kasm_keras")
class KernelClassifierBackbone(ZooPresets, keras_hub.models.Backbone):
    """Token ids -> one vector per document, the encoder of the paper's classifier.

    Args:
        vocabulary_size: rows of the embedding; id 0 is padding and is masked.
        variant: one of `kasm_keras.VARIANTS`.
        units: the cell's hidden size d.
        embedding_dim: the word-vector size m.
        ngram: input window width n.
        ngram_padding: as for `kasm_keras.KernelRNN`, as are `layer_norm`, `learn_sigmas`,
            `sigma_i`, `sigma_f`, `dropout`, `recurrent_dropout` and `implementation`.
        train_embeddings: whether fine-tuning updates the embedding.
        seed: seed of the RNN's dropout.
        dtype: the dtype policy of every layer.
        **kwargs: `keras_hub.models.Backbone` arguments (`name`, `trainable`).

    Call arguments:
        - `inputs`: keras-hub's `{"token_ids": int32 [batch, length], "padding_mask": [batch,
            length]}`, any length; padded steps leave the state as it is and the mean leaves
            them out, so padding changes nothing. Token ids alone (`[batch, length]`, 0 for
            padding) are taken too, with the mask `token_ids != 0`, as the training loop and
            the SavedModel feed them.

    Returns:
        The documents' vectors, `(batch, units)`.

    Examples:
        >>> import numpy as np, kasm_keras
        >>> backbone = kasm_keras.KernelClassifierBackbone(
        ...     vocabulary_size=100, variant="rkm_cifg", units=16, embedding_dim=8, ngram=2)
        >>> backbone({"token_ids": np.array([[4, 17, 9, 0]]),
        ...           "padding_mask": np.array([[1, 1, 1, 0]])}).shape
        TensorShape([1, 16])
    """

    zoo_task = "classification"  # its zoo names are presets (kasm_keras.models.presets)

    def __init__(self, vocabulary_size, variant, units=300, embedding_dim=300, ngram=1,
                 ngram_padding="causal", layer_norm=True, learn_sigmas=False, sigma_i=0.5,
                 sigma_f=0.5, dropout=0.0, recurrent_dropout=0.0, implementation="auto",
                 train_embeddings=True, seed=None, dtype=None, **kwargs):
        # === Layers ===
        self.token_embedding = TokenEmbedding(
            vocabulary_size, embedding_dim, mask_zero=True, trainable=train_embeddings,
            embeddings_initializer="uniform", dtype=dtype, name="token_embedding")
        self.kernel_rnn = KernelRNN(
            units, variant=variant, ngram=ngram, ngram_padding=ngram_padding,
            layer_norm=layer_norm, learn_sigmas=learn_sigmas, sigma_i=sigma_i, sigma_f=sigma_f,
            dropout=dropout, recurrent_dropout=recurrent_dropout, implementation=implementation,
            return_sequences=True, seed=seed, dtype=dtype, name="kernel_rnn")
        self.pooling = MaskedMean(dtype=dtype, name="pooling")

        # === Functional model ===
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        padding_mask = keras.Input(shape=(None,), dtype="int32", name="padding_mask")
        mask = ops.cast(padding_mask, "bool")
        pooled = self.pooling(
            self.kernel_rnn(self.token_embedding(token_ids), mask=mask), mask=mask)
        super().__init__(inputs={"token_ids": token_ids, "padding_mask": padding_mask},
                         outputs=pooled, dtype=dtype, **kwargs)

        # === Config ===
        self.vocabulary_size = vocabulary_size
        self.variant = variant
        self.units = units
        self.embedding_dim = embedding_dim
        self.ngram = ngram
        self.ngram_padding = ngram_padding
        self.layer_norm = layer_norm
        self.learn_sigmas = learn_sigmas
        self.sigma_i = sigma_i
        self.sigma_f = sigma_f
        self.dropout = dropout
        self.recurrent_dropout = recurrent_dropout
        self.implementation = implementation
        self.train_embeddings = train_embeddings
        self.seed = seed

    def __call__(self, inputs, *args, **kwargs):
        return super().__call__(token_inputs(inputs), *args, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.update({name: getattr(self, name) for name in (
            "vocabulary_size", "variant", "units", "embedding_dim", "ngram", "ngram_padding",
            "layer_norm", "learn_sigmas", "sigma_i", "sigma_f", "dropout", "recurrent_dropout",
            "implementation", "train_embeddings", "seed")})
        return config


def kernel_layer(model):
    """The `KernelRNN` of a classifier, e.g. to read its cell's settings.

    Args:
        model: A `KernelTextClassifier` or its backbone.

    Returns:
        The `kasm_keras.KernelRNN` layer.

    Examples:
        >>> import kasm_keras
        >>> from kasm_keras.models.kernel_classifier.backbone import kernel_layer
        >>> kernel_layer(kasm_keras.zoo.load("ag_news/rkm_cifg_1gram")).units
        300
    """
    backbone = getattr(model, "backbone", model)
    return backbone.kernel_rnn
