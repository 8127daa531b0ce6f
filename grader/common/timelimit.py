"""A time limit on code run in this process (the notebook's ``check()``, the instructor's code in mutation
analysis): SIGALRM where there is one, else a timer that interrupts the main thread (Windows)."""

from __future__ import annotations

import _thread
import signal
import threading
from contextlib import contextmanager


class OutOfTime(KeyboardInterrupt):
    """A call's time limit ran out (raised by the timer; the student's own Ctrl-C is a plain KeyboardInterrupt).
    A KeyboardInterrupt, so that the harness records the call as interrupted, as the watchdog's interrupt."""


@contextmanager
def time_limit(seconds: float):
    """Raise :class:`OutOfTime` in the code run inside, after ``seconds``."""
    if hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread():

        def expire(signum, frame):
            raise OutOfTime()

        previous = signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        return
    fired = threading.Event()  # Windows: no SIGALRM; interrupt the main thread instead

    def expire_main():
        fired.set()
        _thread.interrupt_main()

    timer = threading.Timer(seconds, expire_main)
    timer.start()
    try:
        yield
    except KeyboardInterrupt:
        if fired.is_set():
            raise OutOfTime() from None
        raise
    finally:
        timer.cancel()
