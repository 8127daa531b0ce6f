"""Grading one submission against a plan: run the notebook, call each graded function, compare on the host.

:func:`grade_submission` never raises for anything the submission does; what went wrong is in the
returned :class:`~grader.results.SubmissionResult`. Only the grader's own failures (a kernel that cannot
start on this machine at all) surface as :class:`~grader.errors.GraderError` from the batch runner.
The result's ``timings`` say where the time went (:data:`grader.results.PHASES`, ``time.perf_counter``).
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import nbformat

from grader import harness
from grader.compare import compare
from grader.errors import KernelStartError
from grader.execute import KernelSession, run_notebook, submission_deadline
from grader.kernel import Launcher, RunDir
from grader.plan import CasePlan, GradingPlan, QuestionPlan
from grader.results import FAILURE_KINDS, PHASES, CellSummary, QuestionResult, SubmissionResult, TestResult

HIDDEN_NOTE = "hidden test: its inputs and expected values are not shown"


class NotebookUnreadable(ValueError):
    """The submission is not a notebook the grader can run; the message says why."""


def read_notebook(path: Path, max_bytes: int = 200_000_000):
    """Parse and validate a submitted notebook (nbformat 4); raise :class:`NotebookUnreadable`."""
    if path.suffix != ".ipynb":
        raise NotebookUnreadable(f"{path.name}: not a notebook (expected a .ipynb file)")
    size = path.stat().st_size
    if size == 0:
        raise NotebookUnreadable(f"{path.name}: the file is empty (not a readable notebook)")
    if size > max_bytes:
        raise NotebookUnreadable(f"{path.name}: {size} bytes, more than {max_bytes}")
    try:
        nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    except Exception as exc:  # nbformat raises JSON, unicode and its own reader errors
        raise NotebookUnreadable(f"{path.name}: not a readable notebook ({type(exc).__name__}: {exc})"[:500]) from None
    if "nbformat" not in nb:
        raise NotebookUnreadable(f"{path.name}: JSON, but not a notebook (it has no 'nbformat' field)")
    if nb.get("nbformat") != 4:
        raise NotebookUnreadable(f"{path.name}: nbformat {nb.get('nbformat')} is not supported; save it as version 4")
    if not isinstance(nb.get("cells"), list):
        raise NotebookUnreadable(f"{path.name}: has no list of cells")
    return nb


async def grade_submission(
    plan: GradingPlan, notebook: Path, student_id: str, launcher: Launcher, workroot: Path, slot: int = 0
) -> SubmissionResult:
    """Grade ``notebook`` for ``student_id``; ``workroot`` holds the temporary run folders."""
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
        result.status, result.message = "invalid", str(exc)
        result.questions = all_failed(plan, "not_run", str(exc))
    else:
        run = RunDir(workroot / f"{_safe(student_id)}-{uuid.uuid4().hex[:8]}").create()
        try:
            await _grade_in_kernel(plan, nb, launcher, run, slot, result)
        except KernelStartError as exc:
            result.status, result.message = "error", str(exc)
            result.questions = all_failed(plan, "not_run", "the notebook could not be run: " + str(exc))
        finally:
            run.remove()
    result.score = sum(q.score for q in result.questions)
    result.seconds = time.monotonic() - started
    result.timings["total"] = time.perf_counter() - clock
    return result


async def _grade_in_kernel(plan, nb, launcher, run: RunDir, slot: int, result: SubmissionResult) -> None:
    deadline = submission_deadline(plan.limits)
    timings = dict.fromkeys(PHASES, 0.0)
    session = KernelSession(launcher, run, plan.limits, slot)
    try:
        async with session:
            lap = time.perf_counter()
            records = await run_notebook(session, nb, deadline)
            timings["cells"] = time.perf_counter() - lap
            result.cells = [CellSummary(index=r.index, status=r.status, message=r.message) for r in records]
            assets = {name: launcher.asset_path(name, path) for name, path in plan.assets.items()}
            lap = time.perf_counter()
            install = await session.run(harness.install_source(assets, plan.limits.return_bytes), -1, 60)
            timings["harness_install"] = time.perf_counter() - lap
            if install.status != "ok":
                message = (
                    f"the grading harness could not run in this notebook's kernel ({install.status} {install.message})"
                )
                result.questions = all_failed(plan, "not_run", message)
            else:
                caller = _KernelCaller(session, run, deadline, timings)
                result.questions = [await grade_question(q, caller, plan.assets, timings) for q in plan.questions]
            result.notes = session.log.notes
    finally:
        timings.update(session.timings)  # kernel_start, kernel_stop
        result.timings = timings


class _KernelCaller:
    """Calls a function in the submission's kernel through the harness, one folder of files per call;
    adds each call's seconds to ``timings["calls"]``."""

    def __init__(self, session: KernelSession, run: RunDir, deadline: float, timings: dict[str, float]):
        self.session, self.run, self.deadline, self.count = session, run, deadline, 0
        self.timings = timings

    async def __call__(self, function: str, kwargs: dict, repeat: int) -> harness.CallOutcome:
        started = time.perf_counter()
        try:
            return await self._call(function, kwargs, repeat)
        finally:
            self.timings["calls"] += time.perf_counter() - started

    async def _call(self, function: str, kwargs: dict, repeat: int) -> harness.CallOutcome:
        self.count += 1
        folder = f"{self.run.calls.name}/call-{self.count}"
        harness.write_inputs(self.run.work / folder, kwargs)
        remaining = self.deadline - time.monotonic()
        if remaining <= 1:
            return harness.CallOutcome("timeout", message="the submission's time limit was reached")
        timeout = min(self.session.limits.call_timeout_s, remaining)
        record = await self.session.run(harness.call_source(function, folder, repeat), -1, timeout, replay=False)
        if record.status in ("timeout", "dead"):
            return harness.CallOutcome(record.status, message=record.message)
        return harness.read_outcome(self.run.work / folder, self.session.limits.return_bytes)


