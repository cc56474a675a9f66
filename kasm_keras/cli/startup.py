"""What a program does before it imports TensorFlow: stopping signals end it cleanly, and
TensorFlow's C++ logs stay quiet unless asked for.

This module imports nothing but the standard library, so that `tools/launch.py` can run it
before the package (whose import takes TensorFlow's seconds) is imported: a Ctrl-C in those
seconds ends the program as one later does.

- A stopping signal (SIGINT, SIGTERM, SIGHUP) raises `Stopped` (a KeyboardInterrupt) in the
  program, so its writers clean up, and it ends with one `stopped by SIGxxx` line, exit status
  128 + the signal's number, never a traceback; `stopped(stop, message)` adds where the work
  can be taken up again. A `Stopped` raised where Python can only print and drop it (in a
  `__del__`, a weakref or garbage-collector callback) is not lost: the signal is sent again.
- TensorFlow's C++ logs, unless the user set `TF_CPP_MIN_LOG_LEVEL`: none below FATAL (its
  ERROR lines on a healthy CPU machine, "failed call to cuInit" and "oneDNN supports DT_BOOL
  only ...", read as failures; a real failure is a Python exception, the program's error line),
  or all of them with `--verbosity` (`-v`). Set before TensorFlow is imported, which reads it
  once.
- `--deterministic`: oneDNN's CPU kernels off (`TF_ENABLE_ONEDNN_OPTS=0`, unless the user set
  it), which TensorFlow reads once as it loads. Those kernels are not repeatable bit for bit on
  a busy machine, and a small difference grows over a training run.
"""

import _thread
import atexit
import contextlib
import os
import signal
import sys
import time

STOPPING_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def one_line(message):
    """`message` on one line: the lines of a multi-line message joined by spaces."""
    return " ".join(line.strip() for line in str(message).splitlines() if line.strip())


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


def _send_again(signum):
    """Sends `signum` to this process a moment later, from a thread of its own: the handler
    then runs in the main thread's next Python step, out of the callback that dropped it."""
    time.sleep(0.01)
    os.kill(os.getpid(), signum)


_unraisablehook = sys.unraisablehook


def _stop_again(unraisable):
    """`sys.unraisablehook` of a program: a stopping signal whose handler ran inside a callback
    Python cannot raise from (a `__del__`, a weakref or garbage-collector callback, which
    TensorFlow's objects have) would be dropped there with an "Exception ignored" message, and
    the program would go on as if no signal had come. It is sent again instead, until it lands
    where it stops the program. `_thread` rather than `threading`: a Thread's start waits for
    the thread, and the signal could land in that wait, inside this hook."""
    if isinstance(unraisable.exc_value, Stopped):
        _thread.start_new_thread(_send_again, (unraisable.exc_value.signum,))
    else:
        _unraisablehook(unraisable)


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


def _stopped_outside_guarded(kind, error, traceback):
    """`sys.excepthook` of a program: a stopping signal that arrives before its `main` runs
    (while it imports TensorFlow, which takes seconds) ends as one inside it does: one `stopped
    by SIGxxx` line, and status 128 + the signal's number once the interpreter has cleaned
    up."""
    if not issubclass(kind, KeyboardInterrupt):
        return _excepthook(kind, error, traceback)
    try:
        stopped(error)
    except SystemExit as exit_:
        _exit_status.append(exit_.code)


def _exit_with_stopped_status():
    """The status `_stopped_outside_guarded` chose, which Python cannot be asked for: it ends
    an uncaught exception with status 1 (a KeyboardInterrupt by killing itself with SIGINT).
    Registered with atexit as the program starts, so it runs after the handlers of the modules
    the program imports later (atexit runs the last registered first)."""
    if _exit_status:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(_exit_status[0])


def start_program(argv=None):
    """Called first by a program (once; later calls do nothing): stopping signals raise
    `Stopped` from here on, one that ends the program before its `main` runs is one line, and
    TensorFlow's C++ log level follows `--verbosity` in `argv` (default `sys.argv`)."""
    if sys.excepthook is _stopped_outside_guarded:
        return
    raise_on_stopping_signals()
    sys.excepthook = _stopped_outside_guarded
    sys.unraisablehook = _stop_again
    atexit.register(_exit_with_stopped_status)
    verbose = any(arg.split("=")[0] in ("--verbosity", "-verbosity", "--v", "-v")
                  for arg in (sys.argv if argv is None else argv)[1:])
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if verbose else "3")
    if wants_determinism(sys.argv if argv is None else argv):
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def wants_determinism(argv):
    """Whether `argv` (a program's, with its name first) turns `--deterministic` on: absl's
    boolean forms `--deterministic`, `--deterministic=true` or `=1`; the last one counts."""
    wanted = False
    for arg in argv[1:]:
        if arg == "--":
            break
        name, _, value = arg.lstrip("-").partition("=")
        if arg.startswith("-") and name in ("deterministic", "nodeterministic"):
            wanted = name == "deterministic" and value.lower() in ("", "true", "t", "1")
    return wanted
