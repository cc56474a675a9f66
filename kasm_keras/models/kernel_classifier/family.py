"""The document classifier's task as the zoo and the tools see it: Table 2's names
`<dataset>/<variant>_<n>gram`, its entries (a keras-hub preset with its tokenizer, weights as
float16 and the embedding's rarer rows as int8 with a float16 scale each), their `info`, how an
entry is published from a run (its test accuracy measured again from the stored files) and
exported."""

import os

from kasm_keras.layers.variants import VARIANTS
from kasm_keras.models import entry_storage
from kasm_keras.models.task_family import (
    CellNames, TaskFamily, ToolFlag, ZooError, accuracy_line, register, split_seed)

# Table 2's datasets; with the variants and n-gram widths they make every name of the family.
DATASETS = ("ag_news", "dbpedia", "yahoo", "yelp")
NGRAMS = (1, 3)
PRESET_FILES = ("config.json", "metadata.json", "model.weights.h5", "task.json",
                "task.weights.h5", "preprocessor.json", "tokenizer.json",
                "assets/tokenizer/vocabulary.txt")
MAX_ACCURACY_CHANGE = 0.0005  # 0.05 points
MAX_ENTRY_BYTES = 3_500_000  # 28 entries must stay within 80 MB together (a test)
# verify: the most an entry's re-measured test accuracy may differ from the recorded one, in
# points.
MAX_REEVALUATION_CHANGE = 0.1
STORAGE = "float16 weights, int8 embedding rows with a float16 scale each"
# What a run's metrics.json must hold to be published.
METRICS_KEYS = ("dataset", "model", "ngram", "splits", "parameters", "command", "versions",
                "test_accuracy")


