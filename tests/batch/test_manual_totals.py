"""Totals out: automatic + manual points in every export, the feedback reports and the class summary."""

from __future__ import annotations

import csv
import json

import pytest
from typer.testing import CliRunner

from grader.batch.exports import ExportSettings
from grader.batch.gradebook import Gradebook
from grader.batch.outfolder import export_into, render_totals, write_class_files
from grader.batch.reviews import Reviews
from grader.cli import app
from tests.batch.helpers import manual_gradebook

ANSWERS = {
    "s1": "Scaling keeps the softmax out of saturation.",
    "s2": "Because the variance of q.k grows with d_k.",
    "s3": "<script>alert(1)</script> I do not know.",
}


@pytest.fixture
def out(tmp_path, mini_plan):
    out = manual_gradebook(tmp_path, mini_plan, ANSWERS)
    with Reviews.open(out) as rv:
        rv.save_review("why-scale", "s1", items=["1"], who="ta-anna", base_version=0, comment="Well put <b>really</b>.")
        rv.save_review("why-scale", "s2", items=["1", "2"], who="ta-ben", base_version=0)
    return out


def test_every_export_carries_automatic_and_manual_points(out):
    with Gradebook.open(out) as gb:
        stored = {r.student_id: json.loads(gb.current_result(r.student_id)) for r in gb.rows()}
        auto = {sid: result["score"] for sid, result in stored.items()}
        write_class_files(gb, out, (), ExportSettings())
        export_into(gb, out, ["canvas", "gradescope", "junit"], ExportSettings())
        max_score = gb.assignment().max_score
    rows = {r["student_id"]: r for r in csv.DictReader((out / "gradebook.csv").open())}
    assert float(rows["s1"]["score"]) == pytest.approx(auto["s1"] + 2.0)
    assert float(rows["s2"]["why-scale"]) == 1.0 and float(rows["s3"]["why-scale"]) == 0.0
    assert float(rows["s1"]["max_score"]) == stored["s1"]["max_score"] + 2.0
    canvas = list(csv.reader((out / "exports" / "canvas.csv").open()))
    assert float(canvas[1][-1]) == max_score
    assert {r[1]: float(r[-1]) for r in canvas[2:]}["s2"] == pytest.approx(auto["s2"] + 1.0)
    gradescope = json.loads((out / "exports" / "gradescope" / "s1" / "results.json").read_text())
    manual = [t for t in gradescope["tests"] if t["name"].startswith("why-scale")]
    assert manual[0]["score"] == 2.0 and "+2: Correct" in manual[0]["output"]
    assert gradescope["score"] == pytest.approx(auto["s1"] + 2.0)


def test_reports_show_the_rubric_items_and_the_comment_escaped(out):
    with Gradebook.open(out) as gb:
        assert render_totals(gb, out) == 3
    html = (out / "reports" / "s1.html").read_text()
    assert "Correct" in html and "Well put &lt;b&gt;really&lt;/b&gt;." in html
    assert "graded by hand" in html
    assert "not reviewed yet" in (out / "reports" / "s3.md").read_text()


def test_summary_shows_review_progress_and_how_often_each_item_was_given(out):
    with Gradebook.open(out) as gb:
        write_class_files(gb, out, (), ExportSettings())
    html = (out / "summary.html").read_text()
    assert "Graded by hand" in html and "2 / 3 reviewed" in html
    assert "<td>No variance argument</td><td>-1</td><td>1</td>" in html


def test_export_warns_while_answers_are_unreviewed_and_a_review_makes_the_class_files_stale(out):
    result = CliRunner().invoke(app, ["export", str(out), "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert "1 answer(s) to manual questions not reviewed yet" in result.output
    with Gradebook.open(out) as gb:
        write_class_files(gb, out, (), ExportSettings())
        from grader.batch.outfolder import class_files_stale

        assert not class_files_stale(gb, out)
        Reviews(gb.db).save_review("why-scale", "s3", items=[], who="ta", base_version=0)
        assert class_files_stale(gb, out)
    result = CliRunner().invoke(app, ["export", str(out), "--format", "csv"])
    assert "not reviewed yet" not in result.output


def test_grader_report_keeps_the_manual_points(out):
    result = CliRunner().invoke(app, ["report", str(out)])
    assert result.exit_code == 0, result.output
    assert "Well put" in (out / "reports" / "s1.html").read_text()
