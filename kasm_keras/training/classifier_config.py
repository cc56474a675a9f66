"""The settings both classifier tasks share (document classification, `TrainConfig`, and time
series, `TimeSeriesConfig`): the cell, the head, the validation split and the loop's settings,
checked in one place. Each task's config subclasses `ClassifierConfig`, adds its own fields,
sets its defaults and its data sets, and checks its own fields in `check_task`."""

import dataclasses
import math
import os

import tensorflow as tf

from kasm_keras.layers.kernel_cell import NGRAM_PADDINGS
from kasm_keras.layers.variants import VARIANTS, get_variant
from kasm_keras.training import precision
from kasm_keras.training.loop import LoopConfig
from kasm_keras.training.task import TrainingError
from kasm_keras.utils import files


@dataclasses.dataclass
class ClassifierConfig:
    """Every setting `tools/train.py` gives a classifier; defaults are the document
    classifier's (a subclass may redeclare a field with its own default)."""

    # The data sets the task takes, and how --dataset's error names the task.
    DATASETS = ()
    FOR_TASK = ""

    model: str
    dataset: str
    model_dir: str
    data_dir: str | None = None
    cache_dir: str | None = None
    ngram: int = 1
    ngram_padding: str = "causal"
    units: int = 300
    layer_norm: bool = True
    learn_sigmas: bool = False
    epochs: float = 10.0
    max_steps: int | None = None
    batch_size: int = 64
    learning_rate: float = 1e-3
    dropout: float = 0.5
    validation_fraction: float = 0.05
    seed: int = 0  # initialisation, dropout and shuffling
    split_seed: int = 0  # which training rows are held out for validation
    eval_every: int | None = 500
    log_every: int = 20
    jit_compile: str = "auto"
    precision: str = "auto"  # auto, float32, mixed_bfloat16 or mixed_float16 (precision.py)
    strategy: str = "default"
    cpu_devices: int = 1  # split the CPU into this many logical devices (to try mirrored on CPU)
    deterministic: bool = False
    test: bool = True  # evaluate the test split at the end (not in a recipe search)

    def __post_init__(self):
        """Every setting is checked here, before any data is read or any file written."""
        if self.split_seed < 0:
            raise TrainingError(f"--split_seed must be at least 0, got {self.split_seed}")
        self.check_at_least_one("batch_size", "units", "ngram")
        if not 0 < self.validation_fraction < 1:
            raise TrainingError(f"--validation_fraction must be in (0, 1), got "
                                f"{self.validation_fraction}")
        if not 0 <= self.dropout < 1:
            raise TrainingError(f"--dropout must be in [0, 1), got {self.dropout}")
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise TrainingError(f"--learning_rate must be positive and finite, got "
                                f"{self.learning_rate}")
        if self.jit_compile not in ("auto", "true", "false"):
            raise TrainingError(f"--jit_compile must be auto, true or false, got {self.jit_compile!r}")
        if self.model not in VARIANTS:
            raise TrainingError(f"--model must be one of {VARIANTS}, got {self.model!r}")
        if self.ngram_padding not in NGRAM_PADDINGS:
            raise TrainingError(f"--ngram_padding must be one of {NGRAM_PADDINGS}, got "
                                f"{self.ngram_padding!r}")
        if self.dataset not in self.DATASETS:
            raise TrainingError(f"--dataset must be one of {self.DATASETS}{self.FOR_TASK}, got "
                                f"{self.dataset!r}")
        self.check_paths()
        self.check_task()
        self.loop_config()  # the loop checks its own settings (and --model_dir)

    def check_at_least_one(self, *names):
        for name in names:
            if getattr(self, name) < 1:
                raise TrainingError(f"--{name} must be at least 1, got {getattr(self, name)}")

    def check_paths(self):
        """Local paths only: a gs://... path is checked when it is used."""
        if self.data_dir is not None and files.is_local(self.data_dir):
            if not os.path.exists(self.data_dir):
                raise TrainingError(f"--data_dir={self.data_dir}: no such folder")
            if not os.path.isdir(self.data_dir):
                raise TrainingError(f"--data_dir={self.data_dir} is a file; it must be a folder")
        if self.cache_dir is not None and files.is_local(self.cache_dir) and \
                os.path.exists(self.cache_dir) and not os.path.isdir(self.cache_dir):
            raise TrainingError(f"--cache_dir={self.cache_dir} is a file; it must be a folder")

    def check_task(self):
        """The task's own fields (TrainingError naming the flag)."""

    def use_jit(self):
        """On: the loop-free variants, and every variant on GPU. Off: the sequential variants on
        CPU, where tools/benchmark.py measures XLA within noise of TensorFlow's loop for the
        LSTM-like cells (the linear kernels gain more) and compiling the loop costs time up front;
        `--jit_compile=true` turns it on."""
        if self.jit_compile in ("true", "false"):
            return self.jit_compile == "true"
        return (not get_variant(self.model).sequential) or bool(tf.config.list_physical_devices("GPU"))

    def loop_config(self):
        return LoopConfig(
            model_dir=self.model_dir, max_steps=self.max_steps, epochs=self.epochs,
            eval_every=self.eval_every, log_every=self.log_every, seed=self.seed,
            strategy=self.strategy, cpu_devices=self.cpu_devices, jit_compile=self.use_jit(),
            precision=self.precision, deterministic=self.deterministic, test=self.test)

    def policy(self):
        """The Keras dtype policy of --precision (auto: measured once, see precision.py; so
        only once TensorFlow's devices are configured)."""
        return precision.resolve(self.precision)
