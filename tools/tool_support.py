"""What every program in tools/ shares.

- `run(main, errors)`: `absl.app.run(main)`, with logging at WARNING unless the user passed
  `--verbosity` (or `-v`); TensorFlow's C++ logs likewise (none unless `--verbosity`, or the
  user's `TF_CPP_MIN_LOG_LEVEL`; its start-up banner: `kasm_keras.utils.tensorflow_logs`). A bad flag (out of range, failing a validator, unknown, missing), a
  usage error, and each of the library errors in `errors` (plus `OSError`: the user's paths)
  end the program with one `error: ...` line on stderr and exit status 1, never a traceback;
  so does any error that says the disk is full.
- `execute(main, argv, errors, flag_values)`: the same for tests, in process, on their own
  `flags.FlagValues`.
- A stopping signal (SIGINT, SIGTERM, SIGHUP) raises `Stopped` (a KeyboardInterrupt) in the
  program, so its writers clean up, and it ends with one `stopped by SIGxxx` line, exit status
  128 + the signal's number, never a traceback; `stopped(stop, message)` adds where the work
  can be taken up again. A tool imports this module first, so this holds from its start: while
  it imports TensorFlow too.
- Each tool defines its flags in `define_flags(flag_values)`, called when it runs as a program,
  so that tests can parse a tool's flags without importing every tool's into one `FLAGS`.
- `existing_folder`, `not_a_file`, `in_range`, `utf8_text`, ...: flag validators, checked while the flags are
  parsed: before any data is read or any file written.
- `download_hint(...)`: a failed download becomes one line that says which flag avoids it.
- `load_model`: `kasm_keras.zoo.load_model` (a classifier, a language model or a time-series
  classifier; a run's best model is checked against the sha256 that training recorded beside
  it), with a failed download explained; its family (`kasm_keras.models.task_family.of_model`)
  says what it is.
- `read_json`, `write_text`: `kasm_keras.utils.files`, through `tf.io.gfile`, so paths may be
  `gs://...` (or any filesystem TensorFlow knows) as well as local ones.

The tools run as `python tools/NAME.py`, which puts tools/ on sys.path, so they import this
module as `tool_support`.
"""

import atexit
import contextlib
import math
import os
import signal
import sys

def one_line(message):
    """`message` on one line: the lines of a multi-line message joined by spaces."""
    return " ".join(line.strip() for line in str(message).splitlines() if line.strip())


# ------------------------------------------------------------------ stopping signals

STOPPING_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stopped(KeyboardInterrupt):
    """A stopping signal (`signum`) arrived. Raised in the main thread like Ctrl-C's
    KeyboardInterrupt, so that `finally` blocks run and every writer removes its temporary."""

    def __init__(self, signum=signal.SIGINT):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_stopped(signum, frame):
    raise Stopped(signum)


def raise_on_stopping_signals():
    """SIGINT, SIGTERM and SIGHUP raise `Stopped` from now on (a signal the process was started
    with ignored, as under nohup, stays ignored)."""
    for signum in STOPPING_SIGNALS:
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, _raise_stopped)


def _stopped_outside_guarded(kind, error, traceback):
    """`sys.excepthook` of a tool: a stopping signal that arrives outside `guarded` (while the
    tool imports TensorFlow, which takes seconds) ends as one inside it does: one `stopped by
    SIGxxx` line, and status 128 + the signal's number once the interpreter has cleaned up."""
    if not issubclass(kind, KeyboardInterrupt):
        return _excepthook(kind, error, traceback)
    try:
        stopped(error)
    except SystemExit as exit_:
        _exit_status.append(exit_.code)


def _exit_with_stopped_status():
    """The status `_stopped_outside_guarded` chose, which Python cannot be asked for: it ends
    an uncaught exception with status 1 (a KeyboardInterrupt by killing itself with SIGINT).
    Registered with atexit as the tool starts, so it runs after the handlers of the modules the
    tool imports later (atexit runs the last registered first)."""
    if _exit_status:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(_exit_status[0])


def _running_a_tool():
    """Whether this process is a program in tools/ (`python tools/NAME.py`), not a test or
    another program that imports this module."""
    program = getattr(sys.modules.get("__main__"), "__file__", None)
    return program is not None and (os.path.dirname(os.path.abspath(program))
                                    == os.path.dirname(os.path.abspath(__file__)))


def stopped(stop, message=""):
    """Exits with status 128 + the signal's number after one line on stderr, `stopped by
    SIGxxx`, and `message` (say where the work can be taken up again). `stop` is a `Stopped`
    or a KeyboardInterrupt (SIGINT)."""
    for signum in STOPPING_SIGNALS:  # a second signal must not cut the line short
        if signal.getsignal(signum) is _raise_stopped:
            signal.signal(signum, signal.SIG_IGN)
    signum = getattr(stop, "signum", signal.SIGINT)
    line = f"stopped by {signal.Signals(signum).name}" + (f": {message}" if message else "")
    with contextlib.suppress(OSError):  # a hung-up terminal
        print(one_line(line), file=sys.stderr, flush=True)
    sys.exit(128 + signum)


