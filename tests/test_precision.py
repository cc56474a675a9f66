"""--precision: what auto resolves to, the policy the loop trains under, and what it leaves."""

import keras
import pytest
import tensorflow as tf

from kasm_keras.training import LoopConfig, Trainer, TrainingError, precision
from tests.test_training_loop import Regression


def test_auto_follows_the_measured_speed(monkeypatch):
    monkeypatch.setattr(precision, "gpu_has_fast_bfloat16", lambda: None)
    for speedup, expected in ((2.2, "mixed_bfloat16"), (0.2, "float32"), (1.1, "float32")):
        precision.auto_policy.cache_clear()
        monkeypatch.setattr(precision, "bfloat16_speedup", lambda s=speedup: s)
        assert precision.resolve("auto") == expected
    monkeypatch.setattr(precision, "gpu_has_fast_bfloat16", lambda: False)  # a GPU decides alone
    precision.auto_policy.cache_clear()
    assert precision.resolve("auto") == "float32"
    precision.auto_policy.cache_clear()


def test_the_measurement_runs_and_names_are_checked():
    assert precision.bfloat16_speedup() > 0
    assert precision.resolve("mixed_float16") == "mixed_float16"
    with pytest.raises(ValueError, match="--precision must be one of"):
        precision.resolve("bfloat16")
    assert precision.needs_loss_scaling("mixed_float16")
    assert not precision.needs_loss_scaling("mixed_bfloat16")


def test_policy_scope_restores_the_global_policy():
    before = keras.config.dtype_policy().name
    with pytest.raises(RuntimeError):
        with precision.policy_scope("mixed_bfloat16"):
            assert keras.config.dtype_policy().name == "mixed_bfloat16"
            raise RuntimeError
    assert keras.config.dtype_policy().name == before


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_the_loop_trains_in_the_policy_and_restores_it(tmp_path, policy):
    seen = {}

    class Recording(Regression):
        def build(self):
            model, optimizer = super().build()
            seen["compute"] = model.layers[0].compute_dtype
            seen["variables"] = {v.dtype for v in model.trainable_variables}
            return model, optimizer

        def batch_loss(self, model, batch):
            x, y = batch
            error = tf.cast(model(x, training=True)[:, 0], tf.float32) - y
            return tf.square(error), {"mae": tf.abs(error)}

        def _scores(self, model, split):
            x, y = self.splits[split]
            error = tf.cast(model(x, training=False), tf.float32).numpy()[:, 0] - y
            return {"loss": float((error ** 2).mean()), "mae": float(abs(error).mean())}

    config = LoopConfig(model_dir=str(tmp_path), max_steps=4, eval_every=4, log_every=2,
                        precision=policy)
    metrics = Trainer(Recording(), config, command=["test"], log=lambda _: None).run()
    assert seen == {"compute": policy.split("_")[1], "variables": {"float32"}}
    assert metrics["precision"] == policy
    assert keras.config.dtype_policy().name == "float32"


def test_a_bad_precision_is_refused(tmp_path):
    with pytest.raises(TrainingError, match="--precision must be one of"):
        LoopConfig(model_dir=str(tmp_path), precision="half")
