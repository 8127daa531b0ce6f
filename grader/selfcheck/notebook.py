"""``check()`` inside a notebook: the public tests of the functions as they are defined right now.

The calls run in the notebook's own kernel process (no new kernel: a second plus the functions' own time),
through the same harness code and comparisons as grading. Each call has the assignment's per-call limit,
enforced with a timer that interrupts it (``SIGALRM`` where there is one, else the main thread is
interrupted); a function that runs out of time once is not called again in this check (its remaining cases
fail at once: "not run: timed out in an earlier case"), so a function that loops forever costs one limit.
A Ctrl-C of the student ends the check with one line, never a traceback through the grader.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from types import SimpleNamespace

from grader.assignment import bundle
from grader.assignment.plan import GradingPlan, load_bundle
from grader.boundary import harness, wire
from grader.common.timelimit import OutOfTime, time_limit
from grader.compat.ipykernel import name_cells
from grader.errors import GraderError
from grader.grading.calls import NOT_RUN, Call, TimeoutRule
from grader.grading.grade import grade_questions
from grader.grading.guidance import guidance
from grader.grading.notebook import graded_calls
from grader.selfcheck.table import PUBLIC_ONLY


class _InProcessCaller:
    """Calls the notebook's own functions in this process, through the same harness code as grading, each
    under the per-call limit."""

    def __init__(self, plan: GradingPlan, namespace: dict, folder: Path):
        assets = {name: str(path) for name, path in plan.assets.items()}
        self.harness = harness.harness_module().Harness(assets, namespace, plan.limits.return_bytes)
        self.folder, self.count, self.max_bytes = folder, 0, plan.limits.return_bytes
        self.limit, self.rule = plan.limits.call_timeout_s, TimeoutRule()

    async def __call__(self, calls: list[Call]) -> list[harness.CallOutcome]:
        return [self._call(call) for call in calls]

    def _call(self, call: Call) -> harness.CallOutcome:
        if self.rule.gave_up(call.function):
            return harness.CallOutcome("not_run", message=NOT_RUN)
        self.count += 1
        folder = self.folder / f"call-{self.count}"
        harness.write_inputs(folder, call.kwargs)
        try:
            with time_limit(self.limit):
                self.harness.call(call.function, str(folder), call.repeat)
        except OutOfTime:
            self.rule.timed_out(call.function)
            return harness.CallOutcome("timeout", message=f"did not finish within {self.limit:g} s")
        return harness.read_outcome(folder, self.max_bytes, call.repeat)


def _run_now(coroutine):
    """Run a coroutine that never suspends (the in-process caller awaits nothing) without an event loop,
    so it also works inside Jupyter, whose loop is already running."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("the self-check suspended unexpectedly")


class CheckResults(list):
    """The results of ``check()`` (a list of QuestionResult); shown as one short line, or not at all as a
    cell's last value (the table is already printed)."""

    def __repr__(self) -> str:
        score, max_score = sum(q.score for q in self), sum(q.max_score for q in self)
        return f"<check: {score:.4g} / {max_score:.4g} public points>"

    def _ipython_display_(self) -> None:
        pass


def check_in_notebook(function: str | None = None, namespace: dict | None = None, tests: Path | None = None):
    """``from grader import check; check("top_p_filter")`` in a notebook cell: public tests of the functions
    as they are defined right now, with the same cases and comparisons as grading. Returns the results
    (:class:`CheckResults`), or None when the check could not run (it says why in one line)."""
    if os.environ.get("LLM_GRADER_GRADING"):
        print("grader.check() does nothing while the notebook is being graded.")
        return CheckResults()
    try:
        namespace = namespace if namespace is not None else _caller_namespace()
        plan = load_bundle(tests or bundle.find_from(Path.cwd()))
        questions = [q for q in plan.questions if function is None or q.function == function]
        if not questions:
            graded = ", ".join(q.function for q in plan.questions)
            raise GraderError(f"no public tests for {function!r}; the graded functions are {graded}")
        with tempfile.TemporaryDirectory(prefix="grader-check-") as tmp, _quiet_loading(questions):
            results = CheckResults(_run_now(grade_questions(questions, _InProcessCaller(plan, namespace, Path(tmp)))))
    except GraderError as exc:
        print(f"check(): {exc}")
        return None
    except KeyboardInterrupt:
        print("check() was interrupted: no results.")
        return None
    _name_cells(results)
    _show(results, sum(q.hidden_cases for q in questions))
    return results


def _quiet_loading(questions):
    """No progress bars from loading the course model, when a case needs it."""
    needs_model = any(
        isinstance(value, wire.Handle) and value.kind in ("model", "tokenizer")
        for q in questions
        for case in q.cases
        for value in case.args.values()
    )
    if not needs_model:
        return contextlib.nullcontext()
    from grader.compat.transformers import loading_without_threads

    return loading_without_threads()


def _shell():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def _caller_namespace() -> dict:
    shell = _shell()
    if shell is None:
        raise GraderError("check() finds your functions in a notebook; elsewhere pass namespace=globals()")
    return shell.user_ns


def _name_cells(results) -> None:
    """Tracebacks name the cell as Jupyter shows it (``cell In[7]``), not ipykernel's temporary file."""
    shell = _shell()
    history = getattr(getattr(shell, "history_manager", None), "input_hist_raw", None)
    if not history:
        return
    sources = {f"cell In[{n}]": source for n, source in enumerate(history) if n and source}
    for test in (t for q in results for t in q.tests):
        if test.kind == "exception":
            test.output = name_cells(test.output, sources)


def _graded_calls(functions: list[str]) -> dict[str, list[str]]:
    """Which graded functions each one calls, from the cells run so far (their source, parsed)."""
    history = getattr(getattr(_shell(), "history_manager", None), "input_hist_raw", None) or []
    cells = [{"cell_type": "code", "source": source} for source in history if source]
    return graded_calls(SimpleNamespace(cells=cells), functions)


def public_inputs(test_name: str, tests: Path | None = None) -> dict:
    """The inputs of the public case ``test_name`` ("function: case", as reports name it), ready for
    ``function(**inputs)``: tensors, a seeded generator, the course model and tokenizer loaded."""
    plan = load_bundle(tests or bundle.find_from(Path.cwd()))
    for question in plan.questions:
        for case in question.cases:
            if f"{question.function}: {case.name}" == test_name:
                # as a graded call gets them: through the wire into the harness, which resolves the handles
                module = harness.harness_module()
                inputs = module.Harness({k: str(v) for k, v in plan.assets.items()}, {}, plan.limits.return_bytes)
                args = module.loads(*wire.dumps(case.args))
                return {key: inputs._resolve(value) for key, value in args.items()}
    names = [f"{q.function}: {c.name}" for q in plan.questions for c in q.cases]
    raise GraderError(f"no public test named {test_name!r}; the public tests are: {'; '.join(names)}")


def _show(results, hidden: int) -> None:
    from rich.console import Console

    from grader.selfcheck.table import print_results

    console = Console(highlight=False)
    score, max_score = sum(q.score for q in results), sum(q.max_score for q in results)
    rows = [(t.name, t.status, t.output) for q in results for t in q.tests]
    title = f"public tests: {score:.4g} / {max_score:.4g} points"
    print_results(console, title, rows, PUBLIC_ONLY.format(count=hidden))
    for entry in guidance(results, _graded_calls([q.name for q in results])):
        console.print(f"{entry['function']}: {entry['text']}", markup=False, soft_wrap=True)
        if entry["inputs"]:
            console.print(entry["inputs"], markup=False, soft_wrap=True)
