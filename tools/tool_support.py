"""What every program in tools/ shares.

- `run(main, errors)`: `absl.app.run(main)`, with logging at WARNING unless the user passed
  `--verbosity` (or `-v`), and each of the library errors in `errors` printed as one
  `error: ...` line on stderr with exit status 1 instead of a traceback.
- `read_json`, `write_text`: file access through `tf.io.gfile`, so paths may be `gs://...`
  (or any filesystem TensorFlow knows) as well as local ones.

The tools run as `python tools/NAME.py`, which puts tools/ on sys.path, so they import this
module as `tool_support`.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags, logging  # noqa: E402

# Errors that say something about the user's paths, never about a bug.
FILE_ERRORS = (FileNotFoundError, FileExistsError, NotADirectoryError, IsADirectoryError)


def quiet_logging():
    """WARNING and above only, unless the user chose a --verbosity."""
    if not flags.FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)


def fail(message):
    """Exits with status 1 after `error: message` on stderr."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)


def run(main, errors=()):
    """`app.run(main)`; any exception in `errors` (or `FILE_ERRORS`) becomes `fail(error)`."""
    known = tuple(errors) + FILE_ERRORS

    def wrapped(argv):
        quiet_logging()
        try:
            return main(argv)
        except known as error:
            fail(error)

    app.run(wrapped)


def is_local(path):
    """True for a path on this machine's filesystem, False for `gs://...` and other URLs."""
    return "://" not in os.fspath(path)


def read_json(path):
    """The JSON value in `path` (any tf.io.gfile path); FileNotFoundError or ValueError naming it."""
    import tensorflow as tf

    try:
        with tf.io.gfile.GFile(os.fspath(path), "r") as f:
            text = f.read()
    except tf.errors.NotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    except tf.errors.OpError as error:
        raise OSError(f"{path}: {error.message}") from None
    try:
        return json.loads(text)
    except ValueError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None


def write_text(path, text):
    """Writes `text` to `path`: atomically (temporary file, then rename) on a local disk; in one
    object write through tf.io.gfile elsewhere (a `gs://` object appears whole on close)."""
    if is_local(path):
        from kasm_keras.utils.atomic_files import atomic_write_text

        atomic_write_text(os.fspath(path), text)
        return
    import tensorflow as tf

    path = os.fspath(path)
    tf.io.gfile.makedirs(path.rsplit("/", 1)[0])
    with tf.io.gfile.GFile(path, "w") as f:
        f.write(text)