class ClassifierFamily(CellNames, TaskFamily):
    """The document classifier (`KernelTextClassifier`) as the zoo and the tools see it:
    Table 2's cells `<dataset>/<variant>_<n>gram` and their compactly stored entries.

    Examples:
        >>> from kasm_keras.models.kernel_classifier.family import FAMILY
        >>> FAMILY.name, FAMILY.names()[:2]
        ('classification', ['ag_news/lstm_1gram', 'ag_news/rkm_lstm_1gram'])
        >>> FAMILY.train_command("ag_news/rkm_cifg_1gram", "runs/cifg")
        'python tools/train.py --model=rkm_cifg --dataset=ag_news --ngram=1 --model_dir=runs/cifg'
    """
    name = "classification"
    description = "document classifier"
    explains = "text"
    data_kind = "a classification dataset"
    preset_files = PRESET_FILES
    metrics_keys = METRICS_KEYS
    report_table = "results"
    max_entry_bytes = MAX_ENTRY_BYTES
    summary_keys = ("dataset", "variant", "ngram", "classes", "test_accuracy", "paper_accuracy",
                    "pytorch_accuracy", "training_documents", "word_vectors", "parameters",
                    "command", "seed", "versions", "storage")
    # Only subsets of AG News and DBpedia were available where the zoo's entries were trained.
    without_data = ("yahoo", "yelp")
    datasets = DATASETS
    variants = VARIANTS  # Table 2's order
    ngrams = NGRAMS
    export_options = {
        "tflite": "Also write model.tflite (LiteRT) in the version folder: token ids [1, "
                  "max_length] -> probabilities, since LiteRT has no kernels for the string ops "
                  "of tokenisation; vocabulary.txt beside it holds the ids.",
        "jit_compile": "Run the network (not the tokenisation) under XLA: one document is "
                       "served several times faster on a CPU. TensorFlow Serving then needs "
                       "--xla_cpu_compilation_enabled=true.",
        "explain": "Add an `explain` signature: raw text in; tokens, each token's exact share "
                   "of each class's logit (contributions), the constant and the logits out "
                   "(`KernelTextClassifier.explain`)."}

    def task_class(self):
        from kasm_keras.models.kernel_classifier.text_classifier import KernelTextClassifier

        return KernelTextClassifier

    def owns_dataset(self, dataset):
        from kasm_keras.data import classification_data

        return dataset in classification_data.DATASETS

    def owns_run(self, metrics):
        return "task" not in metrics and self.owns_dataset(metrics.get("dataset"))

    def info(self, metadata, where):
        """A classifier's `info` (see `kasm_keras.zoo.info`): accuracies in percent, the
        parameter counts by name, Table 2's and the PyTorch reproduction's cells.

        Args:
            metadata: The entry's metadata, as the registry keeps it.
            where: What names the record in a ZooError.

        Returns:
            A new dict of the fields.

        Raises:
            ZooError: `test_accuracy` is not a number.
        """
        from kasm_keras import paper

        fields = dict(metadata)
        if "test_accuracy" in fields:
            fields["test_accuracy"] = entry_storage.number(fields, "test_accuracy", where, 100.0)
        parameters = fields.get("parameters")
        if isinstance(parameters, dict):
            fields.setdefault("table2_parameters", parameters.get("table2"))
            fields.setdefault("total_parameters", parameters.get("total"))
            fields.setdefault("paper_parameters", parameters.get("table2_at_paper_sizes"))
        cell = (fields.get("dataset"), fields.get("variant"), fields.get("ngram"))
        if None not in cell:
            fields.setdefault("paper_accuracy", paper.table2_accuracy(*cell))
            fields.setdefault("pytorch_accuracy", paper.pytorch_table2_accuracy(*cell))
        return fields

    def summary_line(self, name, info):
        return (f"  {name:<32} test accuracy {float(info['test_accuracy']):.2f}%  "
                f"({int(info['training_documents']):,} training documents)")

    def verify(self, name, info, model, data_dirs, cache_dir, splits):
        dataset = info["dataset"]
        if dataset not in splits:
            splits[dataset] = split_texts(dataset, "test", data_dirs["data_dir"], cache_dir)[1:]
        report = model.classification_report(*splits[dataset])
        return accuracy_line(name, 100 * report["accuracy"], info["test_accuracy"],
                             MAX_REEVALUATION_CHANGE)

    def load_preset(self, directory):
        classifier = entry_storage.task_from_preset(
            self.task_class(), directory, "the configs (task.json, config.json, "
            "preprocessor.json, tokenizer.json) or the vocabulary", "kasm_keras classifier")
        entry_storage.check_vocabulary(classifier, directory)
        path = os.path.join(directory, "metadata.json")
        if os.path.exists(path):
            classes = entry_storage.read_json(path).get("kasm_keras", {}).get("classes")
            if classes is not None and list(classes) != list(classifier.class_names or classes):
                raise ZooError(f"{path} names the classes {classes}, task.json "
                               f"{classifier.class_names}")
        return entry_storage.load_task_weights(classifier, directory)

    def save_entry(self, classifier, directory, metadata):
        """Writes a classifier as a compact preset: float32 with softmax outputs, then its
        weights stored as float16 and its embedding's rarer rows as int8.

        Args:
            classifier: A `KernelTextClassifier` with its preprocessor.
            directory: Where the preset's files are written.
            metadata: Merged into keras-hub's metadata.json under "kasm_keras".

        Raises:
            ZooError: The classifier has no preprocessor (an entry needs its vocabulary).
        """
        if classifier.preprocessor is None:
            raise ZooError("a zoo entry needs the classifier's preprocessor (its vocabulary)")
        # float32 whatever the training precision: every entry is stored and loads the same way.
        stored = classifier.rebuilt(activation="softmax", dtype="float32")
        stored.save_to_preset(directory)
        for weights in ("model.weights.h5", "task.weights.h5"):
            entry_storage.compact_weights(os.path.join(directory, weights))
        entry_storage.write_metadata(directory, metadata, stored)

    def stage(self, model, name, folder, metadata, evaluate=None, reference=None):
        return entry_storage.stage_classifier(self, model, name, folder, metadata, evaluate, reference,
                                MAX_ACCURACY_CHANGE, "compact storage moved it")

    def entry_metadata(self, metrics, training, classes):
        """An entry's metadata from the training run's metrics.json and settings.

        Args:
            metrics: The run's metrics.json, as a dict.
            training: The run's settings (its config.json).
            classes: The class names, in the model's order.

        Returns:
            A dict: the cell, its paper results, the run's record.
        """
        from kasm_keras import paper

        cell = (metrics["dataset"], metrics["model"], metrics["ngram"])
        return {
            "dataset": cell[0], "variant": cell[1], "ngram": cell[2], "classes": list(classes),
            "paper_accuracy": paper.table2_accuracy(*cell),
            "pytorch_accuracy": paper.pytorch_table2_accuracy(*cell),
            "training_documents": metrics["splits"]["train"] + metrics["splits"]["validation"],
            "word_vectors": metrics.get("word_vectors"), "parameters": metrics["parameters"],
            "command": metrics["command"], "seed": training.get("seed"),
            "versions": metrics["versions"], "storage": STORAGE,
            "metrics": metrics, "training": training,
        }

    def publication(self, model_dir, model, metrics, data_dir=None, cache_dir=None):
        training = model.info
        classes, texts, labels = split_texts(
            training["dataset"], "test", data_dir, cache_dir,
            training.get("validation_fraction", 0.05), split_seed(training))
        if model.class_names and list(model.class_names) != list(classes):
            raise ZooError(f"{model_dir} predicts {model.class_names}, the data has {classes}")
        return (self.entry_metadata(metrics, training, classes),
                lambda stored: stored.classification_report(texts, labels)["accuracy"],
                metrics["test_accuracy"])

    def export_saved_model(self, model, folder, jit_compile=False, tflite=False, explain=False):
        """Writes the SavedModel (raw text in) and, with `tflite`, a LiteRT model (token ids
        in) as model.tflite beside saved_model.pb, which TensorFlow Serving ignores.

        Args:
            model: A `KernelTextClassifier` with its preprocessor.
            folder: Where the SavedModel is written.
            jit_compile: Whether the serving functions are compiled with XLA.
            tflite: Whether model.tflite is written too.
            explain: Whether the SavedModel has an `explain` signature too.
        """
        from kasm_keras.models.kernel_classifier import serving

        serving.export_saved_model(model, folder, jit_compile=jit_compile, explain=explain)
        if tflite:
            serving.export_tflite(model, os.path.join(folder, "model.tflite"))

    # --- tools: train, generate, export, explain, zoo ---
    name_form = "<dataset>/<variant>_<n>gram"
    explain_flags = (
        ToolFlag("text", "multi_string", "A document classifier: a text to explain "
                 "(repeatable), UTF-8.", check="utf8"),
        ToolFlag("input", "string", "A document classifier: a UTF-8 file of texts, one per "
                 "line (empty lines are refused)."))
    explain_needs = ("text", "input")
    recipe_keys = ("model", "dataset", "ngram", "ngram_padding", "units", "layer_norm",
                   "learn_sigmas", "epochs", "max_steps", "batch_size", "learning_rate",
                   "dropout", "max_length", "embeddings", "embedding_dim", "train_embeddings",
                   "max_vocabulary", "min_count", "validation_fraction", "eval_every")

    def explain_inputs(self, given):
        texts = list(given["text"] or []) + (read_lines(given["input"]) if given["input"]
                                             else [])
        return texts, texts, {}

    def run_summary(self, metrics, config):
        """The summary of `TaskFamily.run_summary`, with "training_documents" (the training
        and validation splits' documents).

        Args:
            metrics: The run's metrics.json, as a dict.
            config: Its config.json, as a dict.

        Returns:
            The summary (a dict).
        """
        return {**super().run_summary(metrics, config),
                "training_documents": int(metrics["splits"]["train"]
                                          + metrics["splits"]["validation"])}

    # --- documentation: model cards and result pages ---
    card_usage = (
        "classifier = kasm_keras.zoo.load(\"{name}\")  # a KernelTextClassifier\n"
        "classifier.classify([\"Oil prices rose as markets opened\"])\n"
        "classifier.explain([\"Oil prices rose as markets opened\"])  # each token's share\n"
        "classifier.fit(texts, labels, epochs=1)  # fine-tunes")
    card_explain_input = "--text=\"Oil prices rose as markets opened\""
    headline_paper_metric = "paper_accuracy"
    headline_label = "test accuracy {:.2f}%"

    def card_measured(self, info, seed_noise):
        rows = [("test accuracy (%)", self.card_number(info["test_accuracy"]),
                 self.card_number(info.get("paper_accuracy")),
                 self.card_number(info.get("pytorch_accuracy"))),
                ("seed noise", seed_noise, "", "")]
        data = (f"{info['dataset']}: {info['training_documents']:,} training documents "
                f"(training and validation; the paper used the full split); word vectors "
                f"{info.get('word_vectors', 'none')}")
        return rows, data


