"""02-attention's two written questions through a real batch: ``grader grade`` of its ten example submissions
(real kernels) stores every answer "to review" with its status, groups alike answers, and once TAs have
reviewed, ``grader export`` writes totals (automatic + manual) into the exports and the feedback reports."""

from __future__ import annotations

import csv
import json
import shutil

import pytest
from typer.testing import CliRunner

from grader.batch.reviews import Reviews
from grader.cli import app
from tests.batch.helpers import sandbox_args
from tests.helpers import REPO

pytestmark = pytest.mark.slow
ATTENTION = REPO / "assignments" / "02-attention"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """OUT after grading the ten example notebooks of 02-attention, one per student."""
    tmp = tmp_path_factory.mktemp("written")
    subs = tmp / "subs"
    subs.mkdir()
    for path in sorted((ATTENTION / "examples").glob("*.ipynb")):
        shutil.copy(path, subs / path.name)
    out = tmp / "out"
    result = CliRunner().invoke(app, ["grade", str(ATTENTION), str(subs), "--out", str(out), *sandbox_args()])
    assert result.exit_code == 0, result.output
    assert "20 written answer(s) to review by hand: grader review" in result.output
    return out


def test_every_answer_is_stored_to_review_with_its_status(graded):
    with Reviews.open(graded) as rv:
        assert [q.name for q in rv.questions()] == ["no-mask", "heads"]
        assert rv.progress() == {"no-mask": (0, 10), "heads": (0, 10)}
        status = {a.student_id: a.status for a in rv.answers("no-mask")}
    assert status["bug_weights_swapped"] == "missing"  # the student deleted the answer cell
    assert status["bug_scale_by_dv"] == "blank"
    assert status["correct"] == "ok"


def test_alike_answers_are_grouped(graded):
    with Reviews.open(graded) as rv:
        groups = rv.groups("no-mask")
    assert ["bug_softmax_ignores_dim", "bug_softmax_unstable"] in groups  # identical
    assert ["correct", "correct_alternative"] in groups  # one character apart


def test_reviews_reach_the_exports_and_the_reports(graded):
    with Reviews.open(graded) as rv:
        auto = {a.student_id: 0 for a in rv.answers("no-mask")}
        rv.save_group("no-mask", {"correct": 0, "correct_alternative": 0}, items=["1", "2"], who="ta-anna")
        rv.save_review("heads", "correct", items=["1", "2"], who="ta-ben", base_version=0, comment="Clear.")
    result = CliRunner().invoke(app, ["export", str(graded), "--format", "csv", "--format", "gradescope"])
    assert result.exit_code == 0, result.output
    assert "17 answer(s) to manual questions not reviewed yet" in result.output
    rows = {r["student_id"]: r for r in csv.DictReader((graded / "gradebook.csv").open())}
    for sid in auto:
        auto[sid] = json.loads((graded / "results" / f"{sid}.json").read_text())["score"]
    assert float(rows["correct"]["score"]) == pytest.approx(auto["correct"] + 4.0)
    assert float(rows["correct_alternative"]["score"]) == pytest.approx(auto["correct_alternative"] + 2.0)
    assert float(rows["correct"]["max_score"]) == 12.0  # 8 automatic + 2 x 2 written
    assert (rows["correct"]["no-mask"], rows["correct"]["heads"]) == ("2", "2")
    report = (graded / "reports" / "correct.html").read_text()
    assert "Same parameters (4D^2)" in report and "Clear." in report
    gradescope = json.loads((graded / "exports" / "gradescope" / "correct" / "results.json").read_text())
    assert gradescope["score"] == pytest.approx(auto["correct"] + 4.0)
