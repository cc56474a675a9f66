"""The regularisers of AWD-LSTM (Merity et al. 2017, "Regularizing and Optimizing LSTM Language
Models"), one module each, for the language models built on `KernelRNN`.

DropConnect on the recurrent kernel is `KernelRNN(weight_dropout=...)`, which uses
`drop_connect`; NT-ASGD is `kasm_keras.training.averaged_sgd.AveragedSGD`.
"""

from kasm_keras.regularizers.activation_regularization import (
    activation_regularization, temporal_activation_regularization)
from kasm_keras.regularizers.embedding_dropout import embedding_dropout
from kasm_keras.regularizers.locked_dropout import LockedDropout
from kasm_keras.regularizers.weight_drop import drop_connect

__all__ = ["LockedDropout", "activation_regularization", "drop_connect", "embedding_dropout",
           "temporal_activation_regularization"]
