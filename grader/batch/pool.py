"""The pool of kernels: grade a batch's submissions with at most ``jobs`` kernels at once.

Each submission is graded by :func:`grader.grading.grade.grade_submission` in its own sandbox slot; the host only
orchestrates and compares. Imported only when something is to be graded (it imports torch, through the judges).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from grader.assignment.plan import GradingPlan
from grader.batch.intake import Submission
from grader.errors import GraderError
from grader.grading.grade import all_failed, grade_submission
from grader.grading.results import SubmissionResult, SubmissionStatus
from grader.sandbox.launcher import Launcher

log = logging.getLogger(__name__)
T = TypeVar("T")


async def run_pool(
    plan: GradingPlan,
    tasks: list[T],
    submission: Callable[[T], Submission],
    launcher: Launcher,
    jobs: int,
    commit: Callable[[T, SubmissionResult], None],
) -> None:
    """Grade ``tasks`` with at most ``jobs`` kernels at once; ``commit`` each result as soon as it is ready."""
    workroot = Path(tempfile.mkdtemp(prefix="grader-runs-"))
    free = list(range(jobs - 1, -1, -1))
    running: dict[asyncio.Task, tuple[T, int]] = {}
    pending = iter(tasks)
    try:
        while True:
            while free and (task := next(pending, None)) is not None:
                slot = free.pop()
                graded = grade_one(plan, submission(task), launcher, workroot, slot)
                running[asyncio.create_task(graded)] = (task, slot)
            if not running:
                break
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for finished in done:
                task, slot = running.pop(finished)
                free.append(slot)
                commit(task, finished.result())
    finally:
        for t in running:
            t.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        shutil.rmtree(workroot, ignore_errors=True)


async def grade_one(plan: GradingPlan, sub: Submission, launcher: Launcher, workroot: Path, slot: int):
    """One student's result: graded in a kernel, or at once when the intake found nothing to run."""
    if sub.problem:
        return not_graded(plan, sub.student_id, sub.status, sub.problem, launcher)
    try:
        result = await grade_submission(plan, sub.notebook, sub.student_id, launcher, workroot, slot)
    except GraderError:
        raise  # the machine, not the submission: stop the batch (what is committed stays)
    except Exception as exc:  # a bug in the grader: record it for this student, go on with the others
        log.exception("grading %s failed in the grader", sub.student_id)
        result = not_graded(plan, sub.student_id, "error", f"grader error: {type(exc).__name__}: {exc}", launcher)
    if sub.note:
        result.notes.insert(0, sub.note)
    return result


def not_graded(plan: GradingPlan, student_id: str, status: SubmissionStatus, message: str, launcher: Launcher):
    """A result with every test failed as 'not run' and ``message`` saying why."""
    return SubmissionResult(
        student_id=student_id,
        assignment=plan.assignment,
        status=status,
        score=0.0,
        max_score=plan.max_score,
        message=message[:1000],
        questions=all_failed(plan, "not_run", message[:1000]),
        isolation=launcher.name,
        provenance=plan.provenance,
    )
