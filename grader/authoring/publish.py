"""``grader release`` with its safety check: no graded function may ship its solution to students.

A function left without ``### BEGIN SOLUTION`` / ``### END SOLUTION`` markers is released as written. That
is found by running the released template (in a plain local kernel: it is the instructor's own code) on
every case: a released function that passes all its cases is a leak, and the release is refused (so is
a release whose template could not be run at all). The release is built in a staging folder next to the
target and moved into place only when it passed.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from grader.assignment.groundtruth import build_plan
from grader.assignment.plan import GradingPlan
from grader.assignment.release import release
from grader.assignment.spec import Assignment
from grader.errors import ReleaseError
from grader.grading.grade import grade_submission
from grader.grading.results import SubmissionResult
from grader.sandbox.launcher import Launcher, LocalLauncher


def shipped_solutions(plan: GradingPlan, template: SubmissionResult, notebook: str) -> list[str]:
    """One line per graded function whose released template earns all its points."""
    return [
        f"{notebook}: function {q.name!r} passes all its cases in the released template, so its solution would "
        "ship to students: put it between ### BEGIN SOLUTION and ### END SOLUTION"
        for q in template.questions
        if q.max_score > 0 and q.score >= q.max_score
    ]


def release_checked(assignment: Assignment, out: Path, launcher: Launcher | None = None) -> Path:
    """Build the release into ``out`` (empty or absent) and return its notebook; a :class:`ReleaseError`,
    and nothing written, when a graded function's solution would ship (:func:`shipped_solutions`)."""
    out = Path(out).resolve()  # a kernel's run folder must be absolute
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ReleaseError(f"{out}: the release folder must be empty or absent")
    out.parent.mkdir(parents=True, exist_ok=True)
    plan = build_plan(assignment)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    runs = Path(tempfile.mkdtemp(prefix="grader-runs-"))  # short: a kernel's sockets live there
    try:
        notebook = release(assignment, staging / "release", plan)
        run = grade_submission(plan, notebook, "template", launcher or LocalLauncher(), runs)
        template = asyncio.run(run)
        if template.status != "graded":
            raise ReleaseError(f"{notebook.name}: cannot check the released template: {template.message[:300]}")
        shipped = shipped_solutions(plan, template, notebook.name)
        if shipped:
            raise ReleaseError("; ".join(shipped))
        if out.exists():
            out.rmdir()
        (staging / "release").rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(runs, ignore_errors=True)
    return out / notebook.name
