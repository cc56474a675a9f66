"""The language model's task as the zoo and the tools see it: Table 3's names,
`<corpus>/<variant>` (`ptb/rkm_lstm`).

An entry is a keras-hub preset of a `KernelCausalLM` with its preprocessor (`config.json`,
`task.json`, `preprocessor.json`, `tokenizer.json`, `assets/tokenizer/vocabulary.txt`,
`model.weights.h5`, `metadata.json`; the softmax is the embedding's transpose, so the task has no
weights of its own), stored compactly: the tied embedding as int8 rows with a float16 scale each
(`TiedEmbedding` reassembles them; `EXACT_EMBEDDING_ROWS` most frequent rows may be kept in
float16), the cells' matrices as int8 with a float32 scale per column (`KernelCell` reads them,
`kasm_keras.layers.int8_storage`), biases and norms in float16. keras-hub loads the entry too. Its
registry record has `"task": "language_model"`.

Publishing stores the run's best model, loads the stored files back (verified) and measures
their perplexity over the whole test split with the state carried from window to window
(`KernelCausalLM.perplexity` with the run's `test_batch_size` and `bptt`): that measurement is
the entry's `test_perplexity`, and the entry is refused when it differs from the run's own by
more than `MAX_PERPLEXITY_CHANGE` (relative).
"""

import os

from kasm_keras.models import entry_storage
from kasm_keras.models.task_family import TaskFamily, ToolFlag, ZooError, register

PRESET_FILES = ("config.json", "metadata.json", "model.weights.h5", "task.json",
                "preprocessor.json", "tokenizer.json", "assets/tokenizer/vocabulary.txt")
# Room for the cpu recipe's entries, whose embedding and recurrent kernels are stored as int8
# (each entry's size is on its model card).
MAX_ENTRY_BYTES = 20_000_000
# The most the stored entry's test perplexity may differ from the trained model's, relative.
MAX_PERPLEXITY_CHANGE = 0.005
# verify: the most a re-measured test perplexity may differ from the recorded one, relative.
MAX_REEVALUATION_CHANGE = 0.001
# The tools/train.py recipe (`kasm_keras.training.language_model.RECIPES`) the zoo's language
# models are trained with: a 2-layer model a 2-core CPU trains, not the paper's 24M parameters.
RECIPE = "cpu"
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
# Tied-embedding rows kept in float16 (the most frequent words; none: int8 rows cost 0.002% on
# ptb/lstm, see above); the rest are int8 rows.
EXACT_EMBEDDING_ROWS = 0
# The path component whose layers' matrices are stored as int8 (the recurrent cells').
INT8_MATRICES_UNDER = "cell"
# Where `TiedEmbedding.load_own_variables` reads the int8 rows and their scales ("1" is its bias).
INT8_KEYS = ("2", "3")


def storage_label(exact_rows=EXACT_EMBEDDING_ROWS):
    """How an entry's weights are stored, in words (its metadata's "storage").

    Args:
        exact_rows: How many of the most frequent words' embedding rows are kept in float16.

    Returns:
        str.

    Examples:
        >>> from kasm_keras.models.kernel_lm.family import storage_label
        >>> for part in storage_label(0).split("; "):
        ...     print(part)
        int8 tied embedding rows with a float16 scale each
        int8 cell matrices with a float32 scale per column
        the rest float16
    """
    rows = (f"rows past the {exact_rows:,} most frequent words" if exact_rows else "rows")
    return (f"int8 tied embedding {rows} with a float16 scale each; int8 cell matrices with a "
            "float32 scale per column; the rest float16")


def state_label(sizes):
    """Recurrent state sizes as layers x width, for `tools/zoo.py list`.

    Args:
        sizes: Each recurrent layer's width.

    Returns:
        str: "2 x 650" when the widths are equal, "2 x (650, 400)" otherwise; "" for none.

    Examples:
        >>> from kasm_keras.models.kernel_lm.family import state_label
        >>> state_label([650, 650]), state_label([650, 400]), state_label([])
        ('2 x 650', '2 x (650, 400)', '')
    """
    if not sizes:
        return ""
    widths = str(sizes[0]) if len(set(sizes)) == 1 else "(" + ", ".join(map(str, sizes)) + ")"
    return f"{len(sizes)} x {widths}"