_excepthook = sys.excepthook
_exit_status = []
if _running_a_tool():  # now, before the tool imports TensorFlow
    raise_on_stopping_signals()
    sys.excepthook = _stopped_outside_guarded
    atexit.register(_exit_with_stopped_status)


# TensorFlow's C++ logs, unless the user set TF_CPP_MIN_LOG_LEVEL: none below FATAL (its ERROR
# lines on a healthy CPU machine, "failed call to cuInit" and "oneDNN supports DT_BOOL only ...",
# read as failures; a real failure is a Python exception, the tool's error line), or all of them
# with --verbosity (-v). Set before TensorFlow is imported, which reads it once.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if any(
    arg.split("=")[0] in ("--verbosity", "-verbosity", "--v", "-v") for arg in sys.argv[1:])
    else "3")

from absl import app, flags, logging  # noqa: E402

# Errors that say something about the user's paths, never about a bug (an OSError names the
# file when it has one: "[Errno 13] Permission denied: '/path'").
FILE_ERRORS = (OSError,)


def quiet_logging(flag_values=flags.FLAGS):
    """WARNING and above only, unless the user chose a --verbosity."""
    if "verbosity" in flag_values and not flag_values["verbosity"].present:
        logging.set_verbosity(logging.WARNING)


def fail(message):
    """Exits with status 1 after `error: message` (on one line) on stderr."""
    print(f"error: {one_line(message)}", file=sys.stderr)
    sys.exit(1)


def parse_flags(argv, flag_values=flags.FLAGS):
    """Parses `argv` into `flag_values`; a bad flag is one `error:` line, exit status 1."""
    try:
        return flag_values(argv)
    except flags.Error as error:
        hint = " (see --helpshort)" if isinstance(error, flags.UnrecognizedFlagError) else ""
        fail(f"{error}{hint}")


def guarded(main, errors=(), flag_values=flags.FLAGS):
    """`main`, with each exception in `errors` (or `FILE_ERRORS`, or a usage error) turned into
    `fail(error)`."""
    known = tuple(errors) + FILE_ERRORS

    def wrapped(argv):
        quiet_logging(flag_values)
        try:
            return main(argv)
        except app.UsageError as error:
            fail(f"{error} (see --helpshort)")
        except known as error:
            fail(error)
        except KeyboardInterrupt as stop:
            stopped(stop)
        except Exception as error:  # a full disk that no writer named; anything else is a bug
            if not says_disk_full(error):
                raise
            fail(f"the disk is full: {error}")

    return wrapped


def run(main, errors=()):
    """`app.run(main)`: see the module's docstring."""
    raise_on_stopping_signals()
    app.run(guarded(main, errors), flags_parser=parse_flags)


def execute(main, argv, errors=(), flag_values=flags.FLAGS):
    """Parses `argv` into `flag_values` and runs `main` as `run` does, in this process; raises
    SystemExit as the program would exit (tests use this)."""
    args = parse_flags(argv, flag_values)
    sys.exit(guarded(main, errors, flag_values)(args))


def says_disk_full(error):
    """Whether `error` says that the disk is full (a TensorFlow or HDF5 error says it in its
    text, which names the file being written)."""
    from kasm_keras.utils.atomic_files import is_disk_full

    return is_disk_full(error)


@contextlib.contextmanager
def download_hint(what, flag="--data_dir"):
    """A failed download inside the block ends the program with one line saying that `what`
    could not be downloaded and that `flag` names a local copy instead."""
    from kasm_keras.utils import download

    try:
        yield
    except download.DownloadError as error:
        fail(f"downloading {what} failed ({error}); without network access pass {flag} with "
             "a local copy")


# ------------------------------------------------------------------ flag validators

def _is_local(path):
    return "://" not in path


def existing_folder(flag_values, name, description="folder"):
    """`--name`, when given as a local path, must be an existing folder (a gs://... path is
    checked when it is used)."""

    def check(path):
        if path is None or not _is_local(path):
            return True
        if not os.path.exists(path):
            raise flags.ValidationError(f"no such {description}")
        if not os.path.isdir(path):
            raise flags.ValidationError(f"a file, not a {description}")
        return True

    flags.register_validator(name, check, flag_values=flag_values)


def define_zoo_dir(flag_values, holding="--zoo", must_exist=True):
    """The `--zoo_dir` flag every tool that reads the zoo shares; checked to be an existing
    folder (`must_exist`), or else not a file."""
    flags.DEFINE_string("zoo_dir", None, f"The zoo holding {holding}, a local folder (default: "
                        "$KASM_KERAS_ZOO_DIR, else this checkout's zoo/, else the Keras cache).",
                        flag_values=flag_values)
    (existing_folder if must_exist else not_a_file)(flag_values, "zoo_dir")


