"""The zoo's language models: Table 3's cells, `<corpus>/<variant>` (`ptb/rkm_lstm`).

An entry is a keras-hub preset of a `KernelCausalLM` with its preprocessor (`config.json`,
`task.json`, `preprocessor.json`, `tokenizer.json`, `assets/tokenizer/vocabulary.txt`,
`model.weights.h5`, `metadata.json`; the softmax is the embedding's transpose, so the task has no
weights of its own), stored compactly: the tied embedding as int8 rows with a float16 scale each
(`TiedEmbedding` reassembles them; `EXACT_EMBEDDING_ROWS` most frequent rows may be kept in
float16), the cells' matrices as int8 with a float32 scale per column (`KernelCell` reads them,
`kasm_keras.layers.int8_storage`), biases and norms in float16. keras-hub loads the entry too. Its
registry record has `"task": "language_model"`.

Publishing (`publish_run`, what `tools/zoo.py publish` runs for a language model's run) stores
the run's best model, loads the stored files back (verified) and measures their perplexity over
the whole test split with the state carried from window to window (`KernelCausalLM.perplexity`
with the run's `test_batch_size` and `bptt`): that measurement is the entry's `test_perplexity`,
and the entry is refused when it differs from the run's own by more than
`zoo.MAX_PERPLEXITY_CHANGE` (relative).

Measured on `ptb/lstm` (cpu recipe; test split at batch 1, bptt 70): 88.9092 as trained, 88.9076
from these files (-0.002%; int8 recurrent kernels alone moved it by -0.001%), far inside the 0.5%
a published entry may move (`zoo.MAX_PERPLEXITY_CHANGE`, checked on every entry when it is
published). The entry is 8.5 MB, against 17 MB in float16.
"""

import math
import os

from kasm_keras import zoo

# The settings of a run's config.json that make a language model's recipe (`info`'s "recipe").
RECIPE_KEYS = ("num_layers", "hidden_dim", "embedding_dim", "layer_norm", "dropout",
               "hidden_dropout", "input_dropout", "embedding_dropout", "weight_dropout", "alpha",
               "beta", "weight_decay", "learning_rate", "clip_norm", "nonmono", "average_after",
               "batch_size", "bptt", "epochs", "max_steps", "eval_every", "eval_batch_size",
               "test_batch_size", "policy")
# What a language model's metrics.json must hold to be published.
METRICS_KEYS = ("dataset", "model", "test_perplexity", "val_perplexity", "parameters",
                "state_sizes", "steps", "steps_per_epoch", "train_seconds", "command",
                "versions")
# The metadata the registry keeps (what `info` returns without downloading); metadata.json
# also holds the run's whole metrics.json ("metrics") and config.json ("training").
SUMMARY_KEYS = ("task", "dataset", "variant", "test_perplexity", "test_cross_entropy",
                "test_tokens", "val_perplexity", "trained_test_perplexity", "paper_perplexity",
                "paper_valid_perplexity", "pytorch_perplexity", "parameters", "state_sizes",
                "steps", "steps_per_epoch", "epochs", "training_minutes", "corpus_tokens",
                "evaluation", "recipe", "command", "seed", "versions", "storage")
# Tied-embedding rows kept in float16 (the most frequent words; none: int8 rows cost 0.002% on
# ptb/lstm, see above); the rest are int8 rows.
EXACT_EMBEDDING_ROWS = 0
# The path component whose layers' matrices are stored as int8 (the recurrent cells').
INT8_MATRICES_UNDER = "cell"
# Where `TiedEmbedding.load_own_variables` reads the int8 rows and their scales ("1" is its bias).
INT8_KEYS = ("2", "3")


def storage_label(exact_rows=EXACT_EMBEDDING_ROWS):
    """How an entry's weights are stored (its metadata's "storage")."""
    rows = (f"rows past the {exact_rows:,} most frequent words" if exact_rows else "rows")
    return (f"int8 tied embedding {rows} with a float16 scale each; int8 cell matrices with a "
            "float32 scale per column; the rest float16")


def is_language_model_run(metrics):
    """Whether a run's metrics.json is a language model's."""
    from kasm_keras.data.language_model_data import CORPORA

    return "test_perplexity" in metrics or metrics.get("dataset") in CORPORA


