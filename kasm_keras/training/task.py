"""What a task gives the training loop: its data, model, loss, validation, best model and report.

`kasm_keras.training.loop.Trainer` owns everything that is the same for every task: the
tf.distribute strategy, the `strategy.run` step, checkpoints and exact resume, the NaN guard,
the progress bar, TensorBoard, evaluation every N steps, keeping the best model and writing
`metrics.json`. A task subclasses `Task` and fills in the rest; `ClassificationTask`
(`kasm_keras.training.classification`) is the first.

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
    validate(model)                    every eval_every steps and at the end
    save_best(model, path)             when the monitored validation score improves (chief)
    load_best(path), report(model, test)  once, at the end (chief)
"""

import abc

from kasm_keras.data.vocabulary import Vocabulary
from kasm_keras.utils import files

VOCABULARY_FILE = "vocabulary.txt"


class TrainingError(RuntimeError):
    """A run that cannot start or go on; tools print its message as one `error: ...` line."""


class Task(abc.ABC):
    #: The key of `validate`'s result that picks the best model, e.g. "accuracy".
    monitor: str = "loss"
    #: True when a larger `monitor` is better (accuracy), False when smaller is (loss, perplexity).
    higher_is_better: bool = False
    #: The best model's file name inside the model_dir (the loop passes the full path).
    best_model_file: str = "best.keras"
    #: Keys of `settings()` that a run resumed in the same model_dir must share.
    fixed_settings: tuple = ()

    def settings(self):
        """JSON-serialisable settings of the run, written to `<model_dir>/config.json`."""
        return {}

    @abc.abstractmethod
    def prepare(self, log):
        """Loads and checks the data; `log` prints a line. Raises TrainingError if unusable."""

    def check_model_dir(self, model_dir, resuming=False):
        """Raises TrainingError if files a previous run left in `model_dir` do not fit this one
        (or, when `resuming` from its checkpoint, are missing). Nothing may be written here: the
        loop writes only once nothing can refuse the run."""

    def write_files(self, model_dir):
        """Writes what a user of the trained model needs besides it (a vocabulary, ...)."""

    @abc.abstractmethod
    def steps_per_epoch(self):
        """Training steps in one pass over the training data (at least 1)."""

    @abc.abstractmethod
    def build(self):
        """(keras.Model, keras optimizer), called inside the strategy's scope.

        The loop wraps the optimizer in a LossScaleOptimizer under mixed_float16 and builds it.
        """

    def checkpoint_variables(self):
        """Variables the task creates in `build` besides the model's and the optimizer's (state
        carried from batch to batch, say): checkpointed with them, so a resumed run goes on
        exactly."""
        return []

    @abc.abstractmethod
    def train_dataset(self, seed):
        """A `tf.data.Dataset` of global batches, repeated forever.

        Its order must follow from `seed` alone (seeded shuffles, no non-deterministic ops), and
        every component's first dimension must be the global batch size, a multiple of the number
        of replicas: the loop iterates it on the host, checkpoints that iterator (shuffle buffer
        and position included) and gives each replica its slice of every batch.
        """

    @abc.abstractmethod
    def batch_loss(self, model, batch):
        """(losses, metrics) for one replica's slice of a batch, in training mode.

        `losses` holds one loss per example (any shape); the loop averages it over the global
        batch. `metrics` maps names to per-example values averaged the same way and logged beside
        the loss (use the names `validate` uses, so TensorBoard overlays train and validation).
        """

    @abc.abstractmethod
    def validate(self, model):
        """{name: float} on the validation data; must hold `monitor`."""

    def save_best(self, model, path):
        """Writes the best model so far to `path`, a new file (a temporary, local or remote)
        whose name ends like `best_model_file`; the loop moves it into place, records its
        sha256 and removes it if this fails. By default a `.keras` file."""
        model.save(path)

    def load_best(self, path):
        """Loads what `save_best` wrote (Keras' safe mode: no code from the file runs)."""
        import keras

        with files.local_copy(path) as local:
            return keras.models.load_model(local, safe_mode=True)

    @abc.abstractmethod
    def report(self, model, test=True):
        """Fields of `metrics.json` from the best model: the one test evaluation (none without
        `test`: a recipe search's run) and whatever describes the run (model, data, parameter
        counts). The loop adds its own fields."""


def check_vocabulary_file(model_dir, vocabulary, resuming=False):
    """For `Task.check_model_dir`: refuses a model_dir whose `vocabulary.txt` is not
    `vocabulary` (a `Vocabulary`), since its checkpoints index another vocabulary's words, or
    that lacks one when `resuming`."""
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
    """For `Task.write_files`: the vocabulary, one token per line, beside the checkpoints."""
    with files.local_output(files.join(model_dir, VOCABULARY_FILE)) as local:
        vocabulary.save(local)
