"""Lists, verifies and publishes zoo entries.

python tools/zoo.py list
python tools/zoo.py verify
python tools/zoo.py publish --model_dir=runs/ag_news/rkm_cifg_1gram --name=ag_news/rkm_cifg_1gram
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from kasm_keras import zoo  # noqa: E402

flags.DEFINE_string("model_dir", None, "publish: the finished tools/train.py run.")
flags.DEFINE_string("name", None, "publish: the entry's name, <dataset>/<variant>_<n>gram.")
flags.DEFINE_string("url", None, "publish: where the entry's files can be fetched from.")
flags.DEFINE_string("zoo_dir", None, "The zoo (default: this checkout's zoo/).")
FLAGS = flags.FLAGS
COMMANDS = ("list", "verify", "publish")


def main(argv):
    if len(argv) != 2 or argv[1] not in COMMANDS:
        raise app.UsageError(f"one command: {', '.join(COMMANDS)}")
    command = argv[1]
    if command == "publish":
        if not (FLAGS.model_dir and FLAGS.name):
            raise app.UsageError("publish needs --model_dir and --name")
        print(zoo.publish(FLAGS.model_dir, FLAGS.name, FLAGS.zoo_dir, url=FLAGS.url))
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
            metrics = zoo.load(name, FLAGS.zoo_dir).info["metrics"]
            print(f"{name:<32} test accuracy {metrics['test_accuracy']:.4f}  "
                  f"({metrics['splits']['train']:,} training documents, {metrics['steps']:,} steps)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    app.run(main)
