"""The progress line of ``grader check``: on a terminal only, rewritten in place, after a check has taken a
while; notes (a check waiting for another one) on any stream."""

import io

from grader.selfcheck import progress
from grader.selfcheck.progress import WAITING, ProgressLine


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_quick_check_shows_nothing_and_a_long_one_its_current_step(monkeypatch):
    monkeypatch.setattr(progress, "SHOW_AFTER_S", 3600.0)
    quick = Terminal()
    line = ProgressLine(quick)
    line("code cell 1 of 2")
    line.close()
    assert quick.getvalue() == ""
    monkeypatch.setattr(progress, "SHOW_AFTER_S", 0.0)
    slow = Terminal()
    line = ProgressLine(slow)
    line("code cell 1 of 2")
    line.event({"event": "progress", "text": "checking top_k_filter (test call 3 of 13)\x1b[2J"})
    line.close()
    shown = slow.getvalue()
    assert "... code cell 1 of 2" in shown and "... checking top_k_filter (test call 3 of 13)[2J" in shown
    assert "\x1b[2J" not in shown  # control characters are dropped
    assert shown.endswith("\r\x1b[K")  # the line is cleared at the end


def test_a_waiting_check_says_so_on_any_stream_and_progress_only_on_a_terminal(monkeypatch):
    monkeypatch.setattr(progress, "SHOW_AFTER_S", 0.0)
    log = io.StringIO()
    line = ProgressLine(log)
    line.event({"event": "waiting"})
    line.event({"event": "progress", "text": "code cell 1 of 2"})
    line.close()
    assert log.getvalue() == WAITING + "\n"
