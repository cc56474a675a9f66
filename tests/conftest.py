import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def randomize_weights(layer, rng, scale=0.4):
    """Random values everywhere (biases, norms and sigmas too), so no weight goes untested."""
    for weight in layer.weights:
        value = rng.normal(0.0, scale, size=weight.shape)
        if weight.name == "gamma":
            value = 1.0 + value
        weight.assign(value.astype(weight.dtype))
