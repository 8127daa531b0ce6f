"""``grader review OUT`` as a TA runs it: one line with the URL, served until Ctrl-C; a clear error without a
gradebook."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx
from typer.testing import CliRunner

from grader.cli import app
from tests.review.classbook import class_gradebook


def test_review_without_a_gradebook_fails_with_one_line(tmp_path):
    result = CliRunner().invoke(app, ["review", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.strip() == f"error: {tmp_path}: no gradebook here (run 'grader grade' first)"


def test_review_prints_the_url_serves_it_and_stops_on_ctrl_c(tmp_path):
    out = class_gradebook(tmp_path)
    command = [sys.executable, "-m", "grader.cli", "review", str(out), "--host", "127.0.0.2", "--anonymous"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        warning, line = server.stdout.readline(), server.stdout.readline()
        assert warning.startswith("warning: the review page is reachable from other machines")
        assert line.startswith("review page: http://127.0.0.2:")
        url = line.split()[-1]
        with httpx.Client(follow_redirects=True) as browser:
            assert browser.get(url.split("?")[0]).status_code == 403
            page = browser.get(url)
            assert page.status_code == 200 and "anonymous grading" in page.text
            assert "Student 12" in browser.get(url.split("?")[0] + "api/answers?question=why-scale").text
    finally:
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=60) == 0
