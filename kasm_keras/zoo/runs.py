"""Finished tools/train.py runs as the zoo sees them: the best model of one (`load_run`), what
is kept of a run that was not published (`run_summary`, another seed of a published cell) and
which of a cell's seeds to publish (`best_run`)."""

import os

import keras

from kasm_keras.models import task_family
from kasm_keras.models.entry_storage import read_json
from kasm_keras.models.task_family import ZooError

# The document classifier's recipe settings (each family's are its `recipe_keys`).
RECIPE_KEYS = task_family.get("classification").recipe_keys


def load_run(model_dir):
    """The best model of a finished tools/train.py run, of any family.

    `best.keras` is checked against its recorded sha256 and loaded in Keras' safe mode.

    Args:
        model_dir: the run's directory (`best.keras`, `config.json`).

    Returns:
        The model, with `.info` holding the run's settings (`config.json`).

    Raises:
        ZooError: the run is not finished, or its `best.keras` is changed or not loadable.

    Examples:
        >>> from kasm_keras import zoo
        >>> model = zoo.load_run("runs/ag_news_rkm_cifg_1gram")
        >>> model.info["dataset"]
        'ag_news'
    """
    from kasm_keras.training.checkpoints import CheckpointError, verify_digest

    best = os.path.join(model_dir, "best.keras")
    config = read_json(os.path.join(model_dir, "config.json"))
    if not os.path.exists(best):
        raise ZooError(f"{model_dir} is not a finished training run; missing: {best}")
    try:
        verify_digest(best)
    except CheckpointError as error:
        raise ZooError(str(error)) from error
    try:
        model = keras.models.load_model(best, safe_mode=True)
    except Exception as error:  # a corrupt zip or h5 surfaces as many exception types
        raise ZooError(f"{best}: not a loadable Keras model ({type(error).__name__}: {error})") from error
    model.info = config
    return model


def run_family(metrics, where):
    """The task family of a finished run.

    Args:
        metrics: The run's metrics.json, as a dict.
        where: What names the run in the error, e.g. its metrics.json's path.

    Returns:
        The TaskFamily.

    Raises:
        ZooError: No family's run has these metrics.

    Examples:
        >>> from kasm_keras.zoo import runs
        >>> runs.run_family({"dataset": "ptb", "test_perplexity": 90.0}, "metrics.json").name
        'language_model'
    """
    family = task_family.of_run(metrics)
    if family is None:
        raise ZooError(f"{where}: not a finished tools/train.py run (the metrics of no task: "
                       f"{', '.join(task_family.names())})")
    return family


def run_summary(model_dir):
    """What the zoo keeps of a finished tools/train.py run that was not published.

    Another seed of a published entry is summarised, not stored, so the seed noise of the
    entry stays known. What is kept is the run's family's (`TaskFamily.run_summary`).

    Args:
        model_dir: the run's directory (`metrics.json`, `config.json`).

    Returns:
        A dict: "name", "seed", the family's validation and test results (a classifier's
            "val_accuracy" and "test_accuracy", fractions; a language model's perplexities),
            "steps", "run", "command" and "recipe" (the family's `recipe_keys` of
            config.json, with the validation split's seed), and what else the family keeps
            (a classifier's "training_documents").

    Raises:
        ZooError: `model_dir` is not a finished tools/train.py run.

    Examples:
        >>> from kasm_keras import zoo
        >>> zoo.run_summary("runs/ag_news_rkm_cifg_1gram")["name"]
        'ag_news/rkm_cifg_1gram'
    """
    return _summarised(model_dir)[1]


def _summarised(model_dir):
    """(the run's family, its `run_summary`)."""
    metrics = read_json(os.path.join(model_dir, "metrics.json"))
    config = read_json(os.path.join(model_dir, "config.json"))
    family = run_family(metrics, model_dir)
    try:
        return family, {**family.run_summary(metrics, config), "run": model_dir}
    except (KeyError, TypeError, ValueError) as error:
        what = f"no {error.args[0]!r}" if isinstance(error, KeyError) else str(error)
        raise ZooError(f"{model_dir}: not a finished tools/train.py run (metrics.json or "
                       f"config.json: {what})") from None


def best_run(model_dirs):
    """Of finished runs of one entry that differ in their seed, the one to publish.

    The choice is the best validation result (a classifier's accuracy, a language model's
    perplexity; on a tie, the lowest seed: `TaskFamily.selection_key`): the test split plays
    no part in it, so the published test result is not picked for its luck.

    Args:
        model_dirs: the runs' directories.

    Returns:
        The chosen run's directory.

    Raises:
        ZooError: no runs, a run that is not finished, or runs of different cells.

    Examples:
        >>> from kasm_keras import zoo
        >>> best = zoo.best_run(["runs/seed0", "runs/seed1", "runs/seed2"])
    """
    if not model_dirs:
        raise ZooError("no runs to choose from")
    summarised = [_summarised(d) for d in model_dirs]
    cells = sorted({summary["name"] for _, summary in summarised})
    if len(cells) > 1:
        raise ZooError(f"the runs are of different cells ({', '.join(cells)}); the best seed is "
                       "chosen among runs of one cell")
    family = summarised[0][0]
    return min((summary for _, summary in summarised), key=family.selection_key)["run"]