def _number(metadata, key, where):
    value = metadata.get(key)
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise zoo.ZooError(f"{where}: unreadable metadata ({key} {value!r} is not a number); "
                           "the registry is damaged") from None
    if not math.isfinite(number):
        raise zoo.ZooError(f"{where}: unreadable metadata ({key} is {value!r}); the registry "
                           "is damaged")
    return number


def info_fields(metadata, where="the registry"):
    """A language model's `info`:

    - `task` ("language_model"), `dataset` (the corpus), `variant`;
    - `test_perplexity`: measured from the entry's stored files when it was published (the
      whole test split, state carried, `evaluation`'s batch size and bptt); `val_perplexity`:
      the run's best validation perplexity (which chose the model); `trained_test_perplexity`:
      the run's own test measurement, before storage;
    - `paper_perplexity` and `paper_valid_perplexity`: Table 3's test and validation cells;
      `pytorch_perplexity`: the PyTorch reproduction's test perplexity (PTB's RKM-CIFG only,
      None elsewhere);
    - `parameters` ({"total", "recurrent", "embedding"}; the softmax is the embedding) and
      `total_parameters`; `state_sizes`: each recurrent layer's width (its h and c), so
      `len(state_sizes)` layers;
    - `steps`, `steps_per_epoch`, `epochs` (steps / steps_per_epoch), `training_minutes`;
    - `recipe`: the run's settings (`RECIPE_KEYS`: layers, widths, dropouts, batch size,
      bptt...), `command`, `seed`, `versions`, `storage`, `corpus_tokens`.
    """
    from kasm_keras import paper

    fields = dict(metadata)
    for key in ("test_perplexity", "val_perplexity", "trained_test_perplexity", "epochs",
                "training_minutes"):
        if key in fields:
            fields[key] = _number(fields, key, where)
    corpus, variant = fields.get("dataset"), fields.get("variant")
    fields.setdefault("paper_perplexity", paper.table3_perplexity(corpus, variant, "test"))
    fields.setdefault("paper_valid_perplexity", paper.table3_perplexity(corpus, variant, "valid"))
    fields.setdefault("pytorch_perplexity", paper.pytorch_table3_perplexity(corpus, variant))
    parameters = fields.get("parameters")
    if isinstance(parameters, dict):
        fields.setdefault("total_parameters", parameters.get("total"))
    return fields


def entry_metadata(metrics, training):
    """An entry's metadata from the run's metrics.json and settings (config.json), before its
    test perplexity is measured from the stored files."""
    from kasm_keras import paper

    corpus, variant = metrics["dataset"], metrics["model"]
    steps, per_epoch = int(metrics["steps"]), int(metrics["steps_per_epoch"])
    return {
        "task": zoo.LANGUAGE_MODEL, "dataset": corpus, "variant": variant,
        "val_perplexity": float(metrics["val_perplexity"]),
        "trained_test_perplexity": float(metrics["test_perplexity"]),
        "paper_perplexity": paper.table3_perplexity(corpus, variant, "test"),
        "paper_valid_perplexity": paper.table3_perplexity(corpus, variant, "valid"),
        "pytorch_perplexity": paper.pytorch_table3_perplexity(corpus, variant),
        "parameters": metrics["parameters"], "state_sizes": list(metrics["state_sizes"]),
        "steps": steps, "steps_per_epoch": per_epoch,
        "epochs": steps / per_epoch if per_epoch else None,
        "training_minutes": float(metrics["train_seconds"]) / 60,
        "corpus_tokens": metrics.get("corpus_tokens"),
        "evaluation": {"batch_size": int(training.get("test_batch_size", 1)),
                       "bptt": int(training.get("bptt", 70))},
        "recipe": {k: training[k] for k in RECIPE_KEYS if k in training},
        "command": metrics["command"], "seed": training.get("seed"),
        "versions": metrics["versions"], "storage": storage_label(),
        "metrics": metrics, "training": training,
    }


def state_label(sizes):
    """Recurrent state sizes as layers x width: "1 x 8", "2 x (650, 400)"; "" for none."""
    if not sizes:
        return ""
    widths = str(sizes[0]) if len(set(sizes)) == 1 else "(" + ", ".join(map(str, sizes)) + ")"
    return f"{len(sizes)} x {widths}"


def summary(metadata):
    """What the registry keeps of an entry's metadata."""
    return {k: metadata[k] for k in SUMMARY_KEYS if k in metadata}


# ------------------------------------------------------------------ loading