def split_texts(dataset, split="test", data_dir=None, cache_dir=None, validation_fraction=0.05,
                seed=0):
    """A classification split as lists, read from the canonical files (for measuring a model
    on it).

    Args:
        dataset: The dataset's name, e.g. "ag_news".
        split: "train", "validation" or "test".
        data_dir: Where the dataset's files are; None: downloaded into `cache_dir`.
        cache_dir: Where downloads go.
        validation_fraction: The share of the training file held out for validation.
        seed: The seed that draws the validation split.

    Returns:
        (classes, texts, labels): the class names (a tuple), the documents (bytes) and their
        labels (int64 array).

    Examples:
        >>> from kasm_keras.models.kernel_classifier.family import split_texts
        >>> classes, texts, labels = split_texts("ag_news", "test", "../shared/data")
        >>> classes
        ('World', 'Sports', 'Business', 'Sci/Tech')
        >>> len(texts) == len(labels), labels.dtype
        (True, dtype('int64'))
    """
    import numpy as np

    from kasm_keras.data import datasets

    data = datasets.load_classification(dataset, data_dir, cache_dir=cache_dir,
                                        validation_fraction=validation_fraction, seed=seed)
    texts, labels = [], []
    for text, label in data.texts(split).as_numpy_iterator():
        texts.append(text)
        labels.append(label)
    return data.classes, texts, np.asarray(labels, np.int64)


def read_lines(path):
    """The non-empty texts of a UTF-8 file, one per line (the explain tool's --input).

    Args:
        path: The file.

    Returns:
        A list of str.

    Raises:
        DataError: The file is missing, not UTF-8, has an empty line or no texts; the message
            names the file (and line).

    Examples:
        >>> from kasm_keras.models.kernel_classifier.family import read_lines
        >>> read_lines("no/such/file.txt")
        Traceback (most recent call last):
        ...
        kasm_keras.data.classification_data.DataError: --input=no/such/file.txt: no such file
    """
    from kasm_keras.data.classification_data import DataError

    try:
        with open(path, encoding="utf-8") as f:
            texts = [line.rstrip("\n") for line in f]
    except FileNotFoundError:
        raise DataError(f"--input={path}: no such file") from None
    except UnicodeDecodeError as error:
        raise DataError(f"--input={path}: not UTF-8 text ({error})") from None
    except OSError as error:
        raise DataError(f"--input={path}: {error.strerror}") from None
    for number, text in enumerate(texts, 1):
        if not text.strip():
            raise DataError(f"{path}:{number}: an empty line (one text per line)")
    if not texts:
        raise DataError(f"--input={path}: no texts in it")
    return texts


FAMILY = register(ClassifierFamily())
