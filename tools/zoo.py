"""Lists, verifies and publishes zoo entries.

python tools/zoo.py list
python tools/zoo.py verify
python tools/zoo.py publish --model_dir=runs/ag_news/rkm_cifg_1gram --name=ag_news/rkm_cifg_1gram \
    --data_dir=../shared/data
"""

import sys

import tool_support
from absl import app, flags

from kasm_keras import zoo
from kasm_keras.data import classification_data
from kasm_keras.utils import download

flags.DEFINE_string("model_dir", None, "publish: the finished tools/train.py run.")
flags.DEFINE_string("name", None, "publish: the entry's name, <dataset>/<variant>_<n>gram.")
flags.DEFINE_string("url", zoo.DEFAULT_URL, "publish: where the entry's files can be fetched "
                    "from (<url>/<name>/<file>).")
flags.DEFINE_string("data_dir", None, "publish: local copy of the dataset, whose test split is "
                    "evaluated again on the stored entry; without it the archive is downloaded.")
flags.DEFINE_string("cache_dir", None, "publish: prepared data cache (default ~/.cache/kasm_keras).")
flags.DEFINE_string("zoo_dir", None, "The zoo, a local folder (default: "
                    "$KASM_KERAS_ZOO_DIR, else this checkout's zoo/, else the Keras cache).")
FLAGS = flags.FLAGS
COMMANDS = ("list", "verify", "publish")


def main(argv):
    if len(argv) != 2 or argv[1] not in COMMANDS:
        raise app.UsageError(f"one command: {', '.join(COMMANDS)}")
    command = argv[1]
    if command == "publish":
        if not (FLAGS.model_dir and FLAGS.name):
            raise app.UsageError("publish needs --model_dir and --name")
        print(zoo.publish_run(FLAGS.model_dir, FLAGS.name, data_dir=FLAGS.data_dir,
                              cache_dir=FLAGS.cache_dir, zoo_dir=FLAGS.zoo_dir, url=FLAGS.url))
        return
    failures = 0
    for name in zoo.names(FLAGS.zoo_dir):
        if command == "verify":
            try:
                zoo.entry_dir(name, FLAGS.zoo_dir)
                print(f"ok      {name}")
            except (zoo.ZooError, OSError) as error:
                failures += 1
                print(f"FAILED  {name}: {error}")
        else:
            info = zoo.info(name, FLAGS.zoo_dir)
            print(f"{name:<32} test accuracy {info['test_accuracy']:.4f}  "
                  f"({info['training_documents']:,} training documents)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    tool_support.run(main, (zoo.ZooError, classification_data.DataError, download.DownloadError))