async def grade_question(
    question: QuestionPlan, caller, assets: dict[str, Path] | None = None, timings: dict[str, float] | None = None
) -> QuestionResult:
    """Call and judge every case of one question; ``caller(function, kwargs, repeat)`` returns a CallOutcome.
    ``assets`` are the host's asset folders, for comparisons that need the model (RAG); the comparisons'
    seconds are added to ``timings["compare"]`` when given."""

    def resolve(handle):
        from grader.groundtruth import resolve_handle

        return resolve_handle(handle, assets or {})

    total_weight = sum(c.weight for c in question.cases)
    tests, missing = [], None
    for case in question.cases:
        max_score = question.points * case.weight / total_weight
        if missing is not None:  # no need to call a function that is not there again
            tests.append(_test(question, case, max_score, "missing", missing))
            continue
        repeat = getattr(case.compare, "draws", 1)
        outcome = await caller(question.function, case.args, repeat)
        if outcome.status == "missing":
            missing = outcome.message
        started = time.perf_counter()
        tests.append(_judge(question, case, max_score, outcome, resolve))
        if timings is not None:
            timings["compare"] = timings.get("compare", 0.0) + time.perf_counter() - started
    return QuestionResult(
        name=question.function, score=sum(t.score for t in tests), max_score=question.points, tests=tests
    )


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


def _test(question: QuestionPlan, case: CasePlan, max_score: float, kind: str, message: str) -> TestResult:
    passed = kind == "passed"
    if passed:
        output = ""
    elif case.hidden:
        output = f"{FAILURE_KINDS[kind]} ({HIDDEN_NOTE})"
    else:
        output = f"{FAILURE_KINDS[kind]}: {message}" if message else FAILURE_KINDS[kind]
    return TestResult(
        name=f"{question.function}: {case.name}",
        question=question.function,
        score=max_score if passed else 0.0,
        max_score=max_score,
        status="passed" if passed else "failed",
        kind=kind,
        output=output,
        hidden=case.hidden,
    )


def all_failed(plan: GradingPlan, kind: str, message: str) -> list[QuestionResult]:
    results = []
    for q in plan.questions:
        total = sum(c.weight for c in q.cases)
        tests = [_test(q, c, q.points * c.weight / total, kind, message) for c in q.cases]
        results.append(QuestionResult(name=q.function, score=0.0, max_score=q.points, tests=tests))
    return results


def _safe(student_id: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in student_id)[:64] or "student"
