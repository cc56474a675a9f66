"""Finished tools/train.py runs as the zoo sees them: the best model of one (`load_run`), what
is kept of a run that was not published (`run_summary`, another seed of a published cell) and
which of a cell's seeds to publish (`best_run`)."""

import os

import keras

from kasm_keras.models.entry_storage import read_json
from kasm_keras.models.task_family import ZooError, cell_name, split_seed

# The settings of config.json that make a run's recipe (with the validation split's seed):
# runs of one cell that differ only in their seed (and where they were written, how fast they
# ran) measure the seed noise.
RECIPE_KEYS = ("model", "dataset", "ngram", "ngram_padding", "units", "layer_norm", "learn_sigmas",
               "epochs", "max_steps", "batch_size", "learning_rate", "dropout", "max_length",
               "embeddings", "embedding_dim", "train_embeddings", "max_vocabulary", "min_count",
               "validation_fraction", "eval_every")


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


def run_summary(model_dir):
    """What the zoo keeps of a finished tools/train.py run that was not published.

    Another seed of a published cell is summarised, not stored, so the seed noise of the cell
    stays known.

    Args:
        model_dir: the run's directory (`metrics.json`, `config.json`).

    Returns:
        A dict: "name", "seed", "val_accuracy" and "test_accuracy" (fractions), "steps",
            "training_documents", "run", "command" and "recipe" (`RECIPE_KEYS` of
            config.json, with the validation split's seed).

    Raises:
        ZooError: `model_dir` is not a finished tools/train.py run.

    Examples:
        >>> from kasm_keras import zoo
        >>> zoo.run_summary("runs/ag_news_rkm_cifg_1gram")["name"]
        'ag_news/rkm_cifg_1gram'
    """
    metrics = read_json(os.path.join(model_dir, "metrics.json"))
    config = read_json(os.path.join(model_dir, "config.json"))
    try:
        name = cell_name(metrics["dataset"], metrics["model"], metrics["ngram"])
        summary = {"name": name, "seed": int(config["seed"]),
                   "val_accuracy": float(metrics["val_accuracy"]),
                   "test_accuracy": float(metrics["test_accuracy"]),
                   "steps": int(metrics["steps"]),
                   "training_documents": int(metrics["splits"]["train"]
                                             + metrics["splits"]["validation"]),
                   "run": model_dir, "command": metrics.get("command"),
                   "recipe": {**{k: config[k] for k in RECIPE_KEYS if k in config},
                              "split_seed": split_seed(config)}}
    except (KeyError, TypeError, ValueError) as error:
        what = f"no {error.args[0]!r}" if isinstance(error, KeyError) else str(error)
        raise ZooError(f"{model_dir}: not a finished tools/train.py run (metrics.json or "
                       f"config.json: {what})") from None
    return summary


def best_run(model_dirs):
    """Of finished runs of one cell that differ in their seed, the one to publish.

    The choice is the best validation accuracy (on a tie, the lowest seed): the test split
    plays no part in it, so the published test accuracy is not picked for its luck.

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
    summaries = [run_summary(d) for d in model_dirs]
    cells = sorted({s["name"] for s in summaries})
    if len(cells) > 1:
        raise ZooError(f"the runs are of different cells ({', '.join(cells)}); the best seed is "
                       "chosen among runs of one cell")
    return min(summaries, key=lambda s: (-s["val_accuracy"], s["seed"]))["run"]
