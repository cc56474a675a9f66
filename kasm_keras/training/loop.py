"""The one training loop: tf.distribute, checkpoints and exact resume, NaN guard, TensorBoard.

A `Task` (`kasm_keras.training.task`) supplies the model, data, loss, validation, best model and
report; `Trainer` does the rest the same way for every task:

- One step for every strategy: a `tf.function` that runs the task's loss and the optimizer with
  `strategy.run` and sums the replicas' losses with `strategy.reduce`. (Keras 3's `Model.fit`
  fails under MultiWorkerMirroredStrategy, keras-team/keras#20585, so fit is not used.)
- The training data is one host-side `tf.data` iterator of global batches; each replica takes
  its slice of every batch inside the step. Iterators of `experimental_distribute_dataset` and
  `distribute_datasets_from_function` cannot be checkpointed (TF 2.21's `DistributedIterator` is
  not trackable), while a plain `tf.data` iterator can, shuffle buffer and position included. So
  every strategy resumes exactly where it stopped: a run killed (SIGKILL included) and run again
  with the same command ends with the same weights as one that was never interrupted. Under
  MultiWorkerMirroredStrategy every worker reads the whole pipeline and keeps its replicas'
  slices, and only the chief writes checkpoints: to resume, give every worker the same
  `model_dir` on a shared file system (`gs://...` works), so each restores the chief's latest.
- A checkpoint (every `eval_every` steps and at the end) holds the model's variables (the
  dropout seed generators' states included: they are in `model.variables`), the optimizer's,
  the data iterator and the loop's bookkeeping; see `kasm_keras.training.checkpoints`.
- A signal the program handles (Ctrl-C, and the programs' SIGTERM and SIGHUP) that arrives
  during a step, a validation or a checkpoint write is held and passed on before the next step
  (`kasm_keras.utils.held_signals`): raised inside TensorFlow's C++ it crashed the process.
- A NaN or infinite loss stops the run with a message naming the last good checkpoint; the
  check runs before every checkpoint, so no checkpoint ever holds a diverged model.
- TensorBoard: `logs/train` and `logs/validation` use the same tag names (the loss and the
  task's metrics), so TensorBoard draws the two runs on the same charts; `logs/train` also has
  `learning_rate` and `steps_per_second`.
- The best model on the task's validation score is kept (the last step's, for a task whose
  `best_is_last`: it has nothing to validate on) (`Task.save_best`, with its sha256 in
  `<file>.sha256`, checked before it is loaded), and at the end the task evaluates it once and
  `metrics.json` is written atomically.
- A full disk while writing a checkpoint, the best model or its sidecar, metrics.json or the
  TensorBoard logs stops the run with a `DiskFullError` (`kasm_keras.utils.files`) naming
  the file being written; every file is written aside and renamed, so what was there before (the
  last checkpoint above all) stays intact, and the temporaries are removed (a killed run's by
  the next run in the model_dir).
- One run per model_dir: the chief holds an exclusive lock on `<model_dir>/.lock` for the whole
  run, so a second trainer is refused at once (see `kasm_keras.training.lock`; local paths only).
  Everything that can refuse a run (settings, data, a checkpoint that is corrupt or does not fit)
  is checked before the run writes anything, and a run that fails before its first checkpoint in
  a model_dir it found new leaves nothing there.

Bit-for-bit equal resumes need deterministic kernels. `LoopConfig.deterministic`
(`tools/train.py --deterministic`) calls `tf.config.experimental.enable_op_determinism()`, at
some cost in speed; on CPU it also needs oneDNN's kernels off (`TF_ENABLE_ONEDNN_OPTS=0` before
TensorFlow loads, which the programs set for `--deterministic`): on a busy machine those differ
from run to run in the last bits, and the difference grows as a run trains.
"""

import contextlib
import dataclasses
import json
import math
import os
import platform
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from kasm_keras.utils import files
from kasm_keras.utils.held_signals import HeldSignals
from kasm_keras.utils.version import __version__
from kasm_keras.training import checkpoints, precision
from kasm_keras.training.checkpoints import CheckpointError, CheckpointManager
from kasm_keras.training.lock import claim_model_dir
from kasm_keras.training.task import Task, TrainingError

