"""Exports a trained classifier as a SavedModel for TensorFlow Serving (raw text in).

python tools/export.py --model_dir=DIR|--zoo=NAME --export_dir=DIR [--tflite]

serving_default takes `text` (1-D tf.string) and returns `probabilities` (float32 [batch,
classes]), `class_id` (int64) and `class_name` (string). Tokenisation is inside the graph, in
core TensorFlow ops, so the SavedModel loads without kasm_keras or tensorflow-text.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from kasm_keras import zoo  # noqa: E402

flags.DEFINE_string("model_dir", None, "A finished tools/train.py run.")
flags.DEFINE_string("zoo", None, "A zoo entry name, e.g. ag_news/rkm_cifg_1gram.")
flags.DEFINE_string("export_dir", None, "Where the SavedModel goes (replaced if it exists).")
flags.DEFINE_bool("tflite", False, "Also write model.tflite (LiteRT) in export_dir: token ids "
                  "[1, max_length] -> probabilities, since LiteRT has no kernels for the string "
                  "ops of tokenisation; vocabulary.txt beside it holds the ids.")
flags.mark_flag_as_required("export_dir")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    try:
        classifier = zoo.load_classifier(FLAGS.model_dir, FLAGS.zoo)
    except (zoo.ZooError, FileNotFoundError) as error:
        sys.exit(f"error: {error}")
    try:
        path = classifier.export(FLAGS.export_dir)
    except FileExistsError as error:
        sys.exit(f"error: {error}")
    print(f"SavedModel written to {path}")
    if FLAGS.tflite:
        print(f"LiteRT model written to {classifier.to_tflite(os.path.join(path, 'model.tflite'))}")


if __name__ == "__main__":
    app.run(main)
