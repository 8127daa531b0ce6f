"""Grading a class: ask the gradebook what is left, grade it in a pool of kernels, commit each result.

The batch is a short loop over :func:`grader.grading.grade.grade_submission`. Up to ``jobs`` kernels run at once
(one sandbox slot each; the host only orchestrates and compares). As each submission finishes, its attempt
is committed to the SQLite gradebook in one transaction (:mod:`grader.batch.gradebook`), then its files are
written: ``reports/<id>.html`` and ``.md``, and last, atomically, ``results/<id>.json``. The gradebook is
the source of truth: a run that starts re-renders the files of any attempt whose ``results/<id>.json`` is
missing (the process died between the commit and the files).

Order of events: :func:`open_batch` locks the gradebook, refuses another assignment or a changed spec (from
the spec alone), then a changed ground truth (its content hash, computing no case), and lists what is left to
grade; only when something is, the caller starts kernels and builds the plan (which may load models), and
:meth:`ClassBatch.grade` grades. So a refusal, or a rerun with nothing to grade, never starts a kernel or loads
a model, and imports torch only to hash the ground truth.

Resuming: a rerun of the same command grades only the students without a current attempt (or whose
submission changed, or whose last attempt was a grader error); ``regrade`` grades everyone again,
``only`` grades just the listed students again. Killed at any point, a run loses at most the submissions
in flight, and the rerun grades each of them once.

Memory: results are not kept; what the orchestrator holds grows with the number of kernels, not with the
number of submissions (the submission list itself is a few hundred bytes per student).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, Field

from grader.assignment.gtkey import forget
from grader.assignment.gtsources import cache_folder
from grader.assignment.manual import ManualQuestion, manual_name
from grader.assignment.spec import Assignment
from grader.batch.exports import Exported, ExportSettings
from grader.batch.gradebook import AssignmentInfo, Gradebook, StudentRow, fingerprint
from grader.batch.intake import Intake, Submission
from grader.batch.outfolder import (
    GRADEBOOK,  # noqa: F401 (imported from here by tests, from before outfolder)
    MOODLE_EXPORTS,
    RESULTS_DIR,  # noqa: F401
    class_files_stale,
    render_missing,
    write_class_files,
    write_outputs,
)
from grader.errors import GraderError
from grader.grading.results import SubmissionResult

if TYPE_CHECKING:  # both import torch (wire, through the plan); a refusal or a no-op rerun never needs it
    from grader.assignment.plan import GradingPlan
    from grader.sandbox.launcher import Launcher


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


class Pool(Protocol):
    """What grades a batch's tasks (:func:`grader.batch.pool.run_pool` has this signature): ``commit`` is called
    with each task and its result, as soon as it is ready, on the caller's event loop."""

    async def __call__(
        self,
        plan: GradingPlan,
        tasks: list[Task],
        submission: Callable[[Task], Submission],
        launcher: Launcher,
        jobs: int,
        commit: Callable[[Task, SubmissionResult], None],
    ) -> None: ...


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
    warning: str = ""  # the gradebook's current grades mix ground truths (Gradebook.mixed_groundtruths)
    to_review: int = 0  # answers to manual questions a TA has not reviewed yet
    workers: dict[str, tuple[int, float]] = field(default_factory=dict)  # a cluster's: {worker: (results, seconds)}

    @property
    def graded(self) -> int:
        return self.counts.get("graded", 0)


class ClassBatch:
    """One ``grade`` of a class into an output folder, after :func:`open_batch`'s refusals: what is left to grade
    (``tasks``), grading it, the class files. Holds the gradebook and its lock until closed."""

    def __init__(self, gb: Gradebook, out: Path, intake: Intake, settings: BatchSettings, run_id: int, tasks):
        self.gb, self.out, self.intake, self.settings, self.run_id = gb, out, intake, settings, run_id
        self.tasks: list[Task] = tasks
        self.skipped = len(intake.submissions) - len(tasks)
        self.jobs = kernels(settings)
        self.started = time.monotonic()

    def __enter__(self) -> ClassBatch:
        return self

    def __exit__(self, *exc) -> None:
        self.gb.close()

    async def grade(
        self, plan: GradingPlan, launcher: Launcher, observer: Observer | None = None, pool: Pool | None = None
    ) -> BatchSummary:
        """Grade the tasks with ``plan``, committing each result at once; then write the class files. ``pool``
        grades them (default: :func:`grader.batch.pool.run_pool`, kernels on this machine; a cluster passes its
        own); ``launcher.name`` is the isolation the run records."""
        from grader.grading.answers import collect_answers

        if pool is None:
            from grader.batch.pool import run_pool as pool  # imports torch (the judges): only when there is work

        bound = self.gb.assignment()
        if bound and plan.groundtruth_key != bound.groundtruth:
            forget(cache_folder(self.out))  # the remembered hash was wrong, or a file changed meanwhile
            raise GraderError(
                f"{self.out}: the ground truth changed while this run started (the plan's differs from the one "
                "checked against the gradebook); run it again"
            )
        if observer:
            observer.start(len(self.tasks), self.skipped)
        counts: dict[str, int] = {}
        workers: dict[str, tuple[int, float]] = {}

        def commit(task: Task, result: SubmissionResult) -> None:
            answers = collect_answers(task.sub.notebook, plan.manual) if plan.manual else []
            self.gb.record(self.run_id, result, task.fingerprint, answers)
            write_outputs(result, self.out)
            counts[result.status] = counts.get(result.status, 0) + 1
            if worker := result.provenance.get("worker"):  # graded on a cluster: its grading time, measured there
                done, seconds = workers.get(worker, (0, 0.0))
                workers[worker] = (done + 1, seconds + result.seconds)
            if observer:
                observer.done(result)

        await pool(plan, self.tasks, lambda t: t.sub, launcher, self.jobs, commit)
        return dataclasses.replace(self._finish(counts, launcher.name), workers=workers)

    def finish_without_grading(self) -> BatchSummary:
        """Nothing to grade: record the run; write the class files only if a grade changed since they were."""
        return self._finish({}, None)

    def _finish(self, counts: dict[str, int], isolation: str | None) -> BatchSummary:
        self.gb.finish_run(self.run_id, sum(counts.values()), isolation)
        exported = []
        if counts or class_files_stale(self.gb, self.out):
            also = MOODLE_EXPORTS if self.intake.layout == "moodle" else ()
            exported = write_class_files(self.gb, self.out, also, self.settings.exports)
        seconds = time.monotonic() - self.started
        warning = self.gb.mixed_groundtruths()
        to_review = self.gb.unreviewed() if self.gb.has_manual() else 0
        return BatchSummary(
            sum(counts.values()), self.skipped, counts, seconds, exported, warning=warning, to_review=to_review
        )


