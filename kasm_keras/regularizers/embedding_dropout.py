"""Embedding dropout: whole words dropped for a batch, as AWD-LSTM drops rows of the embedding
matrix (Merity et al. 2017, "Regularizing and Optimizing LSTM Language Models", section 4.3;
Gal and Ghahramani 2016)."""

from keras import ops

from kasm_keras.regularizers.locked_dropout import check_rate, keep_mask


def embedding_dropout(ids, vocabulary_size, rate, seed_generator):
    """The factor to multiply the looked-up embeddings of `ids` by in training.

    One draw per vocabulary word per call: a dropped word is zero at every position it takes in
    the batch (so the model cannot lean on any one word's vector), a kept word is scaled by
    1/(1-rate). Multiplying the looked-up vectors equals AWD's masking of the matrix rows and
    costs a gather of `ids` instead of a pass over the whole matrix.

    Args:
        ids: integer token ids, of any shape.
        vocabulary_size: the number of words, greater than every id.
        rate: the fraction of words dropped, in [0, 1). With 0 the factor is all ones (no
            draw), so callers need no separate branch.
        seed_generator: the `keras.random.SeedGenerator` the draw comes from.

    Returns:
        A float32 tensor of shape `ids.shape + (1,)`: 0 or 1/(1-rate) per position.

    Raises:
        ValueError: `rate` is not in [0, 1).

    Examples:
        >>> import keras, numpy as np
        >>> from kasm_keras.regularizers import embedding_dropout
        >>> ids = np.array([[3, 1, 3, 3]])
        >>> factor = embedding_dropout(ids, 5, 0.5, keras.random.SeedGenerator(0))
        >>> factor.shape
        TensorShape([1, 4, 1])
        >>> f = np.asarray(factor)[0, :, 0]
        >>> bool(f[0] == f[2] == f[3])  # word 3 is kept, or dropped, everywhere
        True
    """
    rate = check_rate("rate", rate)
    if rate == 0:
        return ops.ones(ops.shape(ids) + (1,), dtype="float32")
    per_word = keep_mask((vocabulary_size,), rate, seed_generator)
    return ops.expand_dims(ops.take(per_word, ops.cast(ids, "int32"), axis=0), -1)
