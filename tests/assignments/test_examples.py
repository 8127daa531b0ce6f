"""Every assignment's bundled example submissions get exactly their expected points, graded in one batch.

An assignment opts in with ``examples/expected.toml``: one table per example notebook (file stem), listing
the points of each function that does not earn full marks. ``template`` is the released student notebook.
"""

import asyncio
import shutil
from pathlib import Path

import pytest
import tomllib

from grader.assignment.groundtruth import build_plan
from grader.assignment.release import release
from grader.assignment.spec import load_assignment
from grader.batch.intake import find_submissions
from grader.batch.run import GRADEBOOK, grade_all
from grader.grading.grade import HIDDEN_NOTE
from grader.grading.results import FAILURE_KINDS
from grader.sandbox.isolation import choose_launcher
from tests.helpers import REPO

pytestmark = pytest.mark.slow
ASSIGNMENTS = REPO / "assignments"
WITH_EXAMPLES = sorted(p.parent.parent for p in ASSIGNMENTS.glob("*/examples/expected.toml"))


@pytest.fixture(scope="module", params=[a.name for a in WITH_EXAMPLES])
def batch(request, tmp_path_factory):
    """Grade every example of one assignment plus its released template, two kernels at a time."""
    folder = ASSIGNMENTS / request.param
    assignment = load_assignment(folder)
    plan = build_plan(assignment)
    subs = tmp_path_factory.mktemp("subs")
    for nb in (folder / "examples").glob("*.ipynb"):
        shutil.copy(nb, subs)
    released = tmp_path_factory.mktemp("release") / "r"
    shutil.copy(release(assignment, released, plan), subs / "template.ipynb")
    out = tmp_path_factory.mktemp("out")
    launcher, _ = choose_launcher(plan.assets, require_sandbox=False)
    summary = asyncio.run(
        grade_all(plan, find_submissions(subs, Path(assignment.spec.notebook).name), out, launcher, jobs=2)
    )
    expected = tomllib.loads((folder / "examples" / "expected.toml").read_text())
    return plan, {r.student_id: r for r in summary.results}, out, expected


def test_every_example_is_graded(batch):
    _, results, _, expected = batch
    assert set(results) == set(expected)
    assert all(r.status == "graded" for r in results.values())


def test_each_example_gets_its_expected_points(batch):
    plan, results, _, expected = batch
    for example, points in expected.items():
        want = {q.function: points.get(q.function, q.points) for q in plan.questions}
        got = {q.name: round(q.score, 4) for q in results[example].questions}
        assert got == pytest.approx(want, abs=1e-3), example


def test_feedback_names_the_function_and_what_failed(batch):
    _, results, out, _ = batch
    for example, result in results.items():
        for test in result.tests:
            if test.status == "failed":
                assert test.name.startswith(test.question + ": ") and test.output, example
        for suffix in (".html", ".md"):
            report = (out / "reports" / f"{example}{suffix}").read_text()
            for question in result.questions:
                if question.score < question.max_score:
                    assert question.name in report, example


def test_outputs_of_the_batch_exist(batch):
    _, results, out, _ = batch
    rows = (out / GRADEBOOK).read_text().splitlines()
    assert rows[0].startswith("student_id,status,score,max_score") and len(rows) == len(results) + 1
    for student in results:
        assert (out / "results" / f"{student}.json").is_file()


def test_hidden_failures_show_no_inputs_or_expected_values(batch):
    _, results, _, _ = batch
    hidden_failed = [t for r in results.values() for t in r.tests if t.hidden and t.status == "failed"]
    assert hidden_failed
    for test in hidden_failed:  # the generic message only: no values, no shapes, no tracebacks
        assert test.output == f"{FAILURE_KINDS[test.kind]} ({HIDDEN_NOTE})"
