"""The task-agnostic Trainer on a toy regression task, in process: what any task gets from it."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from kasm_keras.training import LoopConfig, Task, Trainer, TrainingError
from kasm_keras.training import precision
from kasm_keras.training.checkpoints import CheckpointManager


class Regression(Task):
    """y = x . w + noise with a small MLP (dropout included); lower validation loss is better."""

    monitor = "loss"
    higher_is_better = False
    fixed_settings = ("hidden",)

    def __init__(self, learning_rate=0.05, hidden=8):
        self.learning_rate, self.hidden = learning_rate, hidden

    def settings(self):
        return {"hidden": self.hidden, "learning_rate": self.learning_rate}

    def prepare(self, log):
        rng = np.random.default_rng(0)
        x = rng.normal(size=(384, 4)).astype(np.float32)
        y = (x @ np.array([1.0, -2.0, 0.5, 3.0], np.float32) + rng.normal(0, 0.1, 384)).astype(
            np.float32)
        self.splits = {"train": (x[:256], y[:256]), "validation": (x[256:320], y[256:320]),
                       "test": (x[320:], y[320:])}

    def steps_per_epoch(self):
        return 256 // 16

    def build(self):
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(self.hidden, "relu"),
                                  keras.layers.Dropout(0.2, seed=3), keras.layers.Dense(1)])
        return model, keras.optimizers.Adam(self.learning_rate)

    def train_dataset(self, seed):
        data = tf.data.Dataset.from_tensor_slices(self.splits["train"])
        return data.shuffle(256, seed=seed).repeat().batch(16, drop_remainder=True)

    def batch_loss(self, model, batch):
        x, y = batch
        error = model(x, training=True)[:, 0] - y
        return tf.square(error), {"mae": tf.abs(error)}

    def _scores(self, model, split):
        x, y = self.splits[split]
        error = model(x, training=False).numpy()[:, 0] - y
        return {"loss": float(np.mean(error ** 2)), "mae": float(np.mean(np.abs(error)))}

    def validate(self, model):
        return self._scores(model, "validation")

    def save_best(self, model, path):
        model.save(path)

    def load_best(self, path):
        return keras.models.load_model(path, safe_mode=True)

    def report(self, model, test=True):
        return {"test_loss": self._scores(model, "test")["loss"]} if test else {}


def _train(model_dir, steps, test=True, **task_options):
    config = LoopConfig(model_dir=str(model_dir), max_steps=steps, eval_every=4, log_every=2,
                        test=test)
    return Trainer(Regression(**task_options), config, command=["test"], log=lambda _: None).run()


def _checkpoint(model_dir):
    latest = CheckpointManager(model_dir / "checkpoints").latest()
    reader = tf.train.load_checkpoint(f"{latest}/variables")
    return {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()
            if n.startswith(("model/", "optimizer/"))}


def test_a_task_gets_the_best_model_report_and_logs(tmp_path):
    metrics = _train(tmp_path, 12)
    history = metrics["history"]
    assert [h["step"] for h in history] == [4, 8, 12]
    best = min(history, key=lambda h: h["val_loss"])
    assert metrics["val_loss"] == best["val_loss"] and metrics["best_step"] == best["step"]
    assert {"val_mae", "test_loss", "train_steps_per_second", "versions"} <= set(metrics)
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics
    config = json.loads((tmp_path / "config.json").read_text())
    assert config == {"hidden": 8, "learning_rate": 0.05}
    assert (tmp_path / "best.keras").exists()
    assert list((tmp_path / "logs" / "train").glob("events.*"))
    assert list((tmp_path / "logs" / "validation").glob("events.*"))


def test_a_recipe_search_run_never_reads_the_test_split(tmp_path):
    metrics = _train(tmp_path, 8, test=False)
    assert metrics["test_evaluated"] is False and "test_loss" not in metrics
    assert metrics["best_step"] in (4, 8) and "val_loss" in metrics
    assert _train(tmp_path / "tested", 8)["test_evaluated"] is True


class LastIsBest(Regression):
    """A final fit: nothing to validate on, its last model kept."""

    best_is_last = True

    def validate(self, model):
        raise AssertionError("a task whose best is its last is never validated")


def test_a_task_whose_best_is_its_last_keeps_the_last_model_without_validating(tmp_path):
    config = LoopConfig(model_dir=str(tmp_path), max_steps=10, eval_every=4, log_every=2)
    trainer = Trainer(LastIsBest(), config, command=["test"], log=lambda _: None)
    metrics = trainer.run()
    assert metrics["best_step"] == metrics["steps"] == 10 and "test_loss" in metrics
    assert not [key for key in metrics if key.startswith("val_")]
    assert [h["step"] for h in metrics["history"]] == [4, 8, 10]
    best = keras.models.load_model(tmp_path / "best.keras").get_weights()
    for kept, last in zip(best, trainer.model.get_weights(), strict=True):
        np.testing.assert_array_equal(kept, last)


class AutoPrecisionRegression(Regression):
    """Records its precision as the tasks of tools/train.py do (the policy "auto" became)."""

    fixed_settings = ("hidden", "policy")

    def settings(self):
        return {**super().settings(), "precision": "auto", "policy": precision.resolve("auto")}


def test_a_resumed_auto_precision_run_keeps_the_policy_it_started_with(tmp_path, monkeypatch):
    def run(steps):
        config = LoopConfig(model_dir=str(tmp_path), max_steps=steps, eval_every=4, log_every=2,
                            precision="auto")
        return Trainer(AutoPrecisionRegression(), config, command=["test"],
                       log=lambda _: None).run()

    monkeypatch.setattr(precision, "auto_policy", lambda: "float32")
    run(4)
    # A busy machine's timed product now says otherwise: the run resumes as it started.
    monkeypatch.setattr(precision, "auto_policy", lambda: "mixed_bfloat16")
    metrics = run(8)
    assert metrics["precision"] == "float32" and metrics["resumed_from_step"] == 4
    assert json.loads((tmp_path / "config.json").read_text())["policy"] == "float32"
    assert precision.resolve("auto") == "mixed_bfloat16"  # only within the run


def test_stopping_and_resuming_ends_with_the_same_weights(tmp_path):
    _train(tmp_path / "whole", 12)
    _train(tmp_path / "parts", 6)  # stops at 6: its last checkpoint is from step 6
    metrics = _train(tmp_path / "parts", 12)
    assert metrics["resumed_from_step"] == 6
    whole, parts = _checkpoint(tmp_path / "whole"), _checkpoint(tmp_path / "parts")
    assert sorted(whole) == sorted(parts)
    latest = CheckpointManager(tmp_path / "parts" / "checkpoints").latest()
    saved = CheckpointManager.read_state(latest)["variables"]["model"]
    assert any("seed_generator" in path for path in saved)  # dropout resumes its random stream
    for name in whole:
        np.testing.assert_allclose(parts[name], whole[name], atol=1e-6, err_msg=name)


def test_a_nan_loss_stops_and_names_the_last_good_checkpoint(tmp_path):
    _train(tmp_path, 4)
    with pytest.raises(TrainingError, match=r"loss became nan at step 6; .* is .*ckpt-4, intact"):
        _train(tmp_path, 12, learning_rate=float("nan"))
    assert CheckpointManager(tmp_path / "checkpoints").latest().endswith("ckpt-4")


def test_other_fixed_settings_are_refused(tmp_path):
    _train(tmp_path, 4)
    with pytest.raises(TrainingError, match="hidden: 8 there, 4 now"):
        _train(tmp_path, 8, hidden=4)
    _train(tmp_path, 8, learning_rate=0.01)  # not a fixed setting: fine-tuning goes on


def test_a_checkpoint_that_does_not_fit_names_the_variable(tmp_path):
    _train(tmp_path, 4)

    class Wider(Regression):
        fixed_settings = ()

    config = LoopConfig(model_dir=str(tmp_path), max_steps=8, eval_every=4)
    with pytest.raises(TrainingError, match=r"cannot resume from .*ckpt-4: .*model variable 0 "
                                            r"was .*kernel \[4, 8\], is now .*kernel \[4, 5\]"):
        Trainer(Wider(hidden=5), config, log=lambda _: None).run()


def test_a_model_dir_on_another_file_system(tmp_path):
    """ram:// is TensorFlow's in-memory file system: every file operation goes through
    tf.io.gfile, as it must for gs://, and the run resumes from there."""
    model_dir = f"ram://{tmp_path.name}/run"
    _train(model_dir, 4)
    assert tf.io.gfile.exists(f"{model_dir}/metrics.json")
    metrics = _train(model_dir, 8)
    assert metrics["resumed_from_step"] == 4
    latest = CheckpointManager(f"{model_dir}/checkpoints").latest()
    assert latest.endswith("ckpt-8")
    CheckpointManager.verify(latest)
    assert sorted(tf.io.gfile.listdir(f"{model_dir}/checkpoints")) == ["ckpt-4", "ckpt-8", "latest"]
