"""Signals held off while TensorFlow runs, and passed on where stopping leaves nothing half done.

A Python signal handler runs in the main thread between two steps of Python code, and inside a
TensorFlow call that can be in the middle of TensorFlow's C++: an eager op that converts its
Python arguments calls back into Python, and a `KeyboardInterrupt` raised there crashed the
process (SIGSEGV in `EagerTensor`'s constructor, seen on a Ctrl-C during a training run's
TensorBoard write) or left it running. Within `HeldSignals`, every signal the program handles in
Python (the stopping signals of `kasm_keras.cli.startup`; Ctrl-C's KeyboardInterrupt in any
program) is only recorded, and `deliver()`, called by a loop between two of its steps, passes it
on to the program's own handler there. A signal whose action is the system's (SIG_DFL, ending
the process at once) or ignored is left alone: no Python runs for it.

Why not Python's `signal` alone: it offers no way to say where a handler may run.
"""

import signal
import threading


class HeldSignals:
    """Holds the Python-handled signals that arrive inside the block until `deliver()`.

    Only the main thread can set handlers: in another thread the block holds nothing and the
    program's handlers stay as they are.

    Examples:

    >>> import os, signal
    >>> from kasm_keras.utils.held_signals import HeldSignals
    >>> stops = []
    >>> previous = signal.signal(signal.SIGUSR1, lambda signum, frame: stops.append(signum))
    >>> with HeldSignals() as held:
    ...     os.kill(os.getpid(), signal.SIGUSR1)  # arrives while TensorFlow would be running
    ...     held_back = list(stops)
    ...     held.deliver()  # between two steps: the program's handler runs now
    >>> held_back, stops == [signal.SIGUSR1]
    ([], True)
    >>> _ = signal.signal(signal.SIGUSR1, previous)
    """

    def __init__(self):
        self._handlers = {}  # signal -> the program's handler, while held
        self._pending = []

    def __enter__(self):
        self._hold()
        return self

    def __exit__(self, kind, error, traceback):
        self._release()
        if kind is None:  # one that came in the block's last moments; an error goes first
            self._pass_on()

    def _hold(self):
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in signal.valid_signals():
            try:
                handler = signal.getsignal(signum)
            except ValueError:
                continue
            if callable(handler):
                self._handlers[signum] = handler
                signal.signal(signum, self._record)

    def _record(self, signum, frame):
        self._pending.append(signum)

    def _release(self):
        for signum, handler in self._handlers.items():
            signal.signal(signum, handler)
        self._handlers = {}

    def _pass_on(self):
        pending, self._pending = self._pending, []
        for signum in dict.fromkeys(pending):  # once each, in the order they came
            signal.raise_signal(signum)  # the program's handler runs here, now

    def deliver(self):
        """Passes the signals that came since the last call on to the program's handlers, as
        if they arrived now (a stopping signal's handler raises here). Call it where an
        exception leaves nothing half done: between two training steps. Holds again after."""
        if self._pending:
            self._release()
            try:
                self._pass_on()
            finally:  # until the block ends, even if the caller goes on after a handler's error
                self._hold()
