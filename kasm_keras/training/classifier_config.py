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
    """Every setting `tools/train.py` gives a classifier, checked when made (each field is the
    flag of its name); defaults are the document classifier's (a subclass may redeclare a field
    with its own default). Build a subclass: `TrainConfig` or `TimeSeriesConfig`.

    Attributes:
        model: the kernel cell, one of `kasm_keras.layers.variants.VARIANTS`.
        dataset: one of the subclass' `DATASETS`.
        model_dir: the run's folder (local or `gs://...`).
        data_dir: where the data is (None: the task's default).
        cache_dir: where prepared data is cached (None: the task's default).
        ngram: the cell's n-gram order.
        ngram_padding: how the n-gram window is padded at the start, one of
            `kasm_keras.layers.kernel_cell.NGRAM_PADDINGS`.
        units: the cell's units.
        layer_norm: layer-normalise the cell's pre-activations.
        learn_sigmas: learn the kernels' widths.
        epochs: passes over the training data (when `max_steps` is None).
        max_steps: training steps (None: from `epochs`).
        batch_size: the global batch size.
        learning_rate: Adam's learning rate.
        dropout: the head's dropout rate, in [0, 1).
        validation_fraction: the share of the training rows held out for validation.
        seed: initialisation, dropout and shuffling.
        split_seed: which training rows are held out for validation.
        eval_every: validate and checkpoint every this many steps (None: once per epoch).
        log_every: log every this many steps.
        jit_compile: "auto", "true" or "false"; see `use_jit`.
        precision: "auto", "float32", "mixed_bfloat16" or "mixed_float16"; see `policy`.
        strategy: one of `kasm_keras.training.loop.STRATEGIES`.
        cpu_devices: split the CPU into this many logical devices (to try mirrored on CPU).
        deterministic: deterministic kernels, for bit-for-bit equal resumes.
        test: evaluate the test split at the end (off for a recipe search).

    Raises:
        TrainingError: a setting is out of range or a path is not a folder, naming its flag.

    Examples:
        >>> from kasm_keras.training import TrainConfig
        >>> config = TrainConfig(model="rkm_cifg", dataset="ag_news", model_dir="runs/x")
        >>> config.units, config.batch_size
        (300, 64)
        >>> TrainConfig(model="rkm_cifg", dataset="ag_news", model_dir="runs/x",
        ...             learning_rate=0)
        Traceback (most recent call last):
        ...
        kasm_keras.training.task.TrainingError: --learning_rate must be positive and finite, ...
    """

    # The data sets the task takes, and how --dataset's error names the task.
    DATASETS = ()
    FOR_TASK = ""
    # Whether the task trains without a validation split (validation_fraction 0: the last
    # model is kept), for a final fit whose length was fixed beforehand.
    WITHOUT_VALIDATION = False

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
    seed: int = 0
    split_seed: int = 0
    eval_every: int | None = 500
    log_every: int = 20
    jit_compile: str = "auto"
    precision: str = "auto"
    strategy: str = "default"
    cpu_devices: int = 1
    deterministic: bool = False
    test: bool = True

    def __post_init__(self):
        """Every setting is checked here, before any data is read or any file written."""
        if self.split_seed < 0:
            raise TrainingError(f"--split_seed must be at least 0, got {self.split_seed}")
        self.check_at_least_one("batch_size", "units", "ngram")
        if not (0 < self.validation_fraction < 1 or
                self.WITHOUT_VALIDATION and self.validation_fraction == 0):
            interval = "[0, 1)" if self.WITHOUT_VALIDATION else "(0, 1)"
            raise TrainingError(f"--validation_fraction must be in {interval}, got "
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
        """Checks that the fields `names` are at least 1, for `check_task`.

        Args:
            *names: field names.

        Raises:
            TrainingError: naming the first field below 1 as its flag.
        """
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
        """Whether to compile the training step with XLA (`--jit_compile`).

        "auto" turns it on for the loop-free variants, and for every variant on GPU; off for
        the sequential variants on CPU, where XLA gains little for the LSTM-like cells and
        compiling the loop costs time up front.

        Returns:
            True or False.
        """
        if self.jit_compile in ("true", "false"):
            return self.jit_compile == "true"
        return (not get_variant(self.model).sequential) or bool(tf.config.list_physical_devices("GPU"))

    def loop_config(self):
        """The training loop's share of these settings.

        Returns:
            A `kasm_keras.training.LoopConfig`.
        """
        return LoopConfig(
            model_dir=self.model_dir, max_steps=self.max_steps, epochs=self.epochs,
            eval_every=self.eval_every, log_every=self.log_every, seed=self.seed,
            strategy=self.strategy, cpu_devices=self.cpu_devices, jit_compile=self.use_jit(),
            precision=self.precision, deterministic=self.deterministic, test=self.test)

    def policy(self):
        """The Keras dtype policy that `--precision` resolves to on this machine.

        "auto" is measured once (`kasm_keras.training.precision`), so call this only once
        TensorFlow's devices are configured.

        Returns:
            A policy name: "float32", "mixed_bfloat16" or "mixed_float16".
        """
        return precision.resolve(self.precision)