class LanguageModelFamily(TaskFamily):
    """The language model (`KernelCausalLM`) as the zoo and the tools see it: Table 3's cells
    `<corpus>/<variant>` and their int8-stored entries.

    Examples:
        >>> from kasm_keras.models.kernel_lm.family import FAMILY
        >>> FAMILY.names()[:3], FAMILY.parse_name("ptb/rkm_lstm")
        (['ptb/lstm', 'ptb/rkm_lstm', 'ptb/rkm_cifg'], ('ptb', 'rkm_lstm'))
        >>> FAMILY.train_command("ptb/rkm_lstm", "runs/lm")
        'python tools/train.py --model=rkm_lstm --dataset=ptb --recipe=cpu --model_dir=runs/lm'
    """
    name = "language_model"
    description = "language model"
    explains = "prompt"
    data_kind = "a language-model corpus"
    preset_files = PRESET_FILES
    metrics_keys = METRICS_KEYS
    report_table = "language_models"
    max_entry_bytes = MAX_ENTRY_BYTES
    summary_keys = ("task", "dataset", "variant", "test_perplexity", "test_cross_entropy",
                    "test_tokens", "val_perplexity", "trained_test_perplexity",
                    "paper_perplexity", "paper_valid_perplexity", "pytorch_perplexity",
                    "parameters", "state_sizes", "steps", "steps_per_epoch", "epochs",
                    "training_minutes", "corpus_tokens", "evaluation", "recipe", "command",
                    "seed", "versions", "storage")
    # Table 3's corpora whose training split was not available where the entries were trained.
    without_data = ("wikitext2",)
    export_options = {}

    def task_class(self):
        from kasm_keras.models.kernel_lm.causal_lm import KernelCausalLM

        return KernelCausalLM

    def names(self):
        """Table 3's cells, `<corpus>/<variant>`, in the table's order
        (`kasm_keras.paper.TABLE3_PERPLEXITY`).

        Returns:
            A list of names (str).
        """
        from kasm_keras import paper

        return [f"{corpus}/{variant}" for corpus, cells in paper.TABLE3_PERPLEXITY.items()
                for variant in cells]

    def parse_name(self, name):
        """The parts of a name of Table 3's cells.

        Args:
            name: A zoo name.

        Returns:
            (corpus, variant) when `name` is one of `names()`, else None.
        """
        return tuple(name.split("/")) if name in self.names() else None

    def run_name(self, metrics):
        return f"{metrics['dataset']}/{metrics['model']}"

    def train_command(self, name, run):
        corpus, variant = self.parse_name(name)
        return (f"python tools/train.py --model={variant} --dataset={corpus} --recipe={RECIPE} "
                f"--model_dir={run}")

    def owns_dataset(self, dataset):
        from kasm_keras.data.language_model_data import CORPORA

        return dataset in CORPORA

    def owns_run(self, metrics):
        return "test_perplexity" in metrics or self.owns_dataset(metrics.get("dataset"))

    def info(self, metadata, where):
        """A language model's `info`:

        - `task` ("language_model"), `dataset` (the corpus), `variant`;
        - `test_perplexity`: measured from the entry's stored files when it was published (the
          whole test split, state carried, `evaluation`'s batch size and bptt);
          `val_perplexity`: the run's best validation perplexity (which chose the model);
          `trained_test_perplexity`: the run's own test measurement, before storage;
        - `paper_perplexity` and `paper_valid_perplexity`: Table 3's test and validation cells;
          `pytorch_perplexity`: the PyTorch reproduction's test perplexity (PTB's RKM-CIFG
          only, None elsewhere);
        - `parameters` ({"total", "recurrent", "embedding"}; the softmax is the embedding) and
          `total_parameters`; `state_sizes`: each recurrent layer's width (its h and c), so
          `len(state_sizes)` layers;
        - `steps`, `steps_per_epoch`, `epochs` (steps / steps_per_epoch), `training_minutes`;
        - `recipe`: the run's settings (`RECIPE_KEYS`: layers, widths, dropouts, batch size,
          bptt...), `command`, `seed`, `versions`, `storage`, `corpus_tokens`.

        Args:
            metadata: The entry's metadata, as the registry keeps it.
            where: What names the record in a ZooError.

        Returns:
            A new dict of the fields.

        Raises:
            ZooError: A perplexity, `epochs` or `training_minutes` is not a number.
        """
        from kasm_keras import paper

        fields = dict(metadata)
        for key in ("test_perplexity", "val_perplexity", "trained_test_perplexity", "epochs",
                    "training_minutes"):
            if key in fields:
                fields[key] = entry_storage.number(fields, key, where)
        corpus, variant = fields.get("dataset"), fields.get("variant")
        fields.setdefault("paper_perplexity", paper.table3_perplexity(corpus, variant, "test"))
        fields.setdefault("paper_valid_perplexity",
                          paper.table3_perplexity(corpus, variant, "valid"))
        fields.setdefault("pytorch_perplexity", paper.pytorch_table3_perplexity(corpus, variant))
        parameters = fields.get("parameters")
        if isinstance(parameters, dict):
            fields.setdefault("total_parameters", parameters.get("total"))
        return fields

    def summary_line(self, name, info):
        paper = info.get("paper_perplexity")
        return (f"  {name:<32} test perplexity {float(info['test_perplexity']):.2f}  "
                f"(paper {'none' if paper is None else f'{paper:.2f}'}; state "
                f"{state_label(info['state_sizes'])}; {float(info['epochs']):.1f} epochs)")

    def unpublished_lines(self, names, width):
        missing = {}
        for name in names:
            corpus, variant = self.parse_name(name)
            missing.setdefault(corpus, []).append(variant)
        table3 = [self.parse_name(name)[0] for name in self.names()]
        lines = []
        for corpus, variants in missing.items():
            every = len(variants) == table3.count(corpus)
            note = " (its data was not available here)" if corpus in self.without_data else ""
            lines.append(f"  {corpus:<{width}} language model: "
                         f"{'every variant of Table 3' if every else ', '.join(variants)}{note}")
        return lines

    def verify(self, name, info, model, data_dirs, cache_dir, splits):
        """Measures the entry's test perplexity again from the stored files, as publishing
        measured it; it fails when it moved by more than `MAX_REEVALUATION_CHANGE`, relative.

        Args:
            name: The entry's zoo name.
            info: Its `info` fields.
            model: The entry, loaded.
            data_dirs: {"data_dir", ...}: where the corpus is.
            cache_dir: Where downloads go.
            splits: The test splits read so far, by corpus and vocabulary; filled in.

        Returns:
            (line, failed): `tools/zoo.py verify`'s line and whether it failed.
        """
        key = (info["dataset"], tuple(model.preprocessor.tokenizer.get_vocabulary()))
        if key not in splits:
            splits[key] = split_ids(model, info["dataset"], data_dirs["data_dir"], cache_dir)
        evaluation = info["evaluation"]
        measured = measure(model, splits[key], evaluation["batch_size"],
                           evaluation["bptt"])["perplexity"]
        recorded = info["test_perplexity"]
        change = measured / recorded - 1.0
        failed = abs(change) > MAX_REEVALUATION_CHANGE
        return (f"{'FAILED' if failed else 'ok':<8}{name}  test perplexity {measured:.2f} "
                f"(recorded {recorded:.2f}, {100 * change:+.3f}%)"), failed

    def load_preset(self, directory):
        cls = self.task_class()
        try:
            lm = cls.from_preset(directory, load_weights=False)
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ZooError(f"{directory}: the configs (task.json, config.json, "
                           f"preprocessor.json, tokenizer.json) or the vocabulary do not make a "
                           f"kasm_keras language model ({error})") from error
        if not isinstance(lm, cls):
            raise ZooError(f"{directory}/task.json: a {type(lm).__name__}, not a kasm_keras "
                           "language model")
        if lm.preprocessor is None or lm.preprocessor.tokenizer is None:
            raise ZooError(f"{directory}/preprocessor.json: a language model entry needs its "
                           "preprocessor (the vocabulary)")
        entry_storage.check_vocabulary(lm, directory)
        entry_storage.check_metadata(directory, (("variant", lm.backbone.variant),))
        entry_storage.load_weights(directory, (("model.weights.h5", lm.backbone.load_weights),))
        return lm

    def save_entry(self, lm, directory, metadata, exact_rows=EXACT_EMBEDDING_ROWS):
        """Writes a language model as a float32 preset stored compactly: int8 matrices, biases
        and norms in float16.

        Args:
            lm: A `KernelCausalLM` with its preprocessor.
            directory: Where the preset's files are written.
            metadata: Merged into keras-hub's metadata.json under "kasm_keras".
            exact_rows: How many of the embedding's first (most frequent) rows are kept in
                float16.

        Raises:
            ZooError: The model has no preprocessor (an entry needs its vocabulary).
        """
        if lm.preprocessor is None:
            raise ZooError("a zoo entry needs the language model's preprocessor (its "
                           "vocabulary)")
        stored = lm.rebuilt(dtype="float32")  # whatever the training precision
        stored.save_to_preset(directory)
        entry_storage.compact_weights(
            os.path.join(directory, "model.weights.h5"), embedding_layer="tied_embedding",
            exact_rows=exact_rows, int8_keys=INT8_KEYS, int8_matrices_under=INT8_MATRICES_UNDER)
        entry_storage.write_metadata(directory, metadata, stored)

    def stage(self, model, name, folder, metadata, evaluate=None, reference=None,
              exact_rows=EXACT_EMBEDDING_ROWS):
        """`evaluate(stored) -> {"perplexity", "cross_entropy", "tokens"}` measures the stored
        entry on the test split; its result is recorded as `test_perplexity`
        (`test_cross_entropy`, `test_tokens`), and with `reference` (the trained model's
        perplexity) the entry is refused when storage moved it by more than
        `MAX_PERPLEXITY_CHANGE`, relative.

        Args:
            model: The `KernelCausalLM` to store.
            name: The entry's zoo name.
            folder: Where the preset's files are written.
            metadata: The entry's metadata (`publication`'s).
            evaluate: Measures the stored entry; None: not measured.
            reference: The trained model's test perplexity; None: not compared.
            exact_rows: The embedding rows kept in float16.

        Returns:
            (files, summary): the files' sha256 digests by name and the registry's summary of
            the metadata.

        Raises:
            ZooError: Storage moved the perplexity too far, or the entry is too large.
        """
        metadata = {**metadata, "task": self.name, "storage": storage_label(exact_rows)}
        self.save_entry(model, folder, metadata, exact_rows)
        stored = self.load_preset(folder)
        if evaluate is not None:
            scores = evaluate(stored)
            perplexity = float(scores["perplexity"])
            change = perplexity / reference - 1.0 if reference is not None else 0.0
            if abs(change) > MAX_PERPLEXITY_CHANGE:
                raise ZooError(
                    f"{name}: the stored entry's test perplexity is {perplexity:.4f}, the "
                    f"trained model's {reference:.4f} ({100 * change:+.3f}%); storage moved it "
                    f"by more than {100 * MAX_PERPLEXITY_CHANGE:.1f}%")
            metadata = {**metadata, "test_perplexity": perplexity,
                        "test_cross_entropy": float(scores["cross_entropy"]),
                        "test_tokens": int(scores["tokens"])}
            entry_storage.write_metadata(folder, metadata, stored)
        files = entry_storage.digests(folder, PRESET_FILES, name, MAX_ENTRY_BYTES)
        return files, self.summary(metadata)

    def entry_metadata(self, metrics, training):
        """An entry's metadata from the run's record, before its test perplexity is measured
        from the stored files.

        Args:
            metrics: The run's metrics.json, as a dict.
            training: The run's settings (its config.json).

        Returns:
            A dict: the cell, its paper results, the evaluation settings, the run's record.
        """
        from kasm_keras import paper

        corpus, variant = metrics["dataset"], metrics["model"]
        steps, per_epoch = int(metrics["steps"]), int(metrics["steps_per_epoch"])
        return {
            "task": self.name, "dataset": corpus, "variant": variant,
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

    def publication(self, model_dir, model, metrics, data_dir=None, cache_dir=None):
        """What publishing needs; `evaluate` measures the stored entry's perplexity over the
        whole test split with the run's `test_batch_size` and `bptt`.

        Args:
            model_dir: The run's folder.
            model: Its best model.
            metrics: Its metrics.json, as a dict.
            data_dir: Where the corpus is; None: downloaded.
            cache_dir: Where downloads go.

        Returns:
            (metadata, evaluate, reference), as `stage` takes them.

        Raises:
            ZooError: The corpus's vocabulary is not the model's.
        """
        metadata = self.entry_metadata(metrics, model.info)
        ids = split_ids(model, metrics["dataset"], data_dir, cache_dir)
        evaluation = metadata["evaluation"]
        return (metadata,
                lambda stored: measure(stored, ids, evaluation["batch_size"],
                                       evaluation["bptt"]),
                float(metrics["test_perplexity"]))

    def export_saved_model(self, model, folder):
        from kasm_keras.models.kernel_lm import serving

        serving.export_saved_model(model, folder)

    # --- tools: train, generate, export, explain, zoo ---
    generates = True
    name_form = "<corpus>/<variant>"
    explain_flags = (
        ToolFlag("prompt", "multi_string", "A language model: a prompt whose next word is "
                 "explained (repeatable).", check="utf8"),
        ToolFlag("target", "list", "A language model: the next words whose logits are "
                 "explained (default: each prompt's most likely next word)."))
    explain_needs = ("prompt",)
    recipe_keys = RECIPE_KEYS
    selection_metric = "val_perplexity"
    test_metric = "test_perplexity"
    lower_is_better = True

    def explain_inputs(self, given):
        return list(given["prompt"]), list(given["prompt"]), {"targets": given["target"]}

    # --- documentation: model cards and result pages ---
    card_usage = (
        "lm = kasm_keras.zoo.load(\"{name}\")  # a KernelCausalLM\n"
        "lm.generate(\"the company said\", max_length=30)\n"
        "lm.score_texts([\"the company said it expects higher sales\"])\n"
        "lm.explain(\"the company said\")  # each word's share of the next word's logit\n"
        "lm.fit(token_windows, epochs=1)  # fine-tunes")
    card_explain_input = "--prompt=\"the company said\""
    headline_paper_metric = "paper_perplexity"
    headline_label = "test perplexity {:.2f}"

    def card_measured(self, info, seed_noise):
        tokens = info.get("corpus_tokens", {})
        rows = [("test perplexity", f"{info['test_perplexity']:.2f}",
                 self.card_number(info.get("paper_perplexity")),
                 self.card_number(info.get("pytorch_perplexity"))),
                ("validation perplexity", f"{info['val_perplexity']:.2f}",
                 self.card_number(info.get("paper_valid_perplexity")), "")]
        data = (f"{info['dataset']}: {tokens.get('train', 0):,} training tokens, "
                f"{info.get('epochs', 0):.0f} epochs ({info.get('steps', 0):,} steps)")
        return rows, data


def split_ids(lm, corpus, data_dir=None, cache_dir=None, split="test"):
    """A split of a corpus as ids of a model's vocabulary. The corpus's vocabulary (its
    training split's words) must be the model's: perplexities over other vocabularies do not
    compare.

    Args:
        lm: A `KernelCausalLM` with its preprocessor.
        corpus: The corpus's name, e.g. "ptb".
        data_dir: Where the corpus is; None: downloaded into `cache_dir`.
        cache_dir: Where downloads go.
        split: "train", "valid" or "test".

    Returns:
        The split's token ids, one stream (a 1-D integer array).

    Raises:
        ZooError: The corpus's vocabulary is not the model's.

    Examples:
        >>> import kasm_keras
        >>> from kasm_keras.models.kernel_lm.family import split_ids
        >>> lm = kasm_keras.zoo.load("ptb/rkm_cifg")
        >>> ids = split_ids(lm, "ptb", "../shared/data")
        >>> ids.ndim, len(ids)
        (1, 82430)
    """
    from kasm_keras.data import language_model_data

    data = language_model_data.load_corpus(corpus, data_dir, cache_dir=cache_dir)
    tokens = lm.preprocessor.tokenizer.get_vocabulary()
    if list(data.vocabulary.tokens) != list(tokens):
        raise ZooError(f"the vocabulary of {data.paths['train']} ({len(data.vocabulary):,} "
                       f"words) is not the model's ({len(tokens):,} words): a perplexity "
                       "compares only over the vocabulary the model was trained on")
    return data.splits[split]


def measure(lm, ids, batch_size, bptt):
    """A language model's perplexity over a whole stream, the state carried from window to
    window.

    Args:
        lm: A `KernelCausalLM`.
        ids: The stream's token ids.
        batch_size: How many parallel streams the ids are cut into.
        bptt: The window's length.

    Returns:
        {"perplexity", "cross_entropy", "tokens"}.

    Examples:
        >>> import kasm_keras
        >>> from kasm_keras.models.kernel_lm.family import measure, split_ids
        >>> lm = kasm_keras.zoo.load("ptb/rkm_cifg")
        >>> scores = measure(lm, split_ids(lm, "ptb", "../shared/data")[:2001], 1, 70)
        >>> sorted(scores), scores["tokens"]
        (['cross_entropy', 'perplexity', 'tokens'], 2000)
    """
    return lm.perplexity(ids, batch_size=batch_size, sequence_length=bptt)


FAMILY = register(LanguageModelFamily())
