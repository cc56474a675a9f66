"""Signals held off inside a block (a training run's steps) and passed on to the program's own
handlers between steps (kasm_keras.utils.held_signals)."""

import os
import signal
import threading

import pytest

from kasm_keras.utils.held_signals import HeldSignals


class Stop(Exception):
    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def _raise_stop(signum, frame):
    raise Stop(signum)


@pytest.fixture
def stopping_handlers():
    """SIGTERM and SIGUSR1 raise Stop, as a program's stopping signals raise its Stopped."""
    previous = {s: signal.signal(s, _raise_stop) for s in (signal.SIGTERM, signal.SIGUSR1)}
    yield
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def test_a_signal_in_the_block_reaches_the_programs_handler_at_deliver(stopping_handlers):
    with pytest.raises(Stop) as stop:
        with HeldSignals() as held:
            held.deliver()  # nothing came: nothing happens
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(100000):  # where the handler would have run
                pass
            reached = "the step after the signal"
            held.deliver()
            reached = "after deliver"
    assert stop.value.signum == signal.SIGTERM and reached == "the step after the signal"
    assert signal.getsignal(signal.SIGTERM) is _raise_stop


def test_the_block_holds_again_after_deliver_and_passes_on_at_its_end(stopping_handlers):
    stops = []
    with pytest.raises(Stop):
        with HeldSignals() as held:
            os.kill(os.getpid(), signal.SIGUSR1)
            try:
                held.deliver()
            except Stop as stop:
                stops.append(stop.signum)
            os.kill(os.getpid(), signal.SIGTERM)  # held again, until the block ends
            stops.append("held")
    assert stops == [signal.SIGUSR1, "held"]
    assert signal.getsignal(signal.SIGUSR1) is _raise_stop


def test_an_error_leaving_the_block_goes_first_and_the_handlers_come_back(stopping_handlers):
    with pytest.raises(ValueError):
        with HeldSignals():
            os.kill(os.getpid(), signal.SIGTERM)
            raise ValueError("a failed step")
    assert signal.getsignal(signal.SIGTERM) is _raise_stop


def test_signals_python_does_not_handle_are_left_alone(stopping_handlers):
    previous = signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    try:
        with HeldSignals():
            assert signal.getsignal(signal.SIGUSR2) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGKILL) in (signal.SIG_DFL, None)
            assert signal.getsignal(signal.SIGTERM) is not _raise_stop  # held
    finally:
        signal.signal(signal.SIGUSR2, previous)


def test_outside_the_main_thread_nothing_is_held(stopping_handlers):
    seen = []

    def enter():
        with HeldSignals():
            seen.append(signal.getsignal(signal.SIGTERM))

    thread = threading.Thread(target=enter)
    thread.start()
    thread.join()
    assert seen == [_raise_stop]