STRATEGIES = ("default", "mirrored", "multi_worker")
LEGACY_STAGING_PREFIX = ".partial-"  # the best model being written, by older versions

__all__ = ["STRATEGIES", "LoopConfig", "Trainer", "TrainingError", "make_strategy", "is_chief"]


class _Summaries:
    """TensorBoard scalars in `folder` (written by the chief alone); a full disk is a
    DiskFullError naming the folder."""

    def __init__(self, folder, chief):
        self.folder = folder
        with files.writing(folder):
            self.writer = tf.summary.create_file_writer(folder) if chief else \
                tf.summary.create_noop_writer()

    def scalars(self, step, values):
        with files.writing(self.folder), self.writer.as_default(step=step):
            for name, value in values.items():
                tf.summary.scalar(name, value)

    def flush(self):
        with files.writing(self.folder):
            self.writer.flush()


@dataclasses.dataclass
class LoopConfig:
    """The training loop's settings, the same for every task; checked when made.

    Attributes:
        model_dir: the run's folder (local or `gs://...`): checkpoints, best model, logs,
            `config.json` and `metrics.json`.
        max_steps: training steps; None for `ceil(epochs * task.steps_per_epoch())`.
        epochs: passes over the training data, when `max_steps` is None.
        eval_every: validate, keep the best model and checkpoint every this many steps
            (None: once per epoch).
        log_every: progress bar, NaN check and TensorBoard every this many steps.
        seed: Keras' seed and the training data's order, in [0, 2**32).
        strategy: one of `STRATEGIES`.
        cpu_devices: split the CPU into this many logical devices (to try mirrored on CPU).
        jit_compile: XLA for the forward and backward pass.
        precision: a Keras dtype policy, or "auto" (resolved once the strategy has configured
            the devices, since deciding runs a timed matmul); see
            `kasm_keras.training.precision`.
        deterministic: `tf.config.experimental.enable_op_determinism()`, for bit-for-bit
            equal resumes.
        keep_checkpoints: how many checkpoints to keep.
        test: evaluate the test split once at the end (off for a recipe search, which must
            not see it).

    Raises:
        TrainingError: a setting is out of range, naming its `--flag`.

    Examples:
        >>> from kasm_keras.training import LoopConfig
        >>> config = LoopConfig("runs/demo", max_steps=100, eval_every=50)
        >>> config.precision, config.strategy
        ('float32', 'default')
        >>> LoopConfig("runs/demo", log_every=0)
        Traceback (most recent call last):
        ...
        kasm_keras.training.task.TrainingError: --log_every must be at least 1, got 0
    """

    model_dir: str
    max_steps: int | None = None
    epochs: float = 10.0
    eval_every: int | None = 500
    log_every: int = 20
    seed: int = 0
    strategy: str = "default"
    cpu_devices: int = 1
    jit_compile: bool = False
    precision: str = "float32"
    deterministic: bool = False
    keep_checkpoints: int = 2
    test: bool = True

    def __post_init__(self):
        for name in ("eval_every", "log_every", "cpu_devices", "keep_checkpoints"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise TrainingError(f"--{name} must be at least 1, got {getattr(self, name)}")
        if self.max_steps is not None and self.max_steps < 1:
            raise TrainingError(f"--max_steps must be at least 1, got {self.max_steps}")
        if not (self.epochs > 0 and math.isfinite(self.epochs)):
            raise TrainingError(f"--epochs must be positive and finite, got {self.epochs}")
        if not 0 <= self.seed < 2 ** 32:
            raise TrainingError(f"--seed must be in [0, 2**32), got {self.seed}")
        if self.precision not in precision.PRECISIONS:
            raise TrainingError(f"--precision must be one of {', '.join(precision.PRECISIONS)}, "
                                f"got {self.precision!r}")
        if self.strategy not in STRATEGIES:
            raise TrainingError(f"--strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        if files.is_local(self.model_dir) and os.path.isfile(self.model_dir):
            raise TrainingError(f"--model_dir={self.model_dir} is a file; it must be a folder")


def make_strategy(name, cpu_devices=1):
    """The tf.distribute strategy that `--strategy` names.

    Args:
        name: one of `STRATEGIES`: "default" (no distribution), "mirrored" (every GPU, or
            every logical CPU device without one) or "multi_worker" (the cluster `TF_CONFIG`
            describes).
        cpu_devices: split the CPU into this many logical devices first (before TensorFlow
            has initialised its devices), to try "mirrored" on a CPU.

    Returns:
        A `tf.distribute.Strategy`.

    Raises:
        TrainingError: an unknown name, or "multi_worker" without `TF_CONFIG`.

    Examples:
        >>> from kasm_keras.training.loop import make_strategy
        >>> make_strategy("default").num_replicas_in_sync
        1
    """
    if cpu_devices > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * cpu_devices)
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = None  # every GPU; without one, every logical CPU device
        if not tf.config.list_logical_devices("GPU"):
            devices = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise TrainingError("--strategy=multi_worker needs TF_CONFIG describing the cluster")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise TrainingError(f"--strategy must be one of {STRATEGIES}, got {name!r}")


def is_chief(strategy):
    """Whether this process is the one that writes (checkpoints, best model, metrics).

    That is the cluster's "chief", or worker 0 of a cluster without one; every process of a
    single-machine strategy.

    Args:
        strategy: a `tf.distribute.Strategy`.

    Returns:
        True or False.

    Examples:
        >>> import tensorflow as tf
        >>> from kasm_keras.training.loop import is_chief
        >>> is_chief(tf.distribute.get_strategy())
        True
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    return resolver.task_type in (None, "chief") or (
        resolver.task_type == "worker" and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict())


def library_versions():
    versions = {"kasm_keras": __version__, "tensorflow": tf.__version__,
                "keras": keras.__version__}
    for name in ("tensorflow_text", "tensorflow_datasets", "keras_hub"):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            pass
    versions.update(numpy=np.__version__, python=platform.python_version())
    return versions


def _learning_rate(optimizer):
    return float(tf.convert_to_tensor(optimizer.learning_rate))


def _replica_slice(batch):
    """This replica's part of a global batch (the whole batch without a strategy)."""
    context = tf.distribute.get_replica_context()
    replicas = context.num_replicas_in_sync
    if replicas == 1:
        return batch

    def part(tensor):
        size = tensor.shape[0] // replicas  # static; the other dimensions may vary by batch
        rest = tf.shape(tensor)[1:]
        return tf.reshape(tensor, tf.concat([[replicas, size], rest], 0))[
            context.replica_id_in_sync_group]

    return tf.nest.map_structure(part, batch)


def _check_batch_spec(spec, replicas):
    for component in tf.nest.flatten(spec):
        size = component.shape[0] if component.shape.rank else None
        if size is None:
            raise TrainingError("the training batches need a static batch size (batch with "
                                "drop_remainder=True)")
        if size % replicas:
            raise TrainingError(f"the global batch size {size} does not split evenly over "
                                f"{replicas} replicas")


class Trainer:
    """Trains any `Task` the same way: strategy, checkpoints and exact resume, NaN guard,
    TensorBoard, the best model and `metrics.json` (see the module's docstring).

    Args:
        task: the `Task` to train.
        config: a `LoopConfig`.
        command: the command line recorded in `metrics.json` (default: `sys.argv`).
        log: a function printing one line.

    Raises:
        TypeError: `task` is not a `Task`.

    Examples:
        A whole run of a small task is in `Task`'s example; a classifier's loop:

        >>> import tempfile
        >>> from kasm_keras.training import ClassificationTask, TrainConfig, Trainer
        >>> config = TrainConfig(model="rkm_cifg", dataset="ag_news",
        ...                      model_dir=tempfile.mkdtemp(), max_steps=100)
        >>> trainer = Trainer(ClassificationTask(config), config.loop_config())
        >>> trainer.config.max_steps
        100
    """

    def __init__(self, task, config, command=None, log=print):
        if not isinstance(task, Task):
            raise TypeError(f"task must be a kasm_keras.training.Task, got {type(task).__name__}")
        self.task = task
        self.config = config
        self.command = list(command or sys.argv)
        self.log = log

    # ------------------------------------------------------------------ set-up

    def _check_settings(self):
        path = files.join(self.config.model_dir, "config.json")
        if not files.exists(path):
            return
        try:
            saved = files.read_json(path)
        except (OSError, ValueError) as error:
            raise TrainingError(f"{error}; the model_dir holds a damaged run, use another "
                                "--model_dir") from None
        if not isinstance(saved, dict):
            raise TrainingError(f"{path}: not a run's settings (a JSON object)")
        current = self.task.settings()
        differ = [k for k in self.task.fixed_settings if k in saved and saved[k] != current.get(k)]
        if differ:
            details = ", ".join(f"{k}: {saved[k]!r} there, {current.get(k)!r} now" for k in differ)
            raise TrainingError(f"{self.config.model_dir} holds a run with other settings "
                                f"({details}); use another --model_dir or the same settings "
                                "to resume it")

    def _start(self):
        c = self.config
        if c.deterministic:
            tf.config.experimental.enable_op_determinism()
        self.strategy = make_strategy(c.strategy, c.cpu_devices)
        self.chief = is_chief(self.strategy)
        if c.deterministic and os.environ.get("TF_ENABLE_ONEDNN_OPTS") != "0" and self.chief:
            self.log("note: oneDNN's CPU kernels are on, and they are not repeatable bit for bit "
                     "on a busy machine; set TF_ENABLE_ONEDNN_OPTS=0 before TensorFlow is "
                     "imported (tools/train.py --deterministic does)")
        started = self._started_policy() if c.precision == "auto" else None
        self.policy = started or precision.resolve(c.precision)
        if self.chief:
            how = " (auto, as the run being resumed chose)" if started else " (auto)"
            self.log(f"precision: {self.policy}" + (how if c.precision == "auto" else ""))

    def _started_policy(self):
        """The policy "auto" chose when the run in model_dir started, if one did (its
        config.json); the settings check refuses a damaged or different run later."""
        path = files.join(self.config.model_dir, "config.json")
        try:
            saved = files.read_json(path) if files.exists(path) else {}
        except (OSError, ValueError, tf.errors.OpError):
            return None
        if isinstance(saved, dict) and saved.get("precision") == "auto" and \
                saved.get("policy") in precision.POLICIES:
            return saved["policy"]
        return None

    def _latest(self, manager):
        """The checkpoint to resume from, its digests checked (None for a new run)."""
        try:
            latest = manager.latest()
            if latest is not None:
                manager.verify(latest)
        except CheckpointError as error:
            raise TrainingError(f"cannot resume: {error}. Use another --model_dir, or delete "
                                f"{manager.directory} to start over") from error
        return latest

    def _check_best(self, path):
        try:
            checkpoints.verify_digest(path)
        except CheckpointError as error:
            raise TrainingError(f"{error}. Use another --model_dir, or delete it and the "
                                "checkpoints to start over") from None

    def _prepare(self, resuming):
        c = self.config
        self.task.prepare(self.log)
        self.task.check_model_dir(c.model_dir, resuming=resuming)
        keras.utils.set_random_seed(c.seed)
        with self.strategy.scope():
            self.model, optimizer = self.task.build()
            if precision.needs_loss_scaling(self.policy) and \
                    not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            optimizer.build(self.model.trainable_variables)
            self.optimizer = optimizer
        dataset = self.task.train_dataset(c.seed)
        _check_batch_spec(dataset.element_spec, self.strategy.num_replicas_in_sync)
        self.iterator = iter(dataset)
        # By position: Keras' variable paths hold process-wide counters (seed_generator_3,
        # adam_2), so they name the same variable differently in another process or model. The
        # paths go into state.json, to name what changed when a checkpoint does not fit.
        self.variables = {"model": list(self.model.variables),
                          "optimizer": list(self.optimizer.variables)}
        if self.task.checkpoint_variables():
            self.variables["task"] = list(self.task.checkpoint_variables())
        self.checkpoint = tf.train.Checkpoint(**self.variables, train_data=self.iterator)

    def _write_run_files(self):
        """config.json and the task's files: once nothing can refuse the run any more."""
        model_dir = self.config.model_dir
        files.write_text(files.join(model_dir, "config.json"),
                         json.dumps(self.task.settings(), indent=2))
        self.task.write_files(model_dir)

    def _restore(self, manager, latest):
        """Restores the checkpoint `latest`, if any: (state, step)."""
        state = {"best_scores": None, "best_step": 0, "train_seconds": 0.0, "history": []}
        if latest is None:
            if self.chief:
                self.log(f"training a new model in {self.config.model_dir}")
            return state, 0
        learning_rate = _learning_rate(self.optimizer)
        try:
            state = manager.restore(latest, self.checkpoint)
        except CheckpointError as error:
            raise TrainingError(f"cannot resume from {latest}: {error}"
                                f"{self._what_changed(manager, latest)}") from error
        try:  # the checkpoint holds the old run's learning rate; this run's flag wins
            self.optimizer.learning_rate = learning_rate
        except TypeError:  # a LearningRateSchedule: a function of the restored step count
            pass
        self.log(f"resuming from {latest} (step {state['step']})")
        return state, state["step"]

    def _variable_paths(self):
        return {k: [f"{v.path} {list(v.shape)}" for v in vs] for k, vs in self.variables.items()}

    def _what_changed(self, manager, path):
        """The first variable that differs from the checkpoint's, as a sentence (or "")."""
        try:
            saved = manager.read_state(path)["variables"]
        except (KeyError, ValueError, tf.errors.OpError):
            return ""
        for kind, now in self._variable_paths().items():
            then = saved.get(kind, [])
            for index, (a, b) in enumerate(zip(then, now)):
                if a.split()[1:] != b.split()[1:]:  # shapes: the names may carry other counters
                    return f". {kind} variable {index} was {a}, is now {b}"
            if len(then) != len(now):
                return f". The {kind} had {len(then)} variables, has {len(now)} now"
        return ""

    def _step_function(self):
        model, optimizer, strategy, task = self.model, self.optimizer, self.strategy, self.task
        replicas = strategy.num_replicas_in_sync

        def mean(values):  # this replica's share of the mean over the global batch
            values = tf.cast(values, tf.float32)
            return tf.reduce_sum(values) / tf.cast(tf.size(values) * replicas, tf.float32)

        @tf.function(jit_compile=self.config.jit_compile)
        def gradients(batch):
            with tf.GradientTape() as tape:
                losses, metrics = task.batch_loss(model, batch)
                loss = mean(losses)
                scaled = optimizer.scale_loss(loss)
            grads = tape.gradient(scaled, model.trainable_variables)
            return {"loss": loss, **{k: mean(v) for k, v in metrics.items()}}, grads

        def replica_step(batch):
            values, grads = gradients(_replica_slice(batch))
            optimizer.apply(grads, model.trainable_variables)
            return values

        # One trace for every batch length (length-aware batches vary in length).
        @tf.function(input_signature=[self.iterator.element_spec])
        def step(batch):
            values = strategy.run(replica_step, args=(batch,))
            return {k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
                    for k, v in values.items()}

        return step

    # ------------------------------------------------------------------ the loop

    def _validate(self, step):
        """The task's validation scores, logged; TrainingError without its monitored score."""
        scores = {k: float(v) for k, v in self.task.validate(self.model).items()}
        if self.task.monitor not in scores:
            raise TrainingError(f"the task's validation gave {sorted(scores)}, without its "
                                f"monitored score {self.task.monitor!r}")
        self.log("\nstep {}: validation {}".format(
            step, ", ".join(f"{k} {v:.4f}" for k, v in scores.items())))
        return scores

    def _better(self, scores, best):
        if best is None:
            return True
        new, old = scores[self.task.monitor], best[self.task.monitor]
        if math.isnan(new) or math.isnan(old):
            return not math.isnan(new)
        return new > old if self.task.higher_is_better else new < old

    def _save_best(self, path):
        """`Task.save_best` into a temporary beside `path` (named by the temporaries' rule, with
        `path`'s extension), then moved to `path` with its sha256 recorded in `<path>.sha256`;
        a full disk is a DiskFullError naming the file being written, and the temporary goes."""
        staging = files.temporary_name(path, keep_extension=True)
        try:
            with files.writing(path):
                self.task.save_best(self.model, staging)
            checkpoints.replace_with_digest(staging, path)
        finally:
            if files.exists(staging):
                tf.io.gfile.remove(staging)

    def _remove_staging_leftovers(self):
        """Removes the temporaries in the model_dir: the lock says that no writer of this
        model_dir is running, so they are a killed run's."""
        for name in files.listdir(self.config.model_dir):
            name = name.rstrip("/")
            if name.startswith(LEGACY_STAGING_PREFIX) or files.is_temporary(name):
                path = files.join(self.config.model_dir, name)
                if files.isdir(path):
                    files.rmtree(path)
                else:
                    tf.io.gfile.remove(path)

    def run(self):
        """Trains (or resumes the run in `model_dir`) to the end and reports on the best model.

        Keras' global dtype policy is the config's during the run and restored after it.

        Returns:
            The run's metrics, as written to `metrics.json` (the task's `report` and the
                loop's fields: steps, validation scores, history, speed, versions); None on a
                worker that is not the chief.

        Raises:
            TrainingError: the run cannot start or go on (settings, data, model_dir, a NaN
                loss), in one line.
        """
        c = self.config
        self._start()
        fixed = precision.auto_resolves_to(self.policy) if c.precision == "auto" \
            else contextlib.nullcontext()
        with precision.policy_scope(self.policy), fixed:
            if not self.chief:  # the chief alone writes: it holds the model_dir's lock
                return self._run()
            checkpoint_dir = files.join(c.model_dir, "checkpoints")
            with claim_model_dir(c.model_dir,
                                 keep=lambda: files.exists(files.join(checkpoint_dir, "latest"))):
                self._remove_staging_leftovers()
                return self._run()

    def _run(self):
        c, task = self.config, self.task
        manager = CheckpointManager(files.join(c.model_dir, "checkpoints"), keep=c.keep_checkpoints)
        best_path = files.join(c.model_dir, task.best_model_file)
        latest = self._latest(manager)  # refused at once, before the data is read
        if latest is not None:
            if files.exists(best_path):
                self._check_best(best_path)
            elif manager.read_state(latest).get("best_scores") is not None:
                raise TrainingError(f"{best_path} is missing, but {latest} has a best model; "
                                    "use another --model_dir, or delete the checkpoints to "
                                    "start over")
        self._check_settings()
        self._prepare(resuming=latest is not None)
        max_steps = c.max_steps or max(1, math.ceil(c.epochs * task.steps_per_epoch()))
        eval_every = c.eval_every or task.steps_per_epoch()
        state, step = self._restore(manager, latest)
        if self.chief:
            self._write_run_files()
        resumed_from = step
        step_fn = self._step_function()
        logs = files.join(c.model_dir, "logs")
        train_writer = _Summaries(files.join(logs, "train"), self.chief)
        validation_writer = _Summaries(files.join(logs, "validation"), self.chief)
        progbar = None  # made at the first flush, which names the values it shows
        window = []  # the reduced outputs of the steps since the last flush, as tensors
        timed_steps, timed_seconds = 0, 0.0
        warmup_done = False
        started = window_started = time.perf_counter()

        def flush():
            """Reads the window's losses: NaN guard, progress bar, TensorBoard, speed."""
            nonlocal window, window_started, timed_steps, timed_seconds, warmup_done, progbar
            seconds = time.perf_counter() - window_started
            values = {k: tf.stack([w[k] for w in window]).numpy().astype(np.float64)
                      for k in window[0]}
            first = step - len(window) + 1
            bad = np.flatnonzero(~np.isfinite(values["loss"]))
            if bad.size:
                kept = manager.latest()
                raise TrainingError(
                    f"loss became {values['loss'][bad[0]]} at step {first + bad[0]}; training "
                    f"stopped. The last good checkpoint is "
                    f"{kept or 'none (no checkpoint was written yet)'}, intact.")
            means = {k: float(np.mean(v)) for k, v in values.items()}
            speed = len(window) / seconds if seconds > 0 else float("nan")
            if warmup_done:  # the first window after (re)starting holds tracing: left out
                timed_steps += len(window)
                timed_seconds += seconds
            warmup_done = True
            if progbar is None:
                # The window's means as they are: Progbar's own running mean would weight a
                # resumed run's first window by every step before it.
                progbar = keras.utils.Progbar(max_steps, unit_name="step",
                                              stateful_metrics=list(means))
            progbar.update(step, list(means.items()))
            train_writer.scalars(step, {**means, "learning_rate": _learning_rate(self.optimizer),
                                        "steps_per_second": speed})
            window = []
            window_started = time.perf_counter()

        with HeldSignals() as held:
            while step < max_steps:
                held.deliver()  # a signal held since the last step stops the run here
                window.append(step_fn(next(self.iterator)))
                step += 1
                evaluate = step % eval_every == 0 or step == max_steps
                warmup_ends = not warmup_done and step - resumed_from == 3
                if evaluate or warmup_ends or step % c.log_every == 0:
                    flush()
                if not evaluate:
                    continue
                if task.best_is_last:  # nothing to validate on: the last step's model is best
                    scores = {}
                    better = step == max_steps
                else:
                    scores = self._validate(step)
                    validation_writer.scalars(step, scores)
                    better = self._better(scores, state["best_scores"])
                if better:
                    state.update(best_scores=scores, best_step=step)
                    if self.chief:
                        self._save_best(best_path)
                state["train_seconds"] += time.perf_counter() - started
                started = time.perf_counter()
                state["history"].append({"step": step, "train_seconds": state["train_seconds"],
                                         **{f"val_{k}": v for k, v in scores.items()}})
                if self.chief:
                    manager.save(step, self.checkpoint,
                                 {**state, "variables": self._variable_paths()})
                train_writer.flush()
                validation_writer.flush()
                window_started = time.perf_counter()
        train_writer.flush()
        validation_writer.flush()
        if not self.chief:  # the chief keeps the files and evaluates on test
            return None
        if state["best_scores"] is None:
            raise TrainingError(f"{c.model_dir}: no validation has run, so there is no best model")
        return self._finish(state, step, resumed_from, best_path,
                            timed_steps / timed_seconds if timed_seconds else None)

    def _load_best(self, path):
        self._check_best(path)
        try:
            return self.task.load_best(path)
        except Exception as error:  # a damaged file surfaces as many exception types
            message = " ".join(str(error).split())[:300]
            raise TrainingError(f"{path}: cannot be loaded ({type(error).__name__}: {message})"
                                ) from error

    def _finish(self, state, step, resumed_from, best_path, steps_per_second):
        c, task = self.config, self.task
        report = task.report(self._load_best(best_path), test=c.test)
        metrics = {
            **report,
            "test_evaluated": c.test,
            **{f"val_{k}": v for k, v in state["best_scores"].items()},
            "best_step": state["best_step"],
            "steps": step,
            "resumed_from_step": resumed_from,
            "train_seconds": state["train_seconds"],
            "history": state["history"],
            "train_steps_per_second": steps_per_second,
            "jit_compile": c.jit_compile,
            "precision": self.policy,
            "strategy": c.strategy,
            "replicas": self.strategy.num_replicas_in_sync,
            "deterministic": c.deterministic,
            "command": " ".join(self.command),
            "versions": library_versions(),
        }
        files.write_text(files.join(c.model_dir, "metrics.json"), json.dumps(metrics, indent=2))
        tests = ", ".join(f"{k} {v:.4f}" for k, v in report.items()
                          if k.startswith("test_") and isinstance(v, float))
        best = (f"the last model, step {state['best_step']}" if task.best_is_last else
                f"best validation {task.monitor} {state['best_scores'][task.monitor]:.4f} at "
                f"step {state['best_step']}")
        self.log(f"{tests + ' ' if tests else ''}({best})")
        return metrics
