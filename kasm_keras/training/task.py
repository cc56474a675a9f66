"""What a task gives the training loop: its data, model, loss, validation, best model and report.

`kasm_keras.training.loop.Trainer` owns everything that is the same for every task: the
tf.distribute strategy, the `strategy.run` step, checkpoints and exact resume, the NaN guard,
the progress bar, TensorBoard, evaluation every N steps, keeping the best model and writing
`metrics.json`. A task subclasses `Task` and fills in the rest, as `ClassificationTask`,
`LanguageModelTask` and `TimeSeriesTask` do.

The order the loop calls a task in:

    settings()                         written to config.json; fixed_settings checked against it
    prepare(log)                       load the data (raise TrainingError if it cannot train)
    check_model_dir(model_dir, resuming)  refuse a model_dir whose files do not fit this run
    build()                            inside strategy.scope(), after keras' seed is set
    checkpoint_variables()             variables of the task's own, checkpointed with the model's
    train_dataset(seed)                once; its iterator is checkpointed
    steps_per_epoch()                  to turn --epochs into steps
    write_files(model_dir)             files a trained run needs besides the model (chief only),
                                       once the checkpoint (if any) is restored
    batch_loss(model, batch)           traced into the training step
    validate(model)                    every eval_every steps and at the end (never when
                                       best_is_last)
    save_best(model, path)             when the monitored validation score improves, or at the
                                       last step when best_is_last (chief)
    load_best(path), report(model, test)  once, at the end (chief)
"""

import abc

from kasm_keras.data.vocabulary import Vocabulary
from kasm_keras.utils import files

VOCABULARY_FILE = "vocabulary.txt"


class TrainingError(RuntimeError):
    """A run that cannot start or go on; tools print its message as one `error: ...` line."""


class Task(abc.ABC):
    """One kind of model to train: what `Trainer` asks of it, in the order of the module's table.

    Subclass it, fill in the abstract methods and set the class attributes below; `Trainer`
    does everything that is the same for every task (strategy, checkpoints, resume, logging).

    Examples:
        The smallest task, a line fitted to y = 2x, trained for 8 steps:

        >>> import tempfile
        >>> import keras, numpy as np, tensorflow as tf
        >>> from kasm_keras.training import LoopConfig, Task, Trainer
        >>> class Line(Task):
        ...     def prepare(self, log):
        ...         self.x = np.linspace(-1, 1, 64, dtype="float32")[:, None]
        ...     def steps_per_epoch(self):
        ...         return 4
        ...     def build(self):
        ...         model = keras.Sequential([keras.Input([1]), keras.layers.Dense(1)])
        ...         return model, keras.optimizers.SGD(0.1)
        ...     def train_dataset(self, seed):
        ...         data = tf.data.Dataset.from_tensor_slices((self.x, 2 * self.x))
        ...         return data.repeat().batch(16, drop_remainder=True)
        ...     def batch_loss(self, model, batch):
        ...         x, y = batch
        ...         return tf.square(model(x, training=True) - y), {}
        ...     def validate(self, model):
        ...         return {"loss": float(np.mean((model(self.x) - 2 * self.x) ** 2))}
        ...     def report(self, model, test=True):
        ...         return {"parameters": model.count_params()}
        >>> keras.config.disable_interactive_logging()  # no progress bar
        >>> config = LoopConfig(tempfile.mkdtemp(), max_steps=8, eval_every=4)
        >>> metrics = Trainer(Line(), config, log=lambda line: None).run()
        >>> metrics["steps"], metrics["parameters"], metrics["val_loss"] < 1
        (8, 2, True)
    """

    #: The key of `validate`'s result that picks the best model, e.g. "accuracy".
    monitor: str = "loss"
    #: True when a larger `monitor` is better (accuracy), False when smaller is (loss, perplexity).
    higher_is_better: bool = False
    #: True when the task has nothing to validate on and its model at the last step is its best
    #: (a final fit on every training case, its length fixed beforehand, e.g. by
    #: cross-validation): `validate` is never called and the last model is kept.
    best_is_last: bool = False
    #: The best model's file name inside the model_dir (the loop passes the full path).
    best_model_file: str = "best.keras"
    #: Keys of `settings()` that a run resumed in the same model_dir must share.
    fixed_settings: tuple = ()

    def settings(self):
        """The run's settings, written to `<model_dir>/config.json`.

        A resumed run is refused if its `fixed_settings` differ from the saved ones.

        Returns:
            A JSON-serialisable dict.
        """
        return {}

    @abc.abstractmethod
    def prepare(self, log):
        """Loads and checks the data, before anything is written.

        Args:
            log: a function printing one line (the loop's logger).

        Raises:
            TrainingError: the data cannot train this run (too few examples, a bad file).
        """

    def check_model_dir(self, model_dir, resuming=False):
        """Checks that the files a previous run left in `model_dir` fit this one.

        Nothing may be written here: the loop writes only once nothing can refuse the run.

        Args:
            model_dir: the run's folder (a local path or `gs://...`).
            resuming: True when a checkpoint there is about to be restored, so the files it
                needs must be present.

        Raises:
            TrainingError: a file there does not fit this run, or is missing when `resuming`.
        """

    def write_files(self, model_dir):
        """Writes what a user of the trained model needs besides it (a vocabulary, ...).

        Args:
            model_dir: the run's folder; called on the chief only.
        """

    @abc.abstractmethod
    def steps_per_epoch(self):
        """Training steps in one pass over the training data, to turn epochs into steps.

        Returns:
            An int, at least 1.
        """

    @abc.abstractmethod
    def build(self):
        """Makes the model and its optimizer; called inside the strategy's scope.

        The loop wraps the optimizer in a LossScaleOptimizer under mixed_float16 and builds it.

        Returns:
            A tuple `(model, optimizer)`: a `keras.Model` and a Keras optimizer.
        """

    def checkpoint_variables(self):
        """Variables the task creates in `build` besides the model's and the optimizer's.

        They are checkpointed with those (state carried from batch to batch, say), so a
        resumed run goes on exactly.

        Returns:
            A list of `tf.Variable`s (empty by default).
        """
        return []

    @abc.abstractmethod
    def train_dataset(self, seed):
        """The training data as global batches, repeated forever.

        Its order must follow from `seed` alone (seeded shuffles, no non-deterministic ops), and
        every component's first dimension must be the global batch size, a multiple of the number
        of replicas: the loop iterates it on the host, checkpoints that iterator (shuffle buffer
        and position included) and gives each replica its slice of every batch.

        Args:
            seed: the run's seed (an int).

        Returns:
            A `tf.data.Dataset` whose elements `batch_loss` takes.
        """

    @abc.abstractmethod
    def batch_loss(self, model, batch):
        """The loss of one replica's slice of a batch, in training mode; traced into the step.

        Args:
            model: the model `build` made.
            batch: this replica's slice of one element of `train_dataset`.

        Returns:
            A tuple `(losses, metrics)`. `losses` holds one loss per example (any shape);
                the loop averages it over the global batch. `metrics` maps names to
                per-example values averaged the same way and logged beside the loss (use the
                names `validate` uses, so TensorBoard overlays train and validation).
        """

    @abc.abstractmethod
    def validate(self, model):
        """Scores `model` on the validation data (every `eval_every` steps and at the end).

        Args:
            model: the model being trained.

        Returns:
            A dict `{name: float}` that holds `monitor`.
        """

    def save_best(self, model, path):
        """Writes the best model so far (by default as a `.keras` file).

        Args:
            model: the model being trained.
            path: a new file (a temporary, local or remote) whose name ends like
                `best_model_file`; the loop moves it into place, records its sha256 and
                removes it if this fails.
        """
        model.save(path)

    def load_best(self, path):
        """Loads what `save_best` wrote (Keras' safe mode: no code from the file runs).

        Args:
            path: the best model's file, its digest already checked.

        Returns:
            The model, for `report`.
        """
        import keras

        with files.local_copy(path) as local:
            return keras.models.load_model(local, safe_mode=True)

    @abc.abstractmethod
    def report(self, model, test=True):
        """Describes the finished run from its best model, for `metrics.json`.

        Args:
            model: the best model, as `load_best` returned it.
            test: whether to evaluate the test split (once); False for a recipe search's run,
                which must not see it.

        Returns:
            A JSON-serialisable dict: the test scores and whatever describes the run (model,
                data, parameter counts). The loop adds its own fields.
        """