def _check_consistent(lm, directory):
    """Files that match their digests can still disagree with each other."""
    tokenizer = lm.preprocessor.tokenizer if lm.preprocessor is not None else None
    if tokenizer is None:
        raise zoo.ZooError(f"{directory}/preprocessor.json: a language model entry needs its "
                           "preprocessor (the vocabulary)")
    if tokenizer.vocabulary_size() != lm.backbone.vocabulary_size:
        raise zoo.ZooError(f"{directory}/assets/tokenizer/vocabulary.txt has "
                           f"{tokenizer.vocabulary_size()} tokens, config.json's embedding "
                           f"{lm.backbone.vocabulary_size} rows")
    path = os.path.join(directory, "metadata.json")
    if os.path.exists(path):
        variant = zoo._read_json(path).get("kasm_keras", {}).get("variant")
        if variant is not None and variant != lm.backbone.variant:
            raise zoo.ZooError(f"{path} names the variant {variant}, config.json "
                               f"{lm.backbone.variant}")


def load_preset(directory):
    """A `KernelCausalLM` (with its preprocessor) from a verified preset directory, in safe
    mode; every file that does not fit the others is named."""
    from kasm_keras.models.kernel_lm import KernelCausalLM

    try:
        lm = KernelCausalLM.from_preset(directory, load_weights=False)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise zoo.ZooError(f"{directory}: the configs (task.json, config.json, "
                           f"preprocessor.json, tokenizer.json) or the vocabulary do not make a "
                           f"kasm_keras language model ({error})") from error
    if not isinstance(lm, KernelCausalLM):
        raise zoo.ZooError(f"{directory}/task.json: a {type(lm).__name__}, not a kasm_keras "
                           "language model")
    _check_consistent(lm, directory)
    path = os.path.join(directory, "model.weights.h5")
    try:
        zoo.every_weight(lambda: lm.backbone.load_weights(path))
    except Exception as error:  # h5py and Keras raise many types for arrays that do not fit
        raise zoo.ZooError(f"{path} does not fit the model of task.json and config.json "
                           f"({type(error).__name__}: {error})") from error
    return lm


# ------------------------------------------------------------------ measuring

def split_ids(lm, corpus, data_dir=None, cache_dir=None, split="test"):
    """A split of `corpus` as ids of `lm`'s vocabulary. The corpus's vocabulary (its training
    split's words) must be the model's: perplexities over other vocabularies do not compare."""
    from kasm_keras.data import language_model_data

    data = language_model_data.load_corpus(corpus, data_dir, cache_dir=cache_dir)
    tokens = lm.preprocessor.tokenizer.get_vocabulary()
    if list(data.vocabulary.tokens) != list(tokens):
        raise zoo.ZooError(f"the vocabulary of {data.paths['train']} ({len(data.vocabulary):,} "
                           f"words) is not the model's ({len(tokens):,} words): a perplexity "
                           "compares only over the vocabulary the model was trained on")
    return data.splits[split]


def measure(lm, ids, batch_size, bptt):
    """{"perplexity", "cross_entropy", "tokens"} over a whole stream, the state carried."""
    return lm.perplexity(ids, batch_size=batch_size, sequence_length=bptt)


def relative_change(measured, reference):
    return measured / reference - 1.0


# ------------------------------------------------------------------ publishing

def save_entry(lm, directory, metadata, exact_rows=EXACT_EMBEDDING_ROWS):
    """Writes `lm` as a float32 preset stored compactly (int8 matrices, except the embedding's
    first `exact_rows` rows; biases and norms in float16), with `metadata` merged into keras-hub's
    metadata.json under "kasm_keras"."""
    from kasm_keras.training.language_model import rebuilt

    if lm.preprocessor is None:
        raise zoo.ZooError("a zoo entry needs the language model's preprocessor (its "
                           "vocabulary)")
    stored = rebuilt(lm, dtype="float32")  # whatever the training precision
    stored.save_to_preset(directory)
    zoo.compact_weights(os.path.join(directory, "model.weights.h5"),
                        embedding_layer="tied_embedding", exact_rows=exact_rows,
                        int8_keys=INT8_KEYS, int8_matrices_under=INT8_MATRICES_UNDER)
    zoo._write_metadata(directory, metadata)


