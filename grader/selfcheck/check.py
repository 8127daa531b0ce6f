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

from grader.assignment.plan import BUNDLE_JSON, GradingPlan, load_bundle
from grader.boundary import harness
from grader.errors import ReleaseError
from grader.grading.calls import Call
from grader.grading.grade import grade_questions, grade_submission
from grader.grading.report import render_reports
from grader.grading.results import SubmissionResult
from grader.sandbox.launcher import Launcher, LocalLauncher


def find_bundle(notebook: Path) -> Path:
    """The ``tests`` folder of the release the notebook belongs to."""
    try:
        return _find_bundle_from(notebook.resolve().parent)
    except ReleaseError:
        raise ReleaseError(
            f"{notebook}: no public tests found (looked for tests/{BUNDLE_JSON} next to the notebook "
            "and in its parent folders; pass --tests DIR)"
        ) from None


def load_check_plan(notebook: Path, tests: Path | None = None) -> GradingPlan:
    """The public-test plan for ``notebook``: from ``tests`` or the release folder it sits in."""
    return load_bundle(tests or find_bundle(notebook))


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
            outcomes.append(harness.read_outcome(folder, self.max_bytes))
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
    plan = load_bundle(tests or _find_bundle_from(Path.cwd()))
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


def _find_bundle_from(folder: Path) -> Path:
    for candidate in [folder, *folder.parents][:4]:
        if (candidate / "tests" / BUNDLE_JSON).is_file():
            return candidate / "tests"
    raise ReleaseError(
        f"no public tests found in {folder}/tests or its parents; open the notebook in its release folder"
    )


def _show(results, hidden: int) -> None:
    from rich.console import Console
    from rich.table import Table

    score, max_score = sum(q.score for q in results), sum(q.max_score for q in results)
    table = Table(title=f"public tests: {score:.4g} / {max_score:.4g} points")
    for column in ("test", "result", "details"):
        table.add_column(column, overflow="fold")
    for q in results:
        for t in q.tests:
            table.add_row(t.name, "[green]pass[/green]" if t.status == "passed" else "[red]FAIL[/red]", t.output[:300])
    console = Console(highlight=False)
    console.print(table)
    console.print(f"{hidden} hidden test(s) exist for these functions; they will be run at grading.")