def not_a_file(flag_values, name, description="folder"):
    """`--name`, a local folder that may not exist yet, must not be an existing file (nor sit
    under one)."""

    def check(path):
        if path is None or not _is_local(path):
            return True
        folder = os.path.abspath(path)
        while folder and not os.path.exists(folder):
            parent = os.path.dirname(folder)
            if parent == folder:
                break
            folder = parent
        if os.path.exists(folder) and not os.path.isdir(folder):
            where = "" if folder == os.path.abspath(path) else f" ({folder} is a file)"
            raise flags.ValidationError(f"must be a {description}, not a file{where}")
        return True

    flags.register_validator(name, check, flag_values=flag_values)


def new_file(flag_values, name):
    """`--name`, a local file to write, must not be a folder and must be in one (or in a folder
    that can be made: none of its parents may be a file)."""

    def check(path):
        if path is None or not _is_local(path):
            return True
        if os.path.isdir(path):
            raise flags.ValidationError("a folder, not a file")
        folder = os.path.dirname(os.path.abspath(path))
        while not os.path.exists(folder) and folder != os.path.dirname(folder):
            folder = os.path.dirname(folder)
        if not os.path.isdir(folder):
            raise flags.ValidationError(f"{folder} is a file, not a folder")
        return True

    flags.register_validator(name, check, flag_values=flag_values)


def in_range(flag_values, name, low=None, high=None, low_open=False, high_open=False):
    """A float flag within [low, high] (an open end with `low_open`/`high_open`), and finite:
    nan and inf are refused whatever the bounds, and the message says so."""
    left, right = "(" if low_open else "[", ")" if high_open else "]"
    if low is not None and high is not None:
        wanted = f"in {left}{low}, {high}{right}"
    elif low is not None:
        wanted = f"a finite number {'>' if low_open else '>='} {low}"
    elif high is not None:
        wanted = f"a finite number {'<' if high_open else '<='} {high}"
    else:
        wanted = "a finite number"

    def check(value):
        if value is None:
            return True
        ok = math.isfinite(value)
        if ok and low is not None:
            ok = value > low if low_open else value >= low
        if ok and high is not None:
            ok = value < high if high_open else value <= high
        if not ok:
            raise flags.ValidationError(f"must be {wanted}")
        return True

    flags.register_validator(name, check, flag_values=flag_values)


def utf8_text(flag_values, name):
    """A text flag (a string or a list of them) must be UTF-8: Python keeps the bytes of an
    argument that are not as lone surrogates, which no tokenizer or tensor takes."""

    def check(values):
        for value in [values] if isinstance(values, str) else values or []:
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as error:
                byte = value[error.start].encode("utf-8", "surrogateescape")
                raise flags.ValidationError(
                    f"not UTF-8 text: byte 0x{byte.hex()} at character {error.start + 1} of "
                    f"{value!r}") from None
        return True

    flags.register_validator(name, check, flag_values=flag_values)


def int_list(flag_values, name, low=None):
    """A list flag of integers (each at least `low`)."""

    def check(values):
        for value in values or []:
            try:
                number = int(value)
            except ValueError:
                raise flags.ValidationError(f"{value!r} is not an integer") from None
            if low is not None and number < low:
                raise flags.ValidationError(f"{number} is below {low}")
        return True

    flags.register_validator(name, check, flag_values=flag_values)


def choices_list(flag_values, name, choices):
    """A list flag whose items are each one of `choices`."""

    def check(values):
        unknown = [v for v in values or [] if v not in choices]
        if unknown:
            raise flags.ValidationError(f"{', '.join(map(repr, unknown))}: expected items "
                                        f"of {', '.join(choices)}")
        return True

    flags.register_validator(name, check, flag_values=flag_values)


def one_model(flag_values):
    """Exactly one of --model_dir and --zoo."""

    def check(values):
        if (values["model_dir"] is None) == (values["zoo"] is None):
            raise flags.ValidationError("give exactly one of --model_dir and --zoo")
        return True

    flags.register_multi_flags_validator(["model_dir", "zoo"], check, flag_values=flag_values)


def load_model(model_dir, zoo_name, zoo_dir):
    """`kasm_keras.zoo.load_model` (which checks a run's best model against its sha256): a
    classifier or a language model, with a failed download of a zoo entry explained."""
    from kasm_keras import zoo

    with download_hint(f"the zoo entry {zoo_name}", "--zoo_dir"):
        return zoo.load_model(model_dir, zoo_name, zoo_dir)


def model_source(model_dir, zoo_name):
    """How a message names the model: the flag that gave it."""
    return f"--model_dir={model_dir}" if model_dir is not None else f"--zoo={zoo_name}"


def read_json(path):
    from kasm_keras.utils import files

    return files.read_json(path)


def write_text(path, text):
    """Replaces `path` with `text`: atomically on a local disk, by a rename elsewhere."""
    from kasm_keras.utils import files

    files.write_text(os.fspath(path), text)
