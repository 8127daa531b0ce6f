"""``grader validate`` (its function) passes for every assignment of the course: ground truth, solution, template,
no shipped solution, no leak, and every bundled example submission earns exactly its points of
``examples/expected.toml`` (correct ones, typical bugs, hanging and broken notebooks). Each assignment is
validated once, two notebooks at a time, sandboxed where this machine can; the feedback its examples get is
checked on the same results."""

import pytest

from grader.assignment.assets import asset_paths
from grader.assignment.spec import load_assignment
from grader.authoring.validate import INSTRUCTOR, validate
from grader.grading.grade import HIDDEN_NOTE
from grader.grading.report import render_reports
from grader.grading.results import FAILURE_KINDS
from grader.sandbox.isolation import choose_launcher
from tests.helpers import REPO

pytestmark = pytest.mark.slow
ASSIGNMENTS = sorted(p.parent for p in (REPO / "assignments").glob("*/assignment.toml"))


@pytest.fixture(scope="module", params=ASSIGNMENTS, ids=[a.name for a in ASSIGNMENTS])
def validated(request):
    assignment = load_assignment(request.param)
    launcher, _ = choose_launcher(asset_paths(assignment), require_sandbox=False)
    return validate(assignment, launcher, jobs=2)


def test_every_check_passes(validated):
    failed = [f"{f.check}: {f.detail}" for f in validated.findings if not f.passed]
    written = [f for f in validated.findings if f.check.startswith("each written question has one answer cell")]
    assert not failed and len(validated.findings) == 6 + len(written)  # the written check: with written questions
    assert all(r.status == "graded" for r in validated.results.values())


def test_feedback_names_the_function_and_what_failed(validated, tmp_path):
    for example, result in validated.results.items():
        for test in result.tests:
            if test.status == "failed":
                assert test.name.startswith(test.question + ": ") and test.output, example
        if example == INSTRUCTOR:
            continue
        render_reports(result, tmp_path)
        for suffix in (".html", ".md"):
            report = (tmp_path / f"{example}{suffix}").read_text()
            for question in result.questions:
                if question.score < question.max_score:
                    assert question.name in report, example


def test_hidden_failures_show_no_inputs_or_expected_values(validated):
    hidden_failed = [t for r in validated.results.values() for t in r.tests if t.hidden and t.status == "failed"]
    assert hidden_failed
    for test in hidden_failed:  # the generic message only: no values, no shapes, no tracebacks
        assert test.output == f"{FAILURE_KINDS[test.kind]} ({HIDDEN_NOTE})"
