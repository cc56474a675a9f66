"""Embedding dropout: whole words dropped for a batch, as AWD-LSTM drops rows of the embedding
matrix (Merity et al. 2017, "Regularizing and Optimizing LSTM Language Models", section 4.3;
Gal and Ghahramani 2016)."""

from keras import ops

from kasm_keras.regularizers.locked_dropout import check_rate, keep_mask


def embedding_dropout(ids, vocabulary_size, rate, seed_generator):
    """The factor, of shape `ids.shape + (1,)` and float32, to multiply the looked-up embeddings
    of `ids` by in training.

    One draw per vocabulary word per call: a dropped word is zero at every position it takes in
    the batch (so the model cannot lean on any one word's vector), a kept word is scaled by
    1/(1-rate). Multiplying the looked-up vectors equals AWD's masking of the matrix rows and
    costs a gather of `ids` instead of a pass over the whole matrix.

    With rate 0 the factor is all ones (no draw), so callers need no separate branch.
    """
    rate = check_rate("rate", rate)
    if rate == 0:
        return ops.ones(ops.shape(ids) + (1,), dtype="float32")
    per_word = keep_mask((vocabulary_size,), rate, seed_generator)
    return ops.expand_dims(ops.take(per_word, ops.cast(ids, "int32"), axis=0), -1)
