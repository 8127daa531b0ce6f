"""Exports in the formats LMSs read back: Moodle's worksheet and feedback zip, Canvas's CSV, JUnit XML."""

import csv
import io
import json
import zipfile
from xml.etree import ElementTree as ET

from typer.testing import CliRunner

from grader.batch.exports import ExportSettings, export
from grader.batch.exports.worksheet import WorksheetSettings
from grader.cli import app

# The worksheet header as Moodle (English) downloads it and its importer reads it, verbatim from the notes.
MOODLE_HEADER = (
    'Identifier,"Full name","Email address",Status,Grade,"Maximum grade","Grade can be changed",'
    '"Last modified (submission)","Last modified (grade)","Feedback comments"'
)


def run_export(filled, fmt, settings=None):
    gb, out = filled
    [done] = export(gb, out / "reports", out / "exports", [fmt], settings or ExportSettings())
    return done


def test_the_moodle_worksheet_has_moodles_headers_and_identifiers(filled_gradebook):
    done = run_export(filled_gradebook, "moodle-worksheet")
    text = done.path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == MOODLE_HEADER
    rows = {r["Identifier"]: r for r in csv.DictReader(io.StringIO(text))}
    assert list(rows) == ["Participant 1234567", "Participant 1234568", "Participant 1234569", "Participant 1234570"]
    max_row = rows["Participant 1234567"]
    assert (max_row["Full name"], max_row["Grade"], max_row["Maximum grade"]) == ("Max Mustermann", "3.00", "3.00")
    assert max_row["Last modified (grade)"] == "-" and max_row["Grade can be changed"] == "Yes"
    assert rows["Participant 1234568"]["Grade"] == "0.50"
    assert rows["Participant 1234568"]["Feedback comments"] == "greedy_next_token: 0.5/1; softmax_with_temperature: 0/2"
    assert rows["Participant 1234570"]["Feedback comments"].startswith("Not graded normally:")
    assert any("alice" in w for w in done.warnings)


def test_german_separators(filled_gradebook):
    settings = ExportSettings(worksheet=WorksheetSettings(delimiter=";", decimal_comma=True))
    text = run_export(filled_gradebook, "moodle-worksheet", settings).path.read_text()
    assert text.splitlines()[0].startswith('Identifier;"Full name";"Email address";Status;Grade;')
    assert '"Participant 1234568";"Erika Müller";;"Submitted for grading";"0,50";"3,00";Yes;' in text


def test_filling_a_downloaded_german_worksheet_keeps_it_and_scales_to_its_maximum(filled_gradebook, tmp_path):
    header = (
        "ID;Vollständiger Name;E-Mail-Adresse;Status;Bewertung;Bestwertung;Bewertung kann geändert werden;"
        "Zuletzt geändert (Abgabe);Zuletzt geändert (Bewertung);Feedback als Kommentar"
    )
    rows = [
        "Teilnehmer/in1234567;Max Mustermann;max@uni.example;Abgegeben;;10,00;Ja;Montag, 3. Juni 2024;-;",
        "Teilnehmer/in1234568;Erika Müller;erika@uni.example;Abgegeben;;10,00;Ja;Montag, 3. Juni 2024;-;",
        "Teilnehmer/in1239999;Nobody;n@uni.example;Keine Abgabe;;10,00;Ja;-;-;",
    ]
    downloaded = tmp_path / "Bewertungen-INF101-Blatt 3-48213.csv"
    downloaded.write_bytes(("\ufeff" + "\n".join([header, *rows]) + "\n").encode())
    sheet = WorksheetSettings(delimiter=";", decimal_comma=True, template=downloaded)
    done = run_export(filled_gradebook, "moodle-worksheet", ExportSettings(worksheet=sheet))
    table = list(csv.reader(io.StringIO(done.path.read_text()), delimiter=";"))
    assert table[0] == header.split(";")
    assert table[1][4] == "10,00" and table[1][9].startswith("greedy_next_token: 1/1")
    assert table[2][4] == "1,67"  # 0.5 of 3 points, on Moodle's 10-point scale
    assert table[3] == rows[2].split(";")  # a student the grader never saw is left as it was
    assert any("1234569" in w for w in done.warnings)  # graded, but not in the downloaded worksheet


def test_the_feedback_zip_maps_each_report_to_its_participant(filled_gradebook):
    gb, out = filled_gradebook
    done = run_export(filled_gradebook, "moodle-feedback")
    with zipfile.ZipFile(done.path) as zf:
        names = zf.namelist()
        assert "Max Mustermann_1234567_assignfeedback_file/mini-feedback.html" in names
        assert "Eva Broken_1234570_assignfeedback_file/mini-feedback.html" in names  # '_' in a name would shift fields
        assert zf.read(names[0]) == (out / "reports" / "1234567.html").read_bytes()
    for name in names:  # the importer's rule: explode('_', part, 5), a numeric id, assignfeedback + file
        fields = name.split("/")[0].split("_", 4)
        assert fields[1].isdigit() and fields[2:4] == ["assignfeedback", "file"]
    assert len(names) == 4 and any("alice" in w for w in done.warnings)


def test_canvas_csv(filled_gradebook):
    lines = run_export(filled_gradebook, "canvas").path.read_text().splitlines()
    assert lines[:2] == ["Student,ID,SIS User ID,SIS Login ID,Section,Mini", "Points Possible,,,,,3"]
    assert "Max Mustermann,1234567,,,,3" in lines and "alice,alice,,,,1" in lines


def test_junit_xml_counts_failures_and_keeps_scores_as_properties(filled_gradebook):
    root = ET.parse(run_export(filled_gradebook, "junit").path).getroot()
    assert root.tag == "testsuites" and root.get("name") == "mini" and root.get("tests") == "15"
    suite = root.find("testsuite[@name='1234568']")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "2", "0")
    assert suite.find("properties/property[@name='score']").get("value") == "0.5"
    failing = suite.findall("testcase/failure")
    assert len(failing) == 2 and suite.find("testcase").get("classname") == "1234568.greedy_next_token"


def test_gradescope_results_per_student(filled_gradebook):
    done = run_export(filled_gradebook, "gradescope")
    data = json.loads((done.path / "1234567" / "results.json").read_text())
    assert data["score"] == 3.0 and {"name", "score", "max_score", "status", "output"} <= set(data["tests"][0])


def test_the_export_command_writes_every_format(filled_gradebook):
    gb, out = filled_gradebook
    gb.close()
    (out / "results" / "1234567.json").unlink()  # as if killed between the commit and the files
    result = CliRunner().invoke(app, ["export", str(out), "--format", "all"])
    assert result.exit_code == 0, result.output
    assert {p.name for p in (out / "exports").iterdir()} == {  # one gradebook.csv: OUT's
        "moodle-worksheet.csv",
        "moodle-feedback.zip",
        "canvas.csv",
        "gradescope",
        "junit.xml",
    }
    assert (out / "results" / "1234567.json").is_file() and (out / "summary.html").is_file()
    assert (out / "gradebook.csv").read_text().startswith("student_id,status,score,max_score")
    result = CliRunner().invoke(app, ["export", str(out), "--format", "pdf"])
    assert result.exit_code == 1 and "unknown format" in result.output
