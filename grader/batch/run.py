"""Grading a class: ask the gradebook what is left, grade it in a pool of kernels, commit each result.

The batch is a short loop over :func:`grader.grading.grade.grade_submission`. Up to ``jobs`` kernels run at once
(one sandbox slot each; the host only orchestrates and compares). As each submission finishes, its attempt
is committed to the SQLite gradebook in one transaction (:mod:`grader.batch.gradebook`), then its files are
written: ``reports/<id>.html`` and ``.md``, and last, atomically, ``results/<id>.json``. The gradebook is
the source of truth: a run that starts re-renders the files of any attempt whose ``results/<id>.json`` is
missing (the process died between the commit and the files).

Resuming: a rerun of the same command grades only the students without a current attempt (or whose
submission changed, or whose last attempt was a grader error); ``regrade`` grades everyone again,
``only`` grades just the listed students again. Killed at any point, a run loses at most the submissions
in flight, and the rerun grades each of them once.

Memory: results are not kept; what the orchestrator holds grows with the number of kernels, not with the
number of submissions (the submission list itself is a few hundred bytes per student).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, Field

from grader.assignment.plan import GradingPlan
from grader.batch.exports import Exported, ExportSettings, export
from grader.batch.exports.tables import write_csv
from grader.batch.gradebook import AssignmentInfo, Gradebook, StudentRow, fingerprint
from grader.batch.intake import Intake, Submission
from grader.batch.summary import write_summary
from grader.errors import GraderError
from grader.grading.grade import all_failed, grade_submission
from grader.grading.report import render_reports
from grader.grading.results import SubmissionResult, SubmissionStatus
from grader.sandbox.launcher import Launcher

RESULTS_DIR = "results"
REPORTS_DIR = "reports"
EXPORTS_DIR = "exports"
GRADEBOOK = "gradebook.csv"
MOODLE_EXPORTS = ("moodle-worksheet", "moodle-feedback")
log = logging.getLogger(__name__)


class BatchSettings(BaseModel):
    jobs: int = Field(0, description="Kernels at once; 0 means one per CPU core.")
    regrade: bool = Field(False, description="Grade every submission again, even those already graded.")
    only: list[str] = Field(default_factory=list, description="Grade (again) only these student ids.")
    exports: ExportSettings = Field(default_factory=ExportSettings, description="Options of the LMS exports.")


@dataclass
class Task:
    sub: Submission
    fingerprint: str
    reason: str  # why it is graded in this run: new, regrade, changed, retry


class Observer(Protocol):
    """Hooks for a progress display: the work planned, then each finished submission."""

    def start(self, total: int, skipped: int) -> None: ...

    def done(self, result: SubmissionResult) -> None: ...


@dataclass
class BatchSummary:
    graded_now: int
    skipped: int
    counts: dict[str, int]
    seconds: float
    exports: list[Exported] = field(default_factory=list)
    results: list[SubmissionResult] = field(default_factory=list)  # filled only by grade_all

    @property
    def graded(self) -> int:
        return self.counts.get("graded", 0)


async def grade_batch(
    plan: GradingPlan,
    intake: Intake,
    out: Path,
    launcher: Launcher,
    settings: BatchSettings | None = None,
    observer: Observer | None = None,
) -> BatchSummary:
    """Grade what is left of ``intake`` into ``out``; write the gradebook, reports, summary and exports."""
    settings = settings or BatchSettings()
    started = time.monotonic()
    jobs = max(1, settings.jobs or os.cpu_count() or 1)
    with Gradebook.open(out) as gb:
        gb.bind(assignment_info(plan), regrade=settings.regrade)
        render_missing(gb, out)
        run_id = gb.start_run(
            jobs=jobs, isolation=launcher.name, source=str(intake.root), layout=intake.layout, issues=intake.issues
        )
        tasks = plan_tasks(gb, intake, settings, run_id)
        skipped = len(intake.submissions) - len(tasks)
        if observer:
            observer.start(len(tasks), skipped)
        counts: dict[str, int] = {}

        def commit(task: Task, result: SubmissionResult) -> None:
            gb.record(run_id, result, task.fingerprint)
            write_outputs(result, out)
            counts[result.status] = counts.get(result.status, 0) + 1
            if observer:
                observer.done(result)

        await run_pool(plan, tasks, launcher, jobs, commit)
        gb.finish_run(run_id, sum(counts.values()))
        exported = write_class_outputs(gb, out, intake.layout, settings.exports)
    return BatchSummary(sum(counts.values()), skipped, counts, time.monotonic() - started, exported)


def plan_tasks(gb: Gradebook, intake: Intake, settings: BatchSettings, run_id: int) -> list[Task]:
    """Record what the intake found; return the submissions this run must grade."""
    subs = intake.submissions
    if settings.only:
        known = {s.student_id for s in subs}
        unknown = [sid for sid in settings.only if sid not in known]
        if unknown:
            raise GraderError(f"{intake.root}: no submission of student(s) {', '.join(unknown)}")
    rows, tasks = [], []
    for sub in subs:
        fp = fingerprint(sub.notebook, sub.problem)
        mtime = sub.notebook.stat().st_mtime if sub.notebook.is_file() else None
        rows.append(StudentRow(sub.student_id, sub.name, str(sub.notebook), sub.note, sub.problem, fp, mtime))
        if settings.only:
            reason = "asked for" if sub.student_id in settings.only else None
        else:
            reason = gb.needs_grading(sub.student_id, fp, regrade=settings.regrade)
        if reason:
            tasks.append(Task(sub, fp, reason))
    gb.note_students(run_id, rows)
    return tasks


async def run_pool(
    plan: GradingPlan,
    tasks: list[Task],
    launcher: Launcher,
    jobs: int,
    commit: Callable[[Task, SubmissionResult], None],
) -> None:
    """Grade ``tasks`` with at most ``jobs`` kernels at once; ``commit`` each result as soon as it is ready."""
    workroot = Path(tempfile.mkdtemp(prefix="grader-runs-"))
    free = list(range(jobs - 1, -1, -1))
    running: dict[asyncio.Task, tuple[Task, int]] = {}
    pending = iter(tasks)
    try:
        while True:
            while free and (task := next(pending, None)) is not None:
                slot = free.pop()
                running[asyncio.create_task(grade_one(plan, task.sub, launcher, workroot, slot))] = (task, slot)
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


def write_outputs(result: SubmissionResult, out: Path) -> None:
    """The student's reports, then (atomically, last) ``results/<id>.json``: its presence means both are done."""
    (out / RESULTS_DIR / f"{result.student_id}.json").unlink(missing_ok=True)
    render_reports(result, out / REPORTS_DIR)
    result.save(out / RESULTS_DIR)


