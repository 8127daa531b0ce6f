"""A class from a Moodle zip to Moodle's worksheet and feedback zip, through real (sandboxed) kernels.

One download holds all three of Moodle's layouts, every kind of bad input, and hostile entries; each
student gets their own status and message, and no other student is affected.
"""

import csv
import io
import sqlite3
import uuid
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.cli import app
from tests.batch.helpers import (
    GOOD,
    GREEDY,
    NBFORMAT3,
    WRONG_SOFTMAX,
    colab_notebook,
    moodle,
    nb_json,
    sandbox_args,
    vscode_notebook,
    write_zip,
)
from tests.batch.test_exports import MOODLE_HEADER

pytestmark = pytest.mark.slow
ABSOLUTE = f"/tmp/grader-e2e-{uuid.uuid4().hex}.ipynb"  # must never be written

# participant id -> (status, score, words in the message)
EXPECTED = {
    "1001": ("graded", 3.0, ""),
    "1002": ("graded", 1.0, ""),
    "1003": ("graded", 3.0, ""),
    "1004": ("invalid", 0.0, "not a readable notebook"),
    "1005": ("invalid", 0.0, "the file is empty"),
    "1006": ("invalid", 0.0, "nbformat 3 is not supported"),
    "1007": ("invalid", 0.0, "JSON, but not a notebook"),
    "1008": ("invalid", 0.0, "no .ipynb file among the student's files (found mini.py)"),
    "1009": ("graded", 3.0, ""),
    "1010": ("graded", 3.0, ""),
    "1011": ("error", 0.0, "appears under two names"),
    "1012": ("invalid", 0.0, "more than the limit of 100000000"),
    "1013": ("invalid", 0.0, "a symbolic link"),
    "1014": ("graded", 3.0, ""),
    "1015": ("invalid", 0.0, "'..'"),
}


def build_download(path: Path) -> Path:
    entries = {
        moodle("Max Mustermann", 1001, "folders", "mini.ipynb"): nb_json(*GOOD),
        moodle("Erika Müller", 1002, "old", "mini.ipynb"): nb_json(GREEDY, WRONG_SOFTMAX),
        moodle("Jan OBrien", 1003, "flat", "mini.ipynb"): nb_json(*GOOD),
        moodle("Not Json", 1004, "folders", "mini.ipynb"): b"{ not json",
        moodle("Empty File", 1005, "folders", "mini.ipynb"): b"",
        moodle("Old Format", 1006, "folders", "mini.ipynb"): NBFORMAT3,
        moodle("Json Only", 1007, "folders", "mini.ipynb"): b'{"hello": "world"}',
        moodle("Py File", 1008, "folders", "mini.py"): GREEDY.encode(),
        moodle("Colab User", 1009, "flat", "mini.ipynb"): colab_notebook(*GOOD),
        moodle("Vs Code", 1010, "folders", "mini.ipynb"): vscode_notebook(*GOOD),
        moodle("Dup One", 1011, "folders", "mini.ipynb"): nb_json(*GOOD),
        moodle("Dup Two", 1011, "old", "mini.ipynb"): nb_json(*GOOD),
        moodle("Two Books", 1014, "folders", "scratch.ipynb"): b"{ broken",
        moodle("Two Books", 1014, "folders", "mini.ipynb"): nb_json(*GOOD),
        moodle("Climber", 1015, "folders", "../../climbed.ipynb"): b"{}",
        "../evil.ipynb": b"{}",
        ABSOLUTE: b"{}",
        "README.txt": b"not a submission",
    }
    write_zip(path, entries, symlinks={moodle("Link", 1013, "folders", "mini.ipynb"): "/etc/passwd"})
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:  # 200 MB of outputs
        with zf.open(moodle("Big Outputs", 1012, "folders", "mini.ipynb"), "w", force_zip64=True) as f:
            f.write(b'{"cells": [{"cell_type": "code", "outputs": [{"output_type": "stream", "text": "')
            for _ in range(200):
                f.write(b"x" * (1 << 20))
            f.write(b'"}]}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    return path


@pytest.fixture(scope="module")
def graded(mini_assignment, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    download = build_download(tmp / "INF101-Blatt 3-48213.zip")
    out = tmp / "out"
    args = ["grade", str(mini_assignment.folder), str(download), "--out", str(out), "-j", "2", *sandbox_args()]
    first = CliRunner().invoke(app, args)
    second = CliRunner().invoke(app, args)  # resumes: nothing left but the duplicate, which a human must fix
    db = sqlite3.connect(out / "gradebook.sqlite")
    yield tmp, out, first, second, db
    db.close()


def test_the_batch_completes_and_reports_hostile_entries(graded):
    tmp, out, first, _, _ = graded
    assert first.exit_code == 0, first.output
    assert "15 submission(s) found (moodle layout)" in first.output
    assert "graded 6/15 submissions" in first.output
    for entry in ("../evil.ipynb", ABSOLUTE, "Climber_1015_assignsubmission_file/../../climbed.ipynb"):
        assert f"skipped: {entry}: refused when unpacking" in first.output.replace("\n", " ")
    assert not Path(ABSOLUTE).exists() and not (tmp / "evil.ipynb").exists() and not (out / "climbed.ipynb").exists()


@pytest.mark.parametrize("pid", sorted(EXPECTED))
def test_each_student_gets_a_status_and_a_message(graded, pid):
    _, out, _, _, db = graded
    status, score, words = EXPECTED[pid]
    row = db.execute("SELECT status, score, message FROM current WHERE student_id = ?", (pid,)).fetchone()
    assert row[:2] == (status, score), row
    assert words in row[2]
    assert (out / "results" / f"{pid}.json").is_file() and (out / "reports" / f"{pid}.html").is_file()


def test_the_choice_among_several_notebooks_is_reported(graded):
    _, out, _, _, db = graded
    note = db.execute("SELECT note FROM students WHERE student_id = '1014'").fetchone()[0]
    assert "graded mini.ipynb (named mini.ipynb)" in note
    assert "graded mini.ipynb (named mini.ipynb)" in (out / "summary.html").read_text()


def test_the_rerun_grades_nothing_twice(graded):
    _, _, _, second, db = graded
    assert second.exit_code == 0, second.output
    assert "14 submission(s) already graded, skipped" in second.output
    counts = dict(db.execute("SELECT student_id, count(*) FROM attempts GROUP BY student_id").fetchall())
    assert counts == {pid: 2 if pid == "1011" else 1 for pid in EXPECTED}


def test_the_worksheet_and_feedback_zip_are_ready_for_moodle(graded):
    _, out, _, _, _ = graded
    text = (out / "exports" / "moodle-worksheet.csv").read_text(encoding="utf-8")
    assert text.splitlines()[0] == MOODLE_HEADER
    grades = {r["Identifier"]: r["Grade"] for r in csv.DictReader(io.StringIO(text))}
    assert grades["Participant 1002"] == "1.00" and grades["Participant 1004"] == "0.00"
    assert grades["Participant 1011"] == ""  # a grader-side problem uploads no grade
    with zipfile.ZipFile(out / "exports" / "moodle-feedback.zip") as zf:
        owners = {n.split("/")[0].split("_", 4)[1] for n in zf.namelist()}
    assert owners == set(EXPECTED)


def test_the_summary_lists_what_broke(graded):
    _, out, _, _, _ = graded
    html = (out / "summary.html").read_text()
    for pid, (status, _, _) in EXPECTED.items():
        if status != "graded":
            assert f"<td>{pid} (" in html
    assert "../evil.ipynb: refused when unpacking" in html.replace("&#39;", "'")
