"""Grading a folder of submissions: a pool of kernels, one result, report and gradebook row per student.

The batch is a short loop over :func:`grader.grade.grade_submission`. Up to ``jobs`` kernels run at
once (each is its own process; the host only orchestrates and compares). One student's failure is
recorded in that student's result and the batch goes on.
"""

from __future__ import annotations

import asyncio
import csv
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from grader.grade import grade_submission
from grader.kernel import Launcher
from grader.plan import GradingPlan
from grader.report import render_reports
from grader.results import SubmissionResult
from grader.submissions import Submission

RESULTS_DIR = "results"
REPORTS_DIR = "reports"
GRADEBOOK = "gradebook.csv"


@dataclass
class BatchSummary:
    results: list[SubmissionResult]
    seconds: float

    @property
    def graded(self) -> int:
        return sum(r.status == "graded" for r in self.results)


async def grade_all(
    plan: GradingPlan,
    submissions: list[Submission],
    out: Path,
    launcher: Launcher,
    jobs: int | None = None,
    on_done: Callable[[SubmissionResult], None] | None = None,
) -> BatchSummary:
    """Grade every submission, at most ``jobs`` at once; write results and reports as each one finishes."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    jobs = max(1, jobs or os.cpu_count() or 1)
    free_slots: asyncio.Queue[int] = asyncio.Queue()
    for slot in range(jobs):
        free_slots.put_nowait(slot)
    out.mkdir(parents=True, exist_ok=True)
    workroot = Path(tempfile.mkdtemp(prefix="grader-runs-"))

    async def one(sub: Submission) -> SubmissionResult:
        slot = await free_slots.get()
        try:
            result = await grade_submission(plan, sub.notebook, sub.student_id, launcher, workroot, slot)
        finally:
            free_slots.put_nowait(slot)
        if sub.note:
            result.notes.insert(0, sub.note)
        write_outputs(result, out)
        if on_done:
            on_done(result)
        return result

    try:
        results = await asyncio.gather(*(one(s) for s in submissions))
    finally:
        shutil.rmtree(workroot, ignore_errors=True)
    write_gradebook(results, plan, out / GRADEBOOK)
    return BatchSummary(list(results), loop.time() - started)


def write_outputs(result: SubmissionResult, out: Path) -> None:
    result.save(out / RESULTS_DIR)
    render_reports(result, out / REPORTS_DIR)


def write_gradebook(results: list[SubmissionResult], plan: GradingPlan, path: Path) -> None:
    """One row per student: id, status, score, max score, then one column per question."""
    functions = [q.function for q in plan.questions]
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student_id", "status", "score", "max_score", *functions, "message"])
        for r in sorted(results, key=lambda r: r.student_id):
            by_name = {q.name: q.score for q in r.questions}
            writer.writerow(
                [
                    r.student_id,
                    r.status,
                    f"{r.score:.4g}",
                    f"{r.max_score:.4g}",
                    *(f"{by_name.get(fn, 0.0):.4g}" for fn in functions),
                    r.message,
                ]
            )
    tmp.replace(path)
