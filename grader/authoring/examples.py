"""An assignment's example submissions and the points each must earn: ``examples/expected.toml``.

One table per example notebook (``examples/<name>.ipynb``, named by its stem), listing the points of each
function that does not earn full marks; ``[template]`` is the released student notebook::

    [correct]                 # full marks
    [bug_sum_not_mean]
    rms_norm = 0

``grader validate`` grades them all (:func:`example_notebooks`) and reports every difference
(:func:`example_problems`): a correct alternative that loses points, a bug the tests let through.
"""

from __future__ import annotations

from pathlib import Path

import tomllib

from grader.assignment.names import did_you_mean
from grader.assignment.plan import GradingPlan
from grader.assignment.spec import Assignment
from grader.errors import SpecError
from grader.grading.results import SubmissionResult

EXAMPLES = "examples"
EXPECTED = "expected.toml"
TEMPLATE = "template"  # the released notebook, graded by validate anyway


def expected_points(assignment: Assignment) -> dict[str, dict[str, float]] | None:
    """``examples/expected.toml`` as {example: {function: points}}; None when the assignment has none."""
    path = assignment.folder / EXAMPLES / EXPECTED
    if not path.is_file():
        return None
    try:
        tables = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: not valid TOML: {exc}") from None
    for name, table in tables.items():
        if not isinstance(table, dict) or not all(isinstance(v, (int, float)) for v in table.values()):
            raise SpecError(f"{path}: [{name}] must be a table of function = points")
    return tables


def example_notebooks(assignment: Assignment) -> dict[str, Path]:
    """The example notebooks by name (file stem), sorted; the template is not among them."""
    folder = assignment.folder / EXAMPLES
    return {p.stem: p for p in sorted(folder.glob("*.ipynb"))} if folder.is_dir() else {}


def example_problems(assignment: Assignment, plan: GradingPlan, results: dict[str, SubmissionResult]) -> list[str]:
    """Every way the graded ``results`` (by example name, ``template`` included) differ from ``expected.toml``,
    one line each; empty when every example earned exactly its points."""
    expected = expected_points(assignment)
    if expected is None:
        return []
    where = f"{EXAMPLES}/{EXPECTED}"
    unlisted = [name for name in example_notebooks(assignment) if name not in expected]
    problems = [f"{EXAMPLES}/{name}.ipynb is not in {where}" for name in unlisted]
    points = {q.function: q.points for q in plan.questions}
    for name, table in expected.items():
        result = results.get(name)
        if result is None:
            problems.append(f"{where}: [{name}] has no notebook {EXAMPLES}/{name}.ipynb")
            continue
        for function in (f for f in table if f not in points):
            hint = did_you_mean(function, points)
            problems.append(f"{where}: [{name}] names no graded function {function!r}{hint}")
        if result.status != "graded":
            problems.append(f"{name}: not graded ({result.status}): {result.message[:200]}")
        earned = {q.name: q.score for q in result.questions}
        for function, full in points.items():
            want, got = float(table.get(function, full)), earned.get(function, 0.0)
            if abs(want - got) > 1e-3:
                problems.append(f"{name}: {function} earned {got:.4g} of {full:.4g}, expected {want:.4g}")
    return problems