def render_missing(gb: Gradebook, out: Path) -> int:
    """Write the files of current attempts whose ``results/<id>.json`` is missing; return how many."""
    missing = [sid for sid in gb.current_ids() if not (out / RESULTS_DIR / f"{sid}.json").is_file()]
    for sid in missing:
        write_outputs(SubmissionResult.from_gradescope(json.loads(gb.current_result(sid))), out)
    return len(missing)


def write_class_outputs(gb: Gradebook, out: Path, layout: str, settings: ExportSettings) -> list[Exported]:
    """``gradebook.csv`` and ``summary.html`` always; Moodle's worksheet and feedback zip for a Moodle intake."""
    write_csv(gb, out / GRADEBOOK)
    write_summary(gb, out)
    if layout != "moodle":
        return []
    return export(gb, out / REPORTS_DIR, out / EXPORTS_DIR, MOODLE_EXPORTS, settings)


def assignment_info(plan: GradingPlan) -> AssignmentInfo:
    questions = [(q.function, q.points) for q in plan.questions]
    return AssignmentInfo(plan.assignment, plan.title, plan.version, plan_hash(plan), plan.max_score, questions)


def plan_hash(plan: GradingPlan) -> str:
    """A hash of what decides a grade: version, questions, points, and each case's name, weight and comparison."""
    body = [
        plan.assignment,
        plan.version,
        [
            [q.function, q.points, [[c.name, c.hidden, c.weight, c.compare.model_dump()] for c in q.cases]]
            for q in plan.questions
        ],
    ]
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:16]


async def grade_all(
    plan: GradingPlan,
    submissions: list[Submission],
    out: Path,
    launcher: Launcher,
    jobs: int | None = None,
    on_done: Callable[[SubmissionResult], None] | None = None,
) -> BatchSummary:
    """Grade every one of ``submissions`` (again) and return all results in memory (small batches, tests)."""
    kept: list[SubmissionResult] = []

    class _Keep:
        def start(self, total: int, skipped: int) -> None:
            pass

        def done(self, result: SubmissionResult) -> None:
            kept.append(result)
            if on_done:
                on_done(result)

    root = submissions[0].notebook.parent if submissions else out
    intake = Intake(list(submissions), "folder", root)
    summary = await grade_batch(plan, intake, out, launcher, BatchSettings(jobs=jobs or 0, regrade=True), _Keep())
    summary.results = sorted(kept, key=lambda r: r.student_id)
    return summary