def open_batch(
    info: AssignmentInfo,
    groundtruth: Callable[[], str],
    intake: Intake,
    out: Path,
    settings: BatchSettings,
    manual: Sequence[ManualQuestion] = (),
) -> ClassBatch:
    """Lock ``out``'s gradebook, refuse what must be (another assignment, a changed spec, then a ground truth other
    than ``groundtruth()``, unless ``regrade``), record the run, the intake and the ``manual`` questions (and their
    rubrics), and list what is left to grade."""
    gb = Gradebook.open(out)
    try:
        gb.check(info, regrade=settings.regrade)  # from the spec alone: before the ground truth is hashed
        gb.bind(dataclasses.replace(info, groundtruth=groundtruth()), regrade=settings.regrade)
        gb.sync_manual(manual)
        render_missing(gb, out)
        run_id = gb.start_run(
            jobs=kernels(settings), isolation=None, source=str(intake.root), layout=intake.layout, issues=intake.issues
        )
        tasks = plan_tasks(gb, intake, settings, run_id)
        if manual:
            graded_now = {t.sub.student_id for t in tasks}
            gb.backfill_answers([s for s in intake.submissions if s.student_id not in graded_now], list(manual))
    except BaseException:
        gb.close()
        raise
    return ClassBatch(gb, out, intake, settings, run_id, tasks)


def kernels(settings: BatchSettings) -> int:
    """How many kernels run at once: ``jobs``, or one per CPU core."""
    return max(1, settings.jobs or os.cpu_count() or 1)


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
    info = assignment_info(plan)
    with open_batch(info, lambda: plan.groundtruth_key, intake, out, settings, plan.manual) as batch:
        return await batch.grade(plan, launcher, observer)


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


def assignment_info(plan: GradingPlan) -> AssignmentInfo:
    """What the gradebook stores of a plan's assignment, with its ground truth."""
    questions = [(q.function, q.points) for q in plan.questions] + [(m.name, m.points) for m in plan.manual]
    spec = spec_hash(plan.assignment, plan.version, plan.questions)
    total = plan.max_score + plan.manual_points
    return AssignmentInfo(plan.assignment, plan.title, plan.version, spec, total, questions, plan.groundtruth_key)


def spec_info(assignment: Assignment) -> AssignmentInfo:
    """:func:`assignment_info` from the spec alone (no case computed; the ground truth left to :func:`open_batch`)."""
    spec = assignment.spec
    questions = [(q.function, q.points) for q in spec.questions] + manual_of(spec)
    return AssignmentInfo(
        spec.id, spec.title, spec.version, spec_hash(spec.id, spec.version, spec.questions), spec.max_score, questions
    )


def manual_of(spec) -> list[tuple[str, float]]:
    """(name, points) of the spec's manual questions, named as :mod:`grader.assignment.manual` names them."""
    return [(w.id, w.points) for w in spec.written] + [
        (manual_name(q.function), q.manual.points) for q in spec.questions if q.manual
    ]


def spec_hash(assignment: str, version: str, questions) -> str:
    """A hash of what decides a grade: version, questions, points, and each case's name, weight and comparison
    (``questions`` of a plan or of a spec: both have function, points and cases with these fields)."""
    body = [
        assignment,
        version,
        [
            [q.function, q.points, [[c.name, c.hidden, c.weight, c.compare.model_dump()] for c in q.cases]]
            for q in questions
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
