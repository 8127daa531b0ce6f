"""Grading one submission against a plan: run the notebook, call each graded function, compare on the host.

:func:`grade_submission` never raises for anything the submission does; what went wrong is in the
returned :class:`~grader.grading.results.SubmissionResult`. Only the grader's own failures (a kernel that cannot
start on this machine at all) surface as :class:`~grader.errors.GraderError` from the batch runner.
The result's ``timings`` say where the time went (:data:`grader.grading.results.PHASES`, ``time.perf_counter``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

from grader.assignment.plan import CasePlan, GradingPlan, QuestionPlan
from grader.assignment.references import resolve_handle
from grader.boundary import harness
from grader.common.settings import TIMEOUTS
from grader.common.text import clip
from grader.compare.judges import compare
from grader.compat.ipykernel import name_cells
from grader.errors import KernelStartError
from grader.grading.calls import Call, KernelCaller, smallest_first
from grader.grading.execute import KernelSession, run_notebook, submission_deadline
from grader.grading.guidance import describe_inputs
from grader.grading.notebook import NotebookUnreadable, code_cell_labels, graded_calls, read_notebook
from grader.grading.results import (
    FAILURE_KINDS,
    PHASES,
    CellSummary,
    FailureKind,
    QuestionResult,
    SubmissionResult,
    TestKind,
    TestResult,
)
from grader.sandbox.launcher import Launcher, RunDir

HIDDEN_NOTE = "hidden test: its inputs and expected values are not shown"


async def grade_submission(
    plan: GradingPlan,
    notebook: Path,
    student_id: str,
    launcher: Launcher,
    workroot: Path,
    slot: int = 0,
    progress: Callable[[str], None] | None = None,
) -> SubmissionResult:
    """Grade ``notebook`` for ``student_id``; ``workroot`` holds the temporary run folders. ``progress``, if
    given, is told what runs: each code cell ("code cell 3 of 24"), then each function called."""
    started, clock = time.monotonic(), time.perf_counter()
    result = SubmissionResult(
        student_id=student_id,
        assignment=plan.assignment,
        status="graded",
        score=0.0,
        max_score=plan.max_score,
        isolation=launcher.name,
        provenance=plan.provenance,
    )
    try:
        nb = read_notebook(notebook)
    except (NotebookUnreadable, OSError) as exc:
        result.status, result.message = "invalid", clip(str(exc))
        result.questions = all_failed(plan, "not_run", result.message)
    else:
        result.calls = graded_calls(nb, [q.function for q in plan.questions])
        run = RunDir(workroot / f"{_safe(student_id)}-{uuid.uuid4().hex[:8]}")
        run.create(disk_mb=plan.limits.disk_mb if launcher.isolated else None)
        try:
            await _grade_in_kernel(plan, nb, launcher, run, slot, result, progress)
        except KernelStartError as exc:
            result.status, result.message = "error", str(exc)
            result.questions = all_failed(plan, "not_run", "the notebook could not be run: " + str(exc))
        finally:
            run.remove()
    result.score = sum(q.score for q in result.questions)
    result.seconds = time.monotonic() - started
    result.timings["total"] = time.perf_counter() - clock
    return result


async def _grade_in_kernel(plan, nb, launcher, run: RunDir, slot: int, result: SubmissionResult, progress) -> None:
    deadline = submission_deadline(plan.limits)
    timings = dict.fromkeys(PHASES, 0.0)
    session = KernelSession(launcher, run, plan.limits, slot)
    try:
        async with session:
            lap = time.perf_counter()
            records = await run_notebook(session, nb, deadline, progress)
            timings["cells"] = time.perf_counter() - lap
            labels = code_cell_labels(nb)
            result.cells = [
                CellSummary(index=r.index, status=r.status, message=r.message, label=labels.get(r.index, ""))
                for r in records
            ]
            assets = {name: launcher.asset_path(name, path) for name, path in plan.assets.items()}
            lap = time.perf_counter()
            install_source = harness.install_source(assets, plan.limits.return_bytes)
            install = await session.run(install_source, -1, TIMEOUTS.harness_install_s)
            timings["harness_install"] = time.perf_counter() - lap
            if install.status != "ok":
                message = (
                    f"the grading harness could not run in this notebook's kernel ({install.status} {install.message})"
                )
                result.questions = all_failed(plan, "not_run", message)
            else:
                caller = KernelCaller(session, run, deadline, progress)
                result.questions = await grade_questions(plan.questions, caller, plan.assets, timings)
                sources = {labels[i]: cell.source for i, cell in enumerate(nb.cells) if i in labels}
                name_cells_in(result.questions, sources)
            result.notes = session.log.notes
    finally:
        timings.update(session.timings)  # kernel_start, kernel_stop
        result.timings = timings


async def grade_questions(
    questions: list[QuestionPlan],
    caller,
    assets: dict[str, Path] | None = None,
    timings: dict[str, float] | None = None,
) -> list[QuestionResult]:
    """Call and judge every case of ``questions``; ``await caller(calls)`` returns one CallOutcome per
    :class:`Call`. ``assets`` are the host's asset folders, for comparisons that need the model (RAG).
    With ``timings``, the calls' and the comparisons' seconds are added to ``calls`` and ``compare``."""

    def resolve(handle):
        return resolve_handle(handle, assets or {})

    timings = timings if timings is not None else {}
    started = time.perf_counter()
    outcomes = iter(await make_calls(questions, caller))
    timings["calls"] = timings.get("calls", 0.0) + time.perf_counter() - started
    started = time.perf_counter()
    results = []
    for question in questions:
        tests = [
            _judge(question, case, points, next(outcomes), resolve)
            for case, points in zip(question.cases, case_points(question), strict=True)
        ]
        results.append(
            QuestionResult(
                name=question.function, score=sum(t.score for t in tests), max_score=question.points, tests=tests
            )
        )
    timings["compare"] = timings.get("compare", 0.0) + time.perf_counter() - started
    return results


async def make_calls(questions: list[QuestionPlan], caller) -> list[harness.CallOutcome]:
    """Every case's outcome, in order: the public calls first, their results read, and only then the hidden
    calls (the caller writes a call's inputs when it makes it): no code that can report to the student runs
    while a hidden case's inputs exist. Within each, a function's calls go smallest first
    (:func:`grader.grading.calls.smallest_first`)."""
    cases = [case for q in questions for case in q.cases]
    calls = [Call(q.function, case.args, case.compare.repeat) for q in questions for case in q.cases]
    outcomes: list = [None] * len(calls)
    for hidden in (False, True):
        indices = [i for i, case in enumerate(cases) if case.hidden == hidden]
        order = [indices[k] for k in smallest_first([calls[i] for i in indices])]
        if order:
            for i, outcome in zip(order, await caller([calls[i] for i in order]), strict=True):
                outcomes[i] = outcome
    return outcomes


def name_cells_in(questions: list[QuestionResult], sources: dict[str, str]) -> None:
    """Name the notebook's cells in the tracebacks of ``questions`` (``sources``: label -> the cell's source)
    instead of the temporary files ipykernel compiles them under."""
    for test in (t for q in questions for t in q.tests):
        if test.kind == "exception":
            test.output = name_cells(test.output, sources)


def case_points(question: QuestionPlan) -> list[float]:
    """Each case's share of the question's points, by weight."""
    total = sum(c.weight for c in question.cases)
    return [question.points * c.weight / total for c in question.cases]


def _judge(
    question: QuestionPlan, case: CasePlan, max_score: float, outcome: harness.CallOutcome, resolve
) -> TestResult:
    if outcome.status != "ok":
        kind = outcome.status if outcome.status in FAILURE_KINDS else "invalid_output"
        return _test(question, case, max_score, kind, outcome.message)
    verdict = compare(case.compare, case.expected, outcome.value, outcome.observed, case.args, resolve)
    if verdict.passed:
        return _test(question, case, max_score, "passed", "")
    return _test(question, case, max_score, "wrong", verdict.message)


def _test(question: QuestionPlan, case: CasePlan, max_score: float, kind: TestKind, message: str) -> TestResult:
    passed = kind == "passed"
    if passed:
        output = ""
    elif case.hidden:
        output = f"{FAILURE_KINDS[kind]} ({HIDDEN_NOTE})"
    else:
        output = f"{FAILURE_KINDS[kind]}: {clip(message)}" if message else FAILURE_KINDS[kind]
    name = f"{question.function}: {case.name}"
    shown = not passed and not case.hidden and kind not in ("missing", "not_callable", "not_run")
    return TestResult(
        name=name,
        question=question.function,
        score=max_score if passed else 0.0,
        max_score=max_score,
        status="passed" if passed else "failed",
        kind=kind,
        output=output,
        hidden=case.hidden,
        inputs=describe_inputs(case.args, name) if shown else "",
    )


def all_failed(plan: GradingPlan, kind: FailureKind, message: str) -> list[QuestionResult]:
    results = []
    for q in plan.questions:
        tests = [_test(q, c, points, kind, message) for c, points in zip(q.cases, case_points(q), strict=True)]
        results.append(QuestionResult(name=q.function, score=0.0, max_score=q.points, tests=tests))
    return results


def _safe(student_id: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in student_id)[:64] or "student"
