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


SHARED_DATA = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "shared", "data")


def real_data(name):
    """Path of ../shared/data/<name>; skips without it, but fails under CI=true."""
    path = os.path.abspath(os.path.join(SHARED_DATA, name))
    if not os.path.isdir(path):
        message = f"real data not found at {path}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: real-data tests must run)")
        pytest.skip(message)
    return path
