"""TensorFlow's start-up banner, left out unless its C++ logs are wanted.

`import tensorflow` prints, on a healthy CPU machine, INFO lines from C++ code that runs before
TensorFlow reads `TF_CPP_MIN_LOG_LEVEL` (so no level silences them), and prints them twice (the
profiler's library holds a second copy of the logging code):

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 ... port.cc:153] oneDNN custom operations are on. ...
    I0000 ... cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
    I0000 ... cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use ...
    To enable the following instructions: AVX2 ... rebuild TensorFlow with the appropriate ...

`import_tensorflow()` imports TensorFlow with the process's stderr (the file descriptor the C++
code writes to) read into a temporary file, then writes back every line but those (all of
them when the import fails: they may say why). It does so only on TensorFlow's first import and
when `TF_CPP_MIN_LOG_LEVEL` is unset or above 0: set to 0, TensorFlow's INFO lines are wanted
and nothing is left out.

Keras imports Grain where it is installed (keras-hub's test harness needs it), and Grain logs
`Failed to load jax profiler: No module named 'jax'` on its import: a note about a framework
this package does not use. `quiet_grain()` leaves that one record out of the `absl` logger;
TensorFlow's INFO lines being wanted keeps it too.
"""

import logging

import os
import re
import sys
import tempfile

BANNER = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|I\d{4} [\d:.]+ +\d+ (port|cudart_stub|cpu_feature_guard)\.cc:\d+\] .*"
    r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate "
    r"compiler flags\.")


def _not_grain_jax_note(record):
    return not record.getMessage().startswith("Failed to load jax profiler")


def quiet_grain():
    """Leaves Grain's note that JAX's profiler is missing out of the `absl` logger (once)."""
    logger = logging.getLogger("absl")
    if not wanted() and _not_grain_jax_note not in logger.filters:
        logger.addFilter(_not_grain_jax_note)


def wanted():
    """Whether TensorFlow's INFO lines are wanted: `TF_CPP_MIN_LOG_LEVEL=0`."""
    return os.environ.get("TF_CPP_MIN_LOG_LEVEL", "").strip() == "0"


def import_tensorflow():
    """`import tensorflow`, without its start-up banner (see the module's docstring). An import
    that fails writes back every line it printed, the banner too: they may say why."""
    if "tensorflow" in sys.modules or wanted():
        import tensorflow  # noqa: F401
        return
    try:
        _flush_stderr()
        saved = os.dup(2)
    except (OSError, ValueError):  # no stderr to filter
        import tensorflow  # noqa: F401
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        failed = False
        try:
            import tensorflow  # noqa: F401
        except Exception:
            failed = True
            raise
        finally:
            _flush_stderr()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().splitlines(keepends=True)
                    if failed
                    or not BANNER.fullmatch(line.rstrip(b"\r\n").decode("utf-8", "replace"))]
            with os.fdopen(os.dup(2), "wb") as stderr:
                stderr.writelines(kept)


def _flush_stderr():
    """Flushes `sys.stderr`, which is None in a program without one (pythonw, some embedding
    interpreters) though file descriptor 2 may still be open."""
    if sys.stderr is not None:
        sys.stderr.flush()
