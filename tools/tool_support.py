"""What every program in tools/ shares.

- `run(main, errors)`: `absl.app.run(main)`, with logging at WARNING unless the user passed
  `--verbosity` (or `-v`), and each of the library errors in `errors` printed as one
  `error: ...` line on stderr with exit status 1 instead of a traceback.
- `read_json`, `write_text`: `kasm_keras.utils.files`, through `tf.io.gfile`, so paths may be
  `gs://...` (or any filesystem TensorFlow knows) as well as local ones.

The tools run as `python tools/NAME.py`, which puts tools/ on sys.path, so they import this
module as `tool_support`.
"""

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


def read_json(path):
    from kasm_keras.utils import files

    return files.read_json(path)


def write_text(path, text):
    """Replaces `path` with `text`: atomically on a local disk, by a rename elsewhere."""
    from kasm_keras.utils import files

    files.write_text(os.fspath(path), text)
