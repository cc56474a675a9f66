"""The authors' document classifier: embedding -> KernelRNN -> mean over unmasked steps -> MLP."""

import keras
from keras import ops

from kasm_keras.layers.kernel_rnn import KernelRNN


@keras.saving.register_keras_serializable(package="kasm_keras")
class MaskedMean(keras.layers.Layer):
    """Mean over the unmasked time steps; an all-masked (empty) document gives zeros, not NaN."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.mean(inputs, axis=1)
        weights = ops.cast(mask, inputs.dtype)[:, :, None]
        total = ops.sum(inputs * weights, axis=1)
        return total / ops.maximum(ops.sum(weights, axis=1), 1.0)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


def build_classifier(vocabulary_size, num_classes, variant, units=300, ngram=1, max_length=128,
                     embedding_dim=300, embedding_matrix=None, train_embeddings=True, dropout=0.5,
                     hidden=300, seed=0, **cell_options):
    """Token ids [batch, max_length] (0 = padding) -> class logits [batch, num_classes]."""
    ids = keras.Input((max_length,), dtype="int32", name="token_ids")
    if embedding_matrix is not None:
        embedding_dim = embedding_matrix.shape[1]
        if embedding_matrix.shape[0] != vocabulary_size:
            raise ValueError(f"embedding matrix has {embedding_matrix.shape[0]} rows for a "
                             f"vocabulary of {vocabulary_size}")
    embedding = keras.layers.Embedding(
        vocabulary_size, embedding_dim, mask_zero=True, trainable=train_embeddings,
        embeddings_initializer=(keras.initializers.Constant(embedding_matrix)
                                if embedding_matrix is not None else "uniform"),
        name="embedding")
    x = embedding(ids)
    x = KernelRNN(units, variant=variant, ngram=ngram, return_sequences=True, seed=seed,
                  name="kernel_rnn", **cell_options)(x)
    x = MaskedMean(name="mean")(x)
    x = keras.layers.Dropout(dropout, seed=seed)(x)
    x = keras.layers.Dense(hidden, activation="relu", name="hidden")(x)
    x = keras.layers.Dropout(dropout, seed=seed + 1)(x)
    logits = keras.layers.Dense(num_classes, name="logits", dtype="float32")(x)
    return keras.Model(ids, logits, name=f"{variant}_{ngram}gram_classifier")


def kernel_layer(model):
    return model.get_layer("kernel_rnn")
