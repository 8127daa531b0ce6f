"""examples/expected.toml against graded results (grader.authoring.examples): every difference is one line."""

import shutil
from pathlib import Path

import pytest

from grader.assignment.plan import GradingPlan, QuestionPlan
from grader.assignment.spec import Limits, load_assignment
from grader.authoring.examples import example_problems
from grader.authoring.publish import shipped_solutions
from grader.authoring.scaffold import new_assignment
from grader.errors import GraderError, SpecError
from grader.grading.results import QuestionResult, SubmissionResult

PLAN = GradingPlan("demo", "Demo", "1", Limits(), [QuestionPlan("rms_norm", 2.0, []), QuestionPlan("gelu", 1.0, [])])


def result(name: str, status: str = "graded", message: str = "", **scores: float) -> SubmissionResult:
    questions = [
        QuestionResult(name=q.function, score=scores.get(q.function, q.points), max_score=q.points, tests=[])
        for q in PLAN.questions
    ]
    return SubmissionResult(
        student_id=name, assignment="demo", status=status, message=message, score=0, max_score=3, questions=questions
    )


@pytest.fixture
def course(tmp_path) -> Path:
    folder = tmp_path / "demo"
    new_assignment(folder)
    return folder


def test_the_examples_match_their_expected_points(course):
    results = {
        "correct": result("correct"),
        "bug_sum_not_mean": result("b", rms_norm=0),
        "template": result("t", rms_norm=0, gelu=0),
    }
    (course / "examples" / "expected.toml").write_text(
        "[correct]\n[bug_sum_not_mean]\nrms_norm = 0\n[template]\nrms_norm = 0\ngelu = 0\n"
    )
    assert example_problems(load_assignment(course), PLAN, results) == []


def test_each_difference_is_one_line(course):
    (course / "examples" / "expected.toml").write_text(
        "[correct]\n[bug_sum_not_mean]\nrms_norm = 0\ngelus = 0\n[gone]\n"
    )
    shutil.copy(course / "examples" / "correct.ipynb", course / "examples" / "unlisted.ipynb")
    results = {
        "correct": result("correct", rms_norm=1.5),
        "bug_sum_not_mean": result("b", status="error", message="kernel did not start"),
        "unlisted": result("u"),
    }
    assert example_problems(load_assignment(course), PLAN, results) == [
        "examples/unlisted.ipynb is not in examples/expected.toml",
        "correct: rms_norm earned 1.5 of 2, expected 2",
        "examples/expected.toml: [bug_sum_not_mean] names no graded function 'gelus'; did you mean 'gelu'?",
        "bug_sum_not_mean: not graded (error): kernel did not start",
        "bug_sum_not_mean: rms_norm earned 2 of 2, expected 0",
        "examples/expected.toml: [gone] has no notebook examples/gone.ipynb",
    ]


def test_a_bad_expected_file_is_named(course):
    (course / "examples" / "expected.toml").write_text("[correct]\nrms_norm = 'all'\n")
    with pytest.raises(SpecError, match=r"expected.toml: \[correct\] must be a table of function = points"):
        example_problems(load_assignment(course), PLAN, {})


def test_no_expected_file_no_problems(course):
    (course / "examples" / "expected.toml").unlink()
    assert example_problems(load_assignment(course), PLAN, {}) == []


def test_a_function_that_passes_in_the_template_ships_its_solution():
    template = result("template", rms_norm=0)
    assert shipped_solutions(PLAN, template, "demo.ipynb") == [
        "demo.ipynb: function 'gelu' passes all its cases in the released template, so its solution would ship "
        "to students: put it between ### BEGIN SOLUTION and ### END SOLUTION"
    ]
    assert shipped_solutions(PLAN, result("template", rms_norm=0, gelu=0.5), "demo.ipynb") == []


def test_new_refuses_a_folder_in_use_and_a_bad_id(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(GraderError, match="already exists and is not empty"):
        new_assignment(tmp_path / "taken")
    with pytest.raises(GraderError, match="the folder's name is the assignment id"):
        new_assignment(tmp_path / "bad name")
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"


def test_new_writes_a_spec_that_loads(tmp_path):
    files = new_assignment(tmp_path / "05-norms")
    names = {p.relative_to(tmp_path / "05-norms").as_posix() for p in files}
    assert names == {
        "assignment.toml",
        "05-norms.ipynb",
        "reference.py",
        "examples/correct.ipynb",
        "examples/bug_sum_not_mean.ipynb",
        "examples/expected.toml",
    }
    spec = load_assignment(tmp_path / "05-norms").spec
    assert spec.id == "05-norms" and spec.reference == "reference.py"
    assert [c.hidden for c in spec.questions[0].cases] == [False, True]
