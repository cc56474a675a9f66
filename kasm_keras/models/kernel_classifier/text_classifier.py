"""A trained classifier with its vocabulary: raw text in, classes out; evaluation and SavedModel export."""

import json
import os

import keras
import numpy as np
import tensorflow as tf

from kasm_keras.data import classification_data
from kasm_keras.utils.atomic_files import atomic_directory, atomic_write_bytes
from kasm_keras.data.text_encoding import TextEncoder
from kasm_keras.data.vocabulary import Vocabulary

PREDICT_BATCH = 256


class ServingModule(tf.Module):
    """What the SavedModel holds: tokenisation (core ops only), the network, the class names."""

    def __init__(self, model, vocabulary, max_length, classes):
        super().__init__(name="kasm_text_classifier")
        self.encoder = TextEncoder(vocabulary, max_length)
        self.model = model
        self.class_names = tf.constant(list(classes), tf.string)

    def serve(self, text):
        ids, _ = self.encoder(text)
        logits = tf.cast(self.model(ids, training=False), tf.float32)
        probabilities = tf.nn.softmax(logits, axis=-1)
        class_id = tf.argmax(probabilities, axis=-1, output_type=tf.int64)
        return {"probabilities": probabilities, "class_id": class_id,
                "class_name": tf.gather(self.class_names, class_id)}


class TextClassifier:
    def __init__(self, model, vocabulary, classes, max_length, info=None):
        self.model = model
        self.vocabulary = vocabulary
        self.classes = tuple(classes)
        self.max_length = int(max_length)
        self.info = dict(info or {})
        self.encoder = TextEncoder(vocabulary, max_length)
        self._logits = tf.function(lambda ids: self.model(ids, training=False),
                                   input_signature=[tf.TensorSpec([None, max_length], tf.int32)])

    @classmethod
    def from_model_dir(cls, model_dir):
        """The best model of a tools/train.py run (loaded in Keras' safe mode)."""
        paths = {name: os.path.join(model_dir, name)
                 for name in ("best.keras", "vocabulary.txt", "config.json")}
        missing = [p for p in paths.values() if not os.path.exists(p)]
        if missing:
            raise FileNotFoundError(f"{model_dir} is not a finished training run; missing: "
                                    + ", ".join(missing))
        with open(paths["config.json"]) as f:
            config = json.load(f)
        model = keras.models.load_model(paths["best.keras"], safe_mode=True)
        classes = classification_data.get_dataset(config["dataset"]).classes
        return cls(model, Vocabulary.load(paths["vocabulary.txt"]), classes,
                   model.input_shape[1], info=config)

    def probabilities(self, texts):
        texts = list(texts)
        out = [np.zeros([0, len(self.classes)], np.float32)]
        for start in range(0, len(texts), PREDICT_BATCH):
            ids, _ = self.encoder(tf.constant(texts[start:start + PREDICT_BATCH], tf.string))
            out.append(tf.nn.softmax(tf.cast(self._logits(ids), tf.float32)).numpy())
        return np.concatenate(out)

    def predict(self, texts):
        return [self.classes[i] for i in self.probabilities(texts).argmax(-1)]

    def evaluate(self, texts, labels):
        """Accuracy, per-class precision/recall/F1 and the confusion matrix (rows: true class)."""
        labels = np.asarray(labels, np.int64)
        if labels.size and not (0 <= labels.min() and labels.max() < len(self.classes)):
            raise ValueError(f"labels must be in 0..{len(self.classes) - 1}, found "
                             f"{labels.min()}..{labels.max()}")
        predictions = self.probabilities(texts).argmax(-1)
        k = len(self.classes)
        confusion = np.zeros((k, k), np.int64)
        np.add.at(confusion, (labels, predictions), 1)
        per_class = {}
        for i, name in enumerate(self.classes):
            tp = confusion[i, i]
            precision = tp / max(1, confusion[:, i].sum())
            recall = tp / max(1, confusion[i].sum())
            f1 = 2 * precision * recall / max(1e-12, precision + recall)
            per_class[name] = {"precision": float(precision), "recall": float(recall),
                               "f1": float(f1), "support": int(confusion[i].sum())}
        return {"accuracy": float(np.mean(predictions == labels)) if labels.size else None,
                "documents": int(labels.size), "per_class": per_class,
                "confusion_matrix": confusion.tolist(), "classes": list(self.classes)}

    def serving_module(self):
        return ServingModule(self.model, self.vocabulary, self.max_length, self.classes)

    def export(self, export_dir):
        """A SavedModel whose serving_default takes raw `text`; written beside, then renamed."""
        export_dir = os.path.abspath(export_dir)
        if os.path.isdir(export_dir) and os.listdir(export_dir) and \
                not os.path.exists(os.path.join(export_dir, "saved_model.pb")):
            raise FileExistsError(f"{export_dir} exists and is not a SavedModel; not replacing it")
        with atomic_directory(export_dir) as tmp:
            # Keras' ExportArchive, not tf.saved_model.save: only its variable tracking gives a
            # SavedModel that the TF1 loader of saved_model_cli (and TF Serving) can restore.
            module = self.serving_module()
            archive = keras.export.ExportArchive()
            archive.track(self.model)
            archive.track(module)
            archive.add_endpoint("serving_default", module.serve, input_signature=[
                tf.TensorSpec([None], tf.string, name="text")])
            archive.write_out(tmp, verbose=False)
        return export_dir

    def to_tflite(self, path):
        """LiteRT has no kernels for the string ops of tokenisation, so the .tflite file maps
        token ids [1, max_length] to probabilities; `vocabulary.txt` beside it tokenises."""
        spec = tf.TensorSpec([1, self.max_length], tf.int32, name="token_ids")  # static for LiteRT
        function = tf.function(
            lambda ids: tf.nn.softmax(tf.cast(self.model(ids, training=False), tf.float32)),
            input_signature=[spec])
        from tensorflow.python.framework.convert_to_constants import (
            convert_variables_to_constants_v2)

        # Weights as constants: LiteRT cannot read resource variables inside the time loop.
        frozen = convert_variables_to_constants_v2(function.get_concrete_function())
        converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        atomic_write_bytes(path, converter.convert())
        self.vocabulary.save(os.path.join(os.path.dirname(os.path.abspath(path)), "vocabulary.txt"))
        return path
