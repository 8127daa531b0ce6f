"""Self-check: a student's notebook against the public tests of its release, on their own machine.

``grader check my.ipynb`` finds the release's test bundle (``tests/`` next to the notebook or in a
parent folder, or ``--tests``), grades the saved notebook with exactly the engine final grading uses,
prints a table and writes the feedback report next to the notebook.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

from grader.assignment import bundle
from grader.assignment.plan import GradingPlan, load_bundle
from grader.boundary import harness
from grader.grading.calls import Call
from grader.grading.grade import grade_questions, grade_submission
from grader.grading.report import render_reports
from grader.grading.results import SubmissionResult
from grader.sandbox.launcher import Launcher, LocalLauncher


def load_check_plan(notebook: Path, tests: Path | None = None) -> GradingPlan:
    """The public-test plan for ``notebook``: from ``tests`` or the release folder it sits in."""
    return load_bundle(tests or bundle.find_for(notebook))


def check_notebook(
    notebook: Path, plan: GradingPlan | None = None, launcher: Launcher | None = None
) -> tuple[SubmissionResult, GradingPlan, Path]:
    """Grade ``notebook`` on the public tests; return the result, the plan and the HTML report's path."""
    plan = plan or load_check_plan(notebook)
    with tempfile.TemporaryDirectory(prefix="grader-check-") as workroot:
        result = asyncio.run(
            grade_submission(plan, notebook, notebook.stem, launcher or LocalLauncher(), Path(workroot))
        )
    html, _ = render_reports(result, notebook.resolve().parent / ".feedback")
    return result, plan, html


class _InProcessCaller:
    """Calls the notebook's own functions in this process, through the same harness code as grading."""

    def __init__(self, plan: GradingPlan, namespace: dict, folder: Path):
        assets = {name: str(path) for name, path in plan.assets.items()}
        self.harness = harness.harness_module().Harness(assets, namespace, plan.limits.return_bytes)
        self.folder, self.count, self.max_bytes = folder, 0, plan.limits.return_bytes

    async def __call__(self, calls: list[Call]) -> list[harness.CallOutcome]:
        outcomes = []
        for call in calls:
            self.count += 1
            folder = self.folder / f"call-{self.count}"
            harness.write_inputs(folder, call.kwargs)
            self.harness.call(call.function, str(folder), call.repeat)
            outcomes.append(harness.read_outcome(folder, self.max_bytes, call.repeat))
        return outcomes


def _run_now(coroutine):
    """Run a coroutine that never suspends (the in-process caller awaits nothing) without an event loop,
    so it also works inside Jupyter, whose loop is already running."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("the self-check suspended unexpectedly")


def check_in_notebook(function: str | None = None, namespace: dict | None = None, tests: Path | None = None):
    """``from grader import check; check("top_p_filter")`` in a notebook cell: public tests of the functions
    as they are defined right now, with the same cases and comparisons as grading. Returns the results."""
    if os.environ.get("LLM_GRADER_GRADING"):
        print("grader.check() does nothing while the notebook is being graded.")
        return []
    namespace = namespace if namespace is not None else _caller_namespace()
    plan = load_bundle(tests or bundle.find_from(Path.cwd()))
    questions = [q for q in plan.questions if function is None or q.function == function]
    if not questions:
        raise ValueError(f"no public tests for {function!r}; graded functions: {[q.function for q in plan.questions]}")
    with tempfile.TemporaryDirectory(prefix="grader-check-") as tmp:
        caller = _InProcessCaller(plan, namespace, Path(tmp))
        results = _run_now(grade_questions(questions, caller, plan.assets))
    _show(results, sum(q.hidden_cases for q in questions))
    return results


def _caller_namespace() -> dict:
    try:
        from IPython import get_ipython
    except ImportError:
        get_ipython = None
    shell = get_ipython() if get_ipython else None
    if shell is None:
        raise RuntimeError("check() finds your functions in a notebook; elsewhere pass namespace=globals()")
    return shell.user_ns


def _show(results, hidden: int) -> None:
    from rich.console import Console

    from grader.selfcheck.table import HIDDEN_IN_NOTEBOOK, print_results

    score, max_score = sum(q.score for q in results), sum(q.max_score for q in results)
    rows = [(t.name, t.status, t.output) for q in results for t in q.tests]
    title = f"public tests: {score:.4g} / {max_score:.4g} points"
    print_results(Console(highlight=False), title, rows, HIDDEN_IN_NOTEBOOK.format(count=hidden))
