"""Self-check: a student's notebook against the public tests of its release, on their own machine.

``grader check my.ipynb`` finds the release's test bundle (``tests/`` next to the notebook or in a
parent folder, or ``--tests``), grades the saved notebook with exactly the engine final grading uses,
prints a table and writes the feedback report next to the notebook.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from grader.assignment import bundle
from grader.assignment.plan import GradingPlan, load_bundle
from grader.errors import GraderError
from grader.grading.grade import grade_submission
from grader.grading.guidance import guidance
from grader.grading.notebook import NotebookUnreadable, read_notebook
from grader.grading.report import render_reports
from grader.grading.results import SubmissionResult
from grader.sandbox.launcher import Launcher, LocalLauncher
from grader.selfcheck.table import PUBLIC_ONLY


def load_check_plan(notebook: Path, tests: Path | None = None) -> GradingPlan:
    """The public-test plan for ``notebook``: from ``tests`` or the release folder it sits in."""
    return load_bundle(tests or bundle.find_for(notebook))


def check_notebook(
    notebook: Path,
    plan: GradingPlan | None = None,
    launcher: Launcher | None = None,
    progress: Callable[[str], None] | None = None,
    cancelled: threading.Event | None = None,
) -> tuple[SubmissionResult, GradingPlan, Path]:
    """Grade ``notebook`` on the public tests; return the result, the plan and the HTML report's path.
    A path that is not a readable notebook is a :class:`GraderError` (one line; no report is written).
    ``progress`` is told what runs (see :func:`grade_submission`); a check ``cancelled`` meanwhile (its
    client went away) writes no report and raises ``KeyboardInterrupt``."""
    try:
        read_notebook(notebook)
    except NotebookUnreadable as exc:
        raise GraderError(str(exc)) from None
    except OSError as exc:
        raise GraderError(f"{notebook}: cannot be read ({exc.strerror or exc})") from None
    plan = plan or load_check_plan(notebook)
    with tempfile.TemporaryDirectory(prefix="grader-check-") as workroot:
        result = asyncio.run(
            grade_submission(
                plan, notebook, notebook.stem, launcher or LocalLauncher(), Path(workroot), progress=progress
            )
        )
    if cancelled is not None and cancelled.is_set():
        raise KeyboardInterrupt("the check was cancelled")
    public_only = PUBLIC_ONLY.format(count=hidden_count(plan.questions))
    html, _ = render_reports(result, notebook.resolve().parent / ".feedback", public_only)
    return result, plan, html


def hidden_count(questions) -> int:
    return sum(q.hidden_cases for q in questions)


def check_reply(result: SubmissionResult, plan: GradingPlan, report: Path, notice: str | None) -> dict:
    """What ``grader check`` shows, as plain data: the check server's reply, and what an in-process check
    prints from (:func:`grader.selfcheck.terminal.print_reply`)."""
    return {
        "ok": True,
        "notice": notice,
        "result": result.gradescope(),
        "score": result.score,
        "max_score": result.max_score,
        "hidden": hidden_count(plan.questions),
        "guidance": guidance(result.questions, result.calls),
        "report": str(report),
    }
