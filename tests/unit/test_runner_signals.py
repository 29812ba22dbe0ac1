"""A signal during a run cancels the run and then reaches the process as before the run (ansible-runner on
its own replaces the SIGTERM/SIGINT handlers for good: `indigo elastic run` then ignored SIGTERM)."""

import os
import signal

from tosca2ansible.runtime.runner import stop_signals


def test_a_sigterm_during_the_run_cancels_it_then_reaches_the_process():
    got = []
    before = signal.signal(signal.SIGTERM, lambda number, frame: got.append(number))
    try:
        with stop_signals() as cancelled:
            assert not cancelled()
            os.kill(os.getpid(), signal.SIGTERM)
            assert cancelled() and got == []  # the run sees it, the process not yet
        assert got == [signal.SIGTERM]  # delivered once the run is over
        with stop_signals():
            pass
        os.kill(os.getpid(), signal.SIGTERM)
        assert got == [signal.SIGTERM] * 2  # handler restored after a quiet run too
    finally:
        signal.signal(signal.SIGTERM, before)


def test_the_handlers_are_restored_even_when_the_run_raises():
    before = signal.getsignal(signal.SIGINT)
    try:
        with stop_signals():
            raise RuntimeError("runner failed")
    except RuntimeError:
        pass
    assert signal.getsignal(signal.SIGINT) is before
