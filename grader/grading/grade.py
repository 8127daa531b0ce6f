"""Grading one submission against a plan: run the notebook, call each graded function, compare on the host.

:func:`grade_submission` never raises for anything the submission does; what went wrong is in the
returned :class:`~grader.grading.results.SubmissionResult`. Only the grader's own failures (a kernel that cannot
start on this machine at all) surface as :class:`~grader.errors.GraderError` from the batch runner.
The result's ``timings`` say where the time went (:data:`grader.grading.results.PHASES`, ``time.perf_counter``).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import nbformat

from grader.assignment.plan import CasePlan, GradingPlan, QuestionPlan
from grader.boundary import harness
from grader.compare import compare
from grader.errors import KernelStartError
from grader.grading.execute import PROBE_TIMEOUT_S, KernelSession, run_notebook, submission_deadline
from grader.grading.results import FAILURE_KINDS, PHASES, CellSummary, QuestionResult, SubmissionResult, TestResult
from grader.sandbox.launcher import Launcher, RunDir

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
                caller = _KernelCaller(session, run, deadline)
                result.questions = await grade_questions(plan.questions, caller, plan.assets, timings)
            result.notes = session.log.notes
    finally:
        timings.update(session.timings)  # kernel_start, kernel_stop
        result.timings = timings


@dataclass(frozen=True)
class Call:
    """One call of a graded function: ``repeat`` > 1 for the draws of a distribution case."""

    function: str
    kwargs: dict
    repeat: int = 1


class _KernelCaller:
    """Makes a submission's calls in its kernel through the harness, all in one request (see
    :mod:`grader.boundary.kernel_side`): each call's inputs and result are a folder of files. A watchdog gives each
    call its own time limit, counted from the previous call's result file: past it the kernel is interrupted
    (the harness goes on with the next call); a call that ignores the interrupt gets the kernel restarted, and
    a new request makes the calls that are left."""

    POLL_S = 0.05  # how often the watchdog looks for result files while the request runs

    def __init__(self, session: KernelSession, run: RunDir, deadline: float):
        self.session, self.run, self.deadline = session, run, deadline

    async def __call__(self, calls: list[Call]) -> list[harness.CallOutcome]:
        folders = []
        for i, call in enumerate(calls, 1):
            folders.append(f"{self.run.calls.name}/call-{i}")
            harness.write_inputs(self.run.work / folders[-1], call.kwargs)
        outcomes: list[harness.CallOutcome | None] = [None] * len(calls)
        start = 0
        while start < len(calls) and self.deadline - time.monotonic() > 1:
            if not self.session.usable:
                outcomes[start:] = [harness.CallOutcome("dead", message=self.session.unusable_reason)] * (
                    len(calls) - start
                )
                break
            start = await self._request(calls, folders, outcomes, start)
        limit_reached = harness.CallOutcome("timeout", message="the submission's time limit was reached")
        return [outcome or limit_reached for outcome in outcomes]

    async def _request(self, calls, folders, outcomes, start: int) -> int:
        """Make calls ``start:`` in one request; fill in their outcomes; return the first call still to make."""
        pending = range(start, len(calls))
        source = harness.calls_source([(calls[i].function, folders[i], calls[i].repeat) for i in pending])
        request = asyncio.ensure_future(self.session.run(source, -1, self.deadline - time.monotonic(), replay=False))
        results = [self.run.work / folders[i] for i in pending]
        timed_out, killed = await self._watch(request, results)
        record = await request
        limit = self.session.limits.call_timeout_s
        for offset, folder in enumerate(results):
            i = start + offset
            if offset in timed_out:
                outcomes[i] = harness.CallOutcome("timeout", message=f"did not finish within {limit:g} s")
                if killed and offset == max(timed_out):
                    return i + 1  # the kernel was restarted without the calls after this one
            elif os.path.lexists(folder / "out.json"):
                outcome = harness.read_outcome(folder, self.session.limits.return_bytes)
                if outcome.status == "interrupted":  # the watchdog's interrupt landed in the next call
                    outcome = harness.CallOutcome("timeout", message=f"did not finish within {limit:g} s")
                outcomes[i] = outcome
            else:  # the request ended here: the kernel died, the deadline, or the harness itself broke
                if record.status == "dead":
                    outcomes[i] = harness.CallOutcome("dead", message=record.message)
                elif record.status == "timeout":
                    return len(calls)  # the submission's deadline: the rest get the time-limit outcome
                elif offset - 1 in timed_out:
                    return i  # the interrupt landed between two calls and ended the request: make the rest anew
                else:
                    outcomes[i] = harness.read_outcome(folder, self.session.limits.return_bytes)
                return i + 1
        return len(calls)

    async def _watch(self, request: asyncio.Future, results: list[Path]) -> tuple[set[int], bool]:
        """Wait for ``request``, interrupting a call that outlives its limit (then killing the kernel if the
        call ignores the interrupt for PROBE_TIMEOUT_S). Returns the offsets of the calls stopped, and
        whether the kernel was killed (for the last of them)."""
        limit = self.session.limits.call_timeout_s
        done_calls, since, timed_out, killed = 0, time.monotonic(), set(), False
        while not request.done():
            await asyncio.wait({request}, timeout=self.POLL_S)
            while done_calls < len(results) and os.path.lexists(results[done_calls] / "out.json"):
                done_calls, since = done_calls + 1, time.monotonic()
            if request.done() or done_calls == len(results):
                continue
            waited = time.monotonic() - since
            if done_calls not in timed_out and waited > limit:
                timed_out.add(done_calls)
                since = time.monotonic()
                await self.session.interrupt()
            elif done_calls in timed_out and waited > PROBE_TIMEOUT_S:
                killed = True
                await self.session.kill()  # the request ends as "dead"; the session restarts the kernel
                await asyncio.wait({request})
        return timed_out, killed


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
        from grader.assignment.groundtruth import resolve_handle

        return resolve_handle(handle, assets or {})

    timings = timings if timings is not None else {}
    calls = [Call(q.function, case.args, getattr(case.compare, "draws", 1)) for q in questions for case in q.cases]
    started = time.perf_counter()
    outcomes = iter(await caller(calls))
    timings["calls"] = timings.get("calls", 0.0) + time.perf_counter() - started
    started = time.perf_counter()
    results = []
    for question in questions:
        total_weight = sum(c.weight for c in question.cases)
        tests = [
            _judge(question, case, question.points * case.weight / total_weight, next(outcomes), resolve)
            for case in question.cases
        ]
        results.append(
            QuestionResult(
                name=question.function, score=sum(t.score for t in tests), max_score=question.points, tests=tests
            )
        )
    timings["compare"] = timings.get("compare", 0.0) + time.perf_counter() - started
    return results


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
