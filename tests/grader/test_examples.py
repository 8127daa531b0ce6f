"""The bundled example submissions of 03-sampling get exactly the expected points, in one parallel batch."""

import asyncio
import shutil
import tomllib
from pathlib import Path

import pytest

from grader.batch import GRADEBOOK, grade_all
from grader.grade import HIDDEN_NOTE
from grader.groundtruth import build_plan
from grader.kernel import LocalLauncher
from grader.release import release
from grader.results import FAILURE_KINDS
from grader.spec import load_assignment
from grader.submissions import find_submissions

pytestmark = pytest.mark.slow
SAMPLING = Path(__file__).resolve().parents[2] / "assignments" / "03-sampling"
EXPECTED = tomllib.loads((SAMPLING / "examples" / "expected.toml").read_text())


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Grade every example plus the released template, two kernels at a time."""
    assignment = load_assignment(SAMPLING)
    plan = build_plan(assignment)
    subs = tmp_path_factory.mktemp("subs")
    for nb in (SAMPLING / "examples").glob("*.ipynb"):
        shutil.copy(nb, subs)
    released = tmp_path_factory.mktemp("release") / "r"
    shutil.copy(release(assignment, released, plan), subs / "template.ipynb")
    out = tmp_path_factory.mktemp("out")
    summary = asyncio.run(grade_all(plan, find_submissions(subs, "sampling.ipynb"), out, LocalLauncher(), jobs=2))
    return plan, {r.student_id: r for r in summary.results}, out


def test_every_example_is_graded(batch):
    _, results, _ = batch
    assert set(results) == set(EXPECTED)
    assert all(r.status == "graded" for r in results.values())


@pytest.mark.parametrize("example", sorted(EXPECTED))
def test_example_gets_its_expected_points(batch, example):
    plan, results, _ = batch
    expected = {q.function: EXPECTED[example].get(q.function, q.points) for q in plan.questions}
    got = {q.name: round(q.score, 4) for q in results[example].questions}
    assert got == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize("example", sorted(EXPECTED))
def test_feedback_names_the_function_and_what_failed(batch, example):
    _, results, out = batch
    for test in results[example].tests:
        if test.status == "failed":
            assert test.name.startswith(test.question + ": ") and test.output
    for suffix in (".html", ".md"):
        report = (out / "reports" / f"{example}{suffix}").read_text()
        for question in results[example].questions:
            if question.score < question.max_score:
                assert question.name in report


def test_outputs_of_the_batch_exist(batch):
    _, results, out = batch
    rows = (out / GRADEBOOK).read_text().splitlines()
    assert rows[0].startswith("student_id,status,score,max_score") and len(rows) == len(results) + 1
    for student in results:
        assert (out / "results" / f"{student}.json").is_file()


def test_hidden_failures_show_no_inputs_or_expected_values(batch):
    _, results, out = batch
    hidden_failed = [t for r in results.values() for t in r.tests if t.hidden and t.status == "failed"]
    assert hidden_failed
    for test in hidden_failed:  # the generic message only: no values, no shapes, no tracebacks
        assert test.output == f"{FAILURE_KINDS[test.kind]} ({HIDDEN_NOTE})"
