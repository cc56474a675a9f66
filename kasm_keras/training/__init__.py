"""The one training loop (tf.distribute, checkpoints, resume) and the tasks it trains."""

from kasm_keras.training.loop import STRATEGIES, TrainConfig, Trainer, TrainingError

__all__ = ["STRATEGIES", "TrainConfig", "Trainer", "TrainingError"]
