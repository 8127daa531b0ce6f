"""Killed mid-batch with SIGKILL, a rerun grades every submission exactly once."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from typer.testing import CliRunner

from grader.cli import app
from tests.batch.helpers import GOOD, sandbox_args
from tests.helpers import REPO, notebook, wait_for

pytestmark = pytest.mark.slow
STUDENTS = [f"s{i}" for i in range(6)]


def attempts(out: Path) -> dict[str, int]:
    db = sqlite3.connect(out / "gradebook.sqlite")
    try:
        return dict(db.execute("SELECT student_id, count(*) FROM attempts GROUP BY student_id").fetchall())
    except sqlite3.OperationalError:  # the schema is not there yet
        return {}
    finally:
        db.close()


def kill_after_first_result(cmd: list[str], out: Path, timeout: float = 120) -> int:
    """Run ``cmd``; SIGKILL it once a result is committed; return how many were committed by then."""
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if (out / "gradebook.sqlite").is_file() and attempts(out):
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the batch finished before it could be killed"
        os.kill(proc.pid, signal.SIGSTOP)  # frozen, it starts no new kernel while we list the ones it has
        grader = psutil.Process(proc.pid)
        assert wait_for(lambda: grader.status() == psutil.STATUS_STOPPED, 10)
        kernels = grader.children(recursive=True)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    _, alive = psutil.wait_procs(kernels, timeout=10)  # the sandbox dies with its grader (--die-with-parent)
    assert not alive, f"kernels outlived the killed grader: {alive}"
    return sum(attempts(out).values())


def test_a_killed_batch_resumes_and_grades_each_submission_once(mini_assignment, tmp_path):
    subs = tmp_path / "subs"
    for sid in STUDENTS:
        notebook(subs, sid, *GOOD)
    out = tmp_path / "out"
    args = ["grade", str(mini_assignment.folder), str(subs), "--out", str(out), "--jobs", "1", *sandbox_args()]

    committed = kill_after_first_result([sys.executable, "-m", "grader.cli", *args, "--quiet"], out)
    assert 1 <= committed < len(STUDENTS)

    rerun = CliRunner().invoke(app, args)
    assert rerun.exit_code == 0, rerun.output
    assert f"{committed} submission(s) already graded, skipped" in rerun.output
    assert attempts(out) == {sid: 1 for sid in STUDENTS}
    assert sorted(p.stem for p in (out / "results").glob("*.json")) == STUDENTS
    assert (out / "gradebook.csv").read_text().count("\n") == len(STUDENTS) + 1

    again = CliRunner().invoke(app, [*args, "--student", "s3"])
    assert again.exit_code == 0 and "graded 1/1" in again.output, again.output
    assert attempts(out) == {sid: 2 if sid == "s3" else 1 for sid in STUDENTS}

    unknown = CliRunner().invoke(app, [*args, "--student", "nobody"])
    assert unknown.exit_code == 1 and "no submission of student(s) nobody" in unknown.output
