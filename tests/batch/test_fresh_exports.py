"""No stale export: every run that changes a grade writes every export in OUT/exports again, with the options it
was exported with; one it cannot write again is moved aside loudly. There is one gradebook.csv. Kernels are
replaced by synthetic results (the regrade itself is tested with real kernels in test_groundtruth_change.py)."""

import asyncio
import csv
import io
import json
import zipfile
from xml.etree import ElementTree as ET

import pytest

from grader.batch import pool
from grader.batch.exports import FORMATS, ExportSettings
from grader.batch.exports.worksheet import WorksheetSettings
from grader.batch.gradebook import Gradebook
from grader.batch.intake import Intake, Submission
from grader.batch.outfolder import export_into
from grader.batch.run import BatchSettings, grade_batch
from grader.sandbox.launcher import LocalLauncher
from tests.batch.helpers import fake_result

STUDENTS = ("1001", "1002")
WORKSHEET = (
    "ID;Vollständiger Name;E-Mail-Adresse;Status;Bewertung;Bestwertung;Bewertung kann geändert werden;"
    "Zuletzt geändert (Abgabe);Zuletzt geändert (Bewertung);Feedback als Kommentar\n"
    "Teilnehmer/in1001;A;a@x;Abgegeben;;3,00;Ja;-;-;\nTeilnehmer/in1002;B;b@x;Abgegeben;;3,00;Ja;-;-;\n"
)


@pytest.fixture
def passing(monkeypatch):
    """Which of the two tests each student passes in the next run (the fake kernel's answer)."""
    answers = {"random": True, "t=2": True}

    async def fake_grade(plan, notebook, student_id, launcher, workroot, slot):
        return fake_result(
            student_id,
            {"greedy_next_token: random": answers["random"], "softmax_with_temperature: t=2": answers["t=2"]},
        )

    monkeypatch.setattr(pool, "grade_submission", fake_grade)
    return answers


def grade(plan, tmp_path, regrade: bool):
    subs = []
    for sid in STUDENTS:
        path = tmp_path / "subs" / f"{sid}.ipynb"
        path.parent.mkdir(exist_ok=True)
        path.write_text(sid)
        subs.append(Submission(sid, path))
    intake = Intake(subs, "folder", tmp_path / "subs")
    return asyncio.run(grade_batch(plan, intake, tmp_path / "out", LocalLauncher(), BatchSettings(regrade=regrade)))


def scores_in_every_export(out) -> dict[str, set[str]]:
    """Each export's score of student 1001, as text."""
    exports = out / "exports"
    canvas = list(csv.reader(io.StringIO((exports / "canvas.csv").read_text())))
    junit = ET.parse(exports / "junit.xml").getroot().find("testsuite[@name='1001']")
    sheet = list(csv.reader(io.StringIO((exports / "moodle-worksheet.csv").read_text()), delimiter=";"))
    with zipfile.ZipFile(exports / "moodle-feedback.zip") as zf:
        [name] = [n for n in zf.namelist() if "_1001_" in n]
        feedback = zf.read(name).decode()
    return {
        "gradebook.csv": next(
            r["score"] for r in csv.DictReader((out / "gradebook.csv").open()) if r["student_id"] == "1001"
        ),
        "canvas": next(r[-1] for r in canvas if r[1] == "1001"),
        "junit": junit.find("properties/property[@name='score']").get("value"),
        "gradescope": str(json.loads((exports / "gradescope" / "1001" / "results.json").read_text())["score"]),
        "worksheet": sheet[1][4],
        "feedback": "Score: 3 / 3"
        if "Score: 3 / 3" in feedback
        else "Score: 2 / 3"
        if "Score: 2 / 3" in feedback
        else "?",
    }


def test_a_regrade_rewrites_every_export_with_its_options(mini_plan, tmp_path, passing):
    out = tmp_path / "out"
    grade(mini_plan, tmp_path, regrade=False)
    template = tmp_path / "Bewertungen.csv"
    template.write_text(WORKSHEET, encoding="utf-8")
    sheet = WorksheetSettings(delimiter=";", decimal_comma=True, template=template)
    with Gradebook.open(out) as gb:
        export_into(gb, out, list(FORMATS), ExportSettings(worksheet=sheet))
    before = scores_in_every_export(out)
    assert before == {
        "gradebook.csv": "3",
        "canvas": "3",
        "junit": "3.0",
        "gradescope": "3.0",
        "worksheet": "3,00",
        "feedback": "Score: 3 / 3",
    }

    passing["random"] = False  # the regrade finds a wrong value
    summary = grade(mini_plan, tmp_path, regrade=True)
    assert summary.graded_now == 2
    after = scores_in_every_export(out)
    assert after == {
        "gradebook.csv": "2",
        "canvas": "2",
        "junit": "2.0",
        "gradescope": "2.0",
        "worksheet": "2,00",  # the downloaded German sheet, filled again with its own separators
        "feedback": "Score: 2 / 3",
    }
    assert not (out / "exports" / "gradebook.csv").exists()  # one gradebook.csv: OUT's


def test_an_export_that_cannot_be_written_again_is_moved_aside_loudly(mini_plan, tmp_path, passing):
    out = tmp_path / "out"
    grade(mini_plan, tmp_path, regrade=False)
    template = tmp_path / "Bewertungen.csv"
    template.write_text(WORKSHEET, encoding="utf-8")
    with Gradebook.open(out) as gb:
        sheet = WorksheetSettings(delimiter=";", decimal_comma=True, template=template)
        export_into(gb, out, ["moodle-worksheet", "canvas"], ExportSettings(worksheet=sheet))
    template.unlink()  # the downloaded worksheet is gone
    passing["t=2"] = False
    summary = grade(mini_plan, tmp_path, regrade=True)
    [stale] = [e for e in summary.exports if e.format == "moodle-worksheet"]
    assert "STALE" in stale.warnings[0] and "cannot read the worksheet" in stale.warnings[0]
    assert not (out / "exports" / "moodle-worksheet.csv").exists()
    assert (out / "exports" / "moodle-worksheet.csv.stale").read_text(encoding="utf-8").count("3,00") >= 2
    assert "1001,1001,,,,1" in (out / "exports" / "canvas.csv").read_text()  # the others are fresh


def test_a_rerun_that_changes_nothing_writes_nothing(mini_plan, tmp_path, passing):
    out = tmp_path / "out"
    grade(mini_plan, tmp_path, regrade=False)
    with Gradebook.open(out) as gb:
        export_into(gb, out, ["canvas"], ExportSettings())
    canvas = out / "exports" / "canvas.csv"
    canvas.write_text("edited by hand\n")
    summary = grade(mini_plan, tmp_path, regrade=False)
    assert (summary.graded_now, summary.skipped, summary.exports) == (0, 2, [])
    assert canvas.read_text() == "edited by hand\n"  # nothing changed since the class files were written
