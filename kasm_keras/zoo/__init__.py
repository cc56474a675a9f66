"""Pretrained classifiers, loadable in one line: `kasm_keras.zoo.load("ag_news/rkm_cifg_1gram")`.

An entry is a directory in the style of keras-hub's presets: `config.json` (the arguments that
rebuild the network with `build_classifier`), `metadata.json` (dataset, classes, measured
metrics, how it was trained), `model.weights.h5` and `vocabulary.txt`. `zoo/registry.json`
records the sha256 of every file; each is checked before use, and a file missing locally is
fetched from the entry's `url` (when it has one) and checked the same way. The network is
rebuilt from code and only arrays are read, so loading runs nothing from the entry.
"""

import json
import os
import re

from kasm_keras.utils.atomic_files import atomic_directory, atomic_write_text, file_digest
from kasm_keras.models.kernel_classifier.backbone import build_classifier, kernel_layer
from kasm_keras.utils.download import DEFAULT_CACHE_DIR, fetch
from kasm_keras.models.kernel_classifier.text_classifier import TextClassifier
from kasm_keras.data.vocabulary import Vocabulary

ZOO_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "zoo")
FILES = ("config.json", "metadata.json", "model.weights.h5", "vocabulary.txt")
CONFIG_KEYS = ("vocabulary_size", "num_classes", "variant", "units", "ngram", "max_length",
               "embedding_dim", "dropout", "layer_norm", "learn_sigmas", "ngram_padding")
NAME = re.compile(r"^[a-z0-9_]+/[a-z0-9_]+$")


class ZooError(ValueError):
    pass


def registry(zoo_dir=None):
    path = os.path.join(zoo_dir, "registry.json") if zoo_dir else os.path.join(os.path.dirname(__file__), "registry.json")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)


def names(zoo_dir=None):
    return sorted(registry(zoo_dir))


def entry_dir(name, zoo_dir=None, cache_dir=None):
    """The entry's verified local directory, fetching missing files from its url into the cache."""
    zoo_dir = zoo_dir or ZOO_DIR
    entries = registry(zoo_dir)
    if name not in entries:
        raise ZooError(f"No zoo entry {name!r}; available: {', '.join(sorted(entries)) or 'none'}")
    entry = entries[name]
    if sorted(entry.get("files", {})) != sorted(FILES):
        raise ZooError(f"zoo entry {name!r} lists {sorted(entry.get('files', {}))}, expected {list(FILES)}")
    local = os.path.join(zoo_dir, entry["path"])
    if not all(os.path.exists(os.path.join(local, f)) for f in entry["files"]):
        if not entry.get("url"):
            raise ZooError(f"zoo entry {name!r} is incomplete in {local} and has no url to fetch from")
        local = os.path.join(cache_dir or DEFAULT_CACHE_DIR, "zoo", entry["path"])
        for file_name, digest in entry["files"].items():
            fetch(f"{entry['url'].rstrip('/')}/{file_name}", os.path.join(local, file_name),
                  f"sha256:{digest}")
    for file_name, digest in entry["files"].items():
        actual = file_digest(os.path.join(local, file_name))
        if actual != digest:
            raise ZooError(f"{os.path.join(local, file_name)}: sha256 {actual} differs from the "
                           f"registry's {digest}; the file is corrupt or was changed")
    return local


def load(name, zoo_dir=None, cache_dir=None):
    """A `TextClassifier` (raw text in, classes out; `.model` is the Keras model)."""
    directory = entry_dir(name, zoo_dir, cache_dir)
    with open(os.path.join(directory, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(directory, "metadata.json")) as f:
        metadata = json.load(f)
    unknown = sorted(set(config) - set(CONFIG_KEYS))
    if unknown:
        raise ZooError(f"{directory}/config.json has settings this version does not know: {unknown}")
    model = build_classifier(**config)
    model.load_weights(os.path.join(directory, "model.weights.h5"))
    vocabulary = Vocabulary.load(os.path.join(directory, "vocabulary.txt"))
    return TextClassifier(model, vocabulary, metadata["classes"], config["max_length"],
                          info={**metadata, "zoo_name": name})


def publish(model_dir, name, zoo_dir=None, url=None):
    """Turns a finished tools/train.py run into a zoo entry and records it in the registry."""
    zoo_dir = zoo_dir or ZOO_DIR
    if not NAME.match(name):
        raise ZooError(f"zoo entry names look like <dataset>/<variant>_<n>gram, got {name!r}")
    trained = TextClassifier.from_model_dir(model_dir)
    policy = kernel_layer(trained.model).dtype_policy.name
    if policy != "float32":
        raise ZooError(f"{model_dir} was trained under {policy}; the zoo holds float32 models only")
    with open(os.path.join(model_dir, "metrics.json")) as f:
        metrics = json.load(f)
    run = trained.info
    layer = kernel_layer(trained.model)
    cell = layer.cell
    config = {
        "vocabulary_size": len(trained.vocabulary), "num_classes": len(trained.classes),
        "variant": cell.variant, "units": cell.units, "ngram": cell.ngram,
        "max_length": trained.max_length,
        "embedding_dim": trained.model.get_layer("embedding").output_dim,
        "dropout": run["dropout"], "layer_norm": cell.layer_norm,
        "learn_sigmas": cell.learn_sigmas, "ngram_padding": cell.ngram_padding,
    }
    metadata = {"name": name, "dataset": run["dataset"], "classes": list(trained.classes),
                "metrics": metrics, "training": run}
    with atomic_directory(os.path.join(zoo_dir, name)) as tmp:
        atomic_write_text(os.path.join(tmp, "config.json"), json.dumps(config, indent=2) + "\n")
        atomic_write_text(os.path.join(tmp, "metadata.json"), json.dumps(metadata, indent=2) + "\n")
        trained.model.save_weights(os.path.join(tmp, "model.weights.h5"))
        trained.vocabulary.save(os.path.join(tmp, "vocabulary.txt"))
        files = {f: file_digest(os.path.join(tmp, f)) for f in FILES}
        # The rebuilt network must give the trained one's outputs, or the entry is useless:
        # checked before the entry replaces anything.
        model = build_classifier(**config)
        model.load_weights(os.path.join(tmp, "model.weights.h5"))
        rebuilt = TextClassifier(model, trained.vocabulary, trained.classes, trained.max_length)
        probe = ["kernel machines for sequence modelling", ""]
        if not (abs(rebuilt.probabilities(probe) - trained.probabilities(probe)) < 1e-5).all():
            raise ZooError(f"a network rebuilt from {model_dir} does not reproduce its outputs")
    entries = registry(zoo_dir)
    entries[name] = {"path": name, "files": files}
    if url:
        entries[name]["url"] = url
    atomic_write_text(os.path.join(zoo_dir, "registry.json"),
                      json.dumps(entries, indent=2, sort_keys=True) + "\n")
    return os.path.join(zoo_dir, name)


def load_classifier(model_dir=None, zoo_name=None, zoo_dir=None):
    """A trained classifier from a tools/train.py run or a zoo entry (exactly one of them)."""
    if (model_dir is None) == (zoo_name is None):
        raise ZooError("give exactly one of --model_dir and --zoo")
    if model_dir is not None:
        return TextClassifier.from_model_dir(model_dir)
    return load(zoo_name, zoo_dir)