def check_vocabulary_file(model_dir, vocabulary, resuming=False):
    """Refuses a model_dir whose `vocabulary.txt` is not `vocabulary`, whose words its
    checkpoints would index; for `Task.check_model_dir`.

    Args:
        model_dir: the run's folder.
        vocabulary: the `Vocabulary` of this run's data.
        resuming: True when a checkpoint there is to be restored: then the file must exist.

    Raises:
        TrainingError: the file differs, or is missing when `resuming`.

    Examples:
        >>> import tempfile
        >>> from kasm_keras.data.vocabulary import Vocabulary
        >>> from kasm_keras.training.task import check_vocabulary_file, write_vocabulary_file
        >>> model_dir = tempfile.mkdtemp()
        >>> write_vocabulary_file(model_dir, Vocabulary(["[PAD]", "[UNK]", "oil"]))
        >>> check_vocabulary_file(model_dir, Vocabulary(["[PAD]", "[UNK]", "oil"]))
        >>> check_vocabulary_file(model_dir, Vocabulary(["[PAD]", "[UNK]", "wheat"]))
        Traceback (most recent call last):
        ...
        kasm_keras.training.task.TrainingError: ... differs from the vocabulary of this data ...
    """
    path = files.join(model_dir, VOCABULARY_FILE)
    if not files.exists(path):
        if resuming:
            raise TrainingError(f"{path} is missing, so the checkpoints in {model_dir} cannot "
                                "be checked against this data; the run is incomplete: use "
                                "another --model_dir")
        return
    try:
        with files.local_copy(path) as local:
            saved = Vocabulary.load(local, oov_token=vocabulary.oov_token,
                                    padding_token=vocabulary.padding_token).tokens
    except ValueError as error:  # another format: not this data's vocabulary either
        saved = error
    if saved != vocabulary.tokens:
        raise TrainingError(f"{path} differs from the vocabulary of this data (another "
                            "--data_dir or cache?); use another --model_dir")


def write_vocabulary_file(model_dir, vocabulary):
    """Writes `vocabulary.txt` (one token per line) into `model_dir`; for `Task.write_files`.

    Args:
        model_dir: the run's folder.
        vocabulary: the `Vocabulary` of this run's data.

    Examples:
        >>> import os, tempfile
        >>> from kasm_keras.data.vocabulary import Vocabulary
        >>> from kasm_keras.training.task import write_vocabulary_file
        >>> model_dir = tempfile.mkdtemp()
        >>> write_vocabulary_file(model_dir, Vocabulary(["[PAD]", "[UNK]", "oil"]))
        >>> os.listdir(model_dir)
        ['vocabulary.txt']
    """
    with files.local_output(files.join(model_dir, VOCABULARY_FILE)) as local:
        vocabulary.save(local)