def publish(lm, name, metadata, evaluate=None, zoo_dir=None, url=zoo.DEFAULT_URL,
            reference_perplexity=None, exact_rows=EXACT_EMBEDDING_ROWS):
    """Stores a trained `KernelCausalLM` as entry `name` and records it in the registry.

    `evaluate(stored) -> {"perplexity", "cross_entropy", "tokens"}` measures the stored entry
    on the test split; its result is recorded as `test_perplexity` (`test_cross_entropy`,
    `test_tokens`), and with `reference_perplexity` (the trained model's) the entry is refused
    when storage moved it by more than `zoo.MAX_PERPLEXITY_CHANGE`, relative. `exact_rows`:
    the embedding rows kept in float16.
    """
    if not zoo.NAME.match(name):
        raise zoo.ZooError(f"zoo entry names look like <corpus>/<variant>, got {name!r}")
    metadata = {**metadata, "task": zoo.LANGUAGE_MODEL, "storage": storage_label(exact_rows)}
    return zoo.install_entry(name, zoo_dir, lambda tmp: _store(
        lm, name, tmp, metadata, evaluate, reference_perplexity, exact_rows), url)


def _store(lm, name, tmp, metadata, evaluate, reference_perplexity, exact_rows):
    """Writes the entry into the folder `tmp`; (its files' digests, the registry's summary)."""
    save_entry(lm, tmp, metadata, exact_rows)
    stored = load_preset(tmp)
    if evaluate is not None:
        scores = evaluate(stored)
        perplexity = float(scores["perplexity"])
        if reference_perplexity is not None and abs(relative_change(
                perplexity, reference_perplexity)) > zoo.MAX_PERPLEXITY_CHANGE:
            raise zoo.ZooError(
                f"{name}: the stored entry's test perplexity is {perplexity:.4f}, the "
                f"trained model's {reference_perplexity:.4f} "
                f"({100 * relative_change(perplexity, reference_perplexity):+.3f}%); storage "
                f"moved it by more than {100 * zoo.MAX_PERPLEXITY_CHANGE:.1f}%")
        metadata = {**metadata, "test_perplexity": perplexity,
                    "test_cross_entropy": float(scores["cross_entropy"]),
                    "test_tokens": int(scores["tokens"])}
        zoo._write_metadata(tmp, metadata)
    size = zoo._entry_bytes(tmp, zoo.LM_PRESET_FILES)
    if size > zoo.MAX_LM_ENTRY_BYTES:
        raise zoo.ZooError(f"{name}: {size:,} bytes, over the zoo's "
                           f"{zoo.MAX_LM_ENTRY_BYTES:,} per language model entry")
    files = {f: zoo.file_digest(os.path.join(tmp, f)) for f in zoo.LM_PRESET_FILES}
    return files, summary(metadata)


def publish_run(model_dir, name, metrics, data_dir=None, cache_dir=None, zoo_dir=None,
                url=zoo.DEFAULT_URL):
    """Publishes a finished language-model run (`metrics`, its metrics.json) as entry `name`:
    compact storage, the test perplexity measured from the stored files over the whole test
    split (read from `data_dir`, or downloaded) with the run's `test_batch_size` and `bptt`."""
    from kasm_keras.models.kernel_lm import KernelCausalLM

    path = os.path.join(model_dir, "metrics.json")
    missing = [k for k in METRICS_KEYS if k not in metrics]
    if missing:
        raise zoo.ZooError(f"{path} lacks {', '.join(missing)}; not the metrics of a finished "
                           "tools/train.py language model run")
    trained = f"{metrics['dataset']}/{metrics['model']}"
    if zoo.name_task(name) is not None and name != trained:
        raise zoo.ZooError(f"{model_dir} trained {trained}, not {name}")
    lm = zoo.load_run(model_dir)  # best.keras, checked against its sha256
    if not isinstance(lm, KernelCausalLM):
        raise zoo.ZooError(f"{model_dir}/best.keras is a {type(lm).__name__}, but "
                           f"{path} is a language model's")
    training = lm.info
    metadata = entry_metadata(metrics, training)
    ids = split_ids(lm, metrics["dataset"], data_dir, cache_dir)
    evaluation = metadata["evaluation"]
    return publish(lm, name, metadata,
                   evaluate=lambda stored: measure(stored, ids, evaluation["batch_size"],
                                                   evaluation["bptt"]),
                   zoo_dir=zoo_dir, url=url,
                   reference_perplexity=float(metrics["test_perplexity"]))
