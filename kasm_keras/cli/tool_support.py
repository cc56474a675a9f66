"""What every program of kasm_keras.cli shares.

- `run_program(module)`: the program `module` is (its `define_flags`, `main` and `ERRORS`), as
  `kasm-NAME` and `python tools/NAME.py` run it: `start_program()` (stopping signals and
  TensorFlow's C++ log level: `kasm_keras.cli.startup`), then `absl.app.run(main)`, with
  logging at WARNING unless the user passed `--verbosity` (or `-v`). A bad flag (out of range,
  failing a validator, unknown, missing), a usage error, and each of the library errors in
  `ERRORS` (plus `OSError`: the user's paths) end the program with one `error: ...` line on
  stderr and exit status 1, never a traceback; so does any error that says the disk is full.
- `execute(main, argv, errors, flag_values)`: the same for tests, in process, on their own
  `flags.FlagValues`.
- Each program defines its flags in `define_flags(flag_values)`, called when it runs, so that
  tests can parse a program's flags without importing every program's into one `FLAGS`.
- `existing_folder`, `not_a_file`, `in_range`, `utf8_text`, ...: flag validators, checked while
  the flags are parsed: before any data is read or any file written.
- `download_hint(...)`: a failed download becomes one line that says which flag avoids it.
- `load_model`: `kasm_keras.zoo.load_model` (a classifier, a language model or a time-series
  classifier; a run's best model is checked against the sha256 that training recorded beside
  it), with a failed download explained; its family (`kasm_keras.models.task_family.of_model`)
  says what it is.

Importing this module changes nothing in the process (no signal handler, no log level): a
program's `run_program` does.
"""
import contextlib
import math
import os
import sys

from absl import app, flags, logging

from kasm_keras.cli.startup import one_line, start_program, stopped


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


def run_program(module):
    """Runs the program `module` (its `define_flags`, `main` and `ERRORS`) on `sys.argv`: see
    the module's docstring. Its flags are listed by `--help` under the program's name."""
    start_program()
    module.define_flags()
    # `--help` shows the main module's docstring and key flags: a launcher's (tools/NAME.py) or
    # a console script's are the program's.
    main = sys.modules["__main__"]
    if main is not module:
        main.__doc__ = module.__doc__
        for flag in flags.FLAGS.get_key_flags_for_module(module.__name__):
            flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
    app.run(guarded(module.main, module.ERRORS), flags_parser=parse_flags)


def execute(main, argv, errors=(), flag_values=flags.FLAGS):
    """Parses `argv` into `flag_values` and runs `main` as `run` does, in this process; raises
    SystemExit as the program would exit (tests use this)."""
    args = parse_flags(argv, flag_values)
    sys.exit(guarded(main, errors, flag_values)(args))


def says_disk_full(error):
    """Whether `error` says that the disk is full (a TensorFlow or HDF5 error says it in its
    text, which names the file being written)."""
    from kasm_keras.utils.files import is_disk_full

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
    """Exactly one of --model_dir and --zoo (absl's mutual exclusion, required)."""
    flags.mark_flags_as_mutual_exclusive(["model_dir", "zoo"], required=True,
                                         flag_values=flag_values)


def load_model(model_dir, zoo_name, zoo_dir):
    """`kasm_keras.zoo.load_model` (which checks a run's best model against its sha256): a
    classifier or a language model, with a failed download of a zoo entry explained."""
    from kasm_keras import zoo

    with download_hint(f"the zoo entry {zoo_name}", "--zoo_dir"):
        return zoo.load_model(model_dir, zoo_name, zoo_dir)


def model_source(model_dir, zoo_name):
    """How a message names the model: the flag that gave it."""
    return f"--model_dir={model_dir}" if model_dir is not None else f"--zoo={zoo_name}"




def define_family_flags(flag_values, tool_flags):
    """Defines flags that the task families declare (`kasm_keras.models.task_family.ToolFlag`),
    each once (several families may declare one), with its validator.

    Args:
        flag_values: The program's `flags.FlagValues`.
        tool_flags: ToolFlags, in the order they are defined.

    Returns:
        The names of the flags defined, in order.
    """
    defined = []
    for flag in tool_flags:
        if flag.name in defined:
            continue
        default = flag.default() if callable(flag.default) else flag.default
        getattr(flags, f"DEFINE_{flag.kind}")(flag.name, default, flag.help,
                                              flag_values=flag_values)
        if flag.check == "utf8":
            utf8_text(flag_values, flag.name)
        elif flag.check == "folder":
            existing_folder(flag_values, flag.name)
        elif flag.check == "indices":
            int_list(flag_values, flag.name, low=0)
        defined.append(flag.name)
    return defined
