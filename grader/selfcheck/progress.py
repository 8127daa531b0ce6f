"""What a running ``grader check`` shows meanwhile, on stderr: which code cell runs or which function is being
checked, once the check has taken more than a couple of seconds, and a line when it has to wait for another
check. Standard library only (the check client's events feed it).
"""

from __future__ import annotations

import shutil
import sys
import threading
import time

SHOW_AFTER_S = 2.0  # a quick check shows no progress at all
WAITING = "another check is running on your check server; yours starts as soon as it is done"


class ProgressLine:
    """One status line, rewritten in place, on a terminal only; :meth:`note` lines are printed anywhere."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.live = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.text, self.shown, self.lock = "", False, threading.Lock()
        self.since = time.monotonic()
        self.timer = threading.Timer(SHOW_AFTER_S, self._show) if self.live else None
        if self.timer is not None:
            self.timer.daemon = True
            self.timer.start()

    def __call__(self, text: str) -> None:
        """The check's current step, e.g. "code cell 3 of 24" or "checking top_k_filter (test call 4 of 13)"."""
        self.text = "".join(ch for ch in text if ch.isprintable())[:200]
        if time.monotonic() - self.since >= SHOW_AFTER_S:
            self._show()

    def event(self, message: dict) -> None:
        """An event line of the check server (:func:`grader.selfcheck.client.request_check`)."""
        if message.get("event") == "waiting":
            self.note(WAITING)
        elif message.get("event") == "progress" and isinstance(message.get("text"), str):
            self(message["text"])

    def note(self, text: str) -> None:
        with self.lock:
            self._clear()
            self.stream.write(text + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        with self.lock:
            self._clear()
            self.live = False

    def _show(self) -> None:
        with self.lock:
            if not self.live or not self.text:
                return
            width = shutil.get_terminal_size().columns - 1
            self.stream.write("\r\x1b[K" + f"... {self.text}"[:width])
            self.stream.flush()
            self.shown = True

    def _clear(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.shown = False
