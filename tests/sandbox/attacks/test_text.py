"""Strings a submission controls (file names, Moodle full names, messages) on their way to a terminal, a
spreadsheet and a report: no rich markup crash, no terminal escape, no formula a spreadsheet would evaluate,
and the exports still match every student."""

from __future__ import annotations

import csv
import io
import stat
import zipfile

import pytest
from rich.console import Console

from grader.batch.exports.worksheet import WorksheetSettings, format_line, write_worksheet
from grader.batch.gradebook import GradeRow
from grader.batch.intake import load_submissions
from grader.cli import untrusted
from grader.common.text import csv_cell, printable

ESCAPES = "\x1b[2J\x1b[1;1Hall 40 submissions graded\r\x07\u202e"


def zip_of(path, entries: dict[str, bytes], links: dict[str, str]):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
        for name, target in links.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            z.writestr(info, target)
    return path


def test_refused_zip_entries_with_markup_and_escapes_print_as_text(tmp_path):
    archive = zip_of(
        tmp_path / "moodle.zip",
        {"Bob_12_assignsubmission_file/mini.ipynb": b"{}"},
        {
            "Mallory_13_assignsubmission_file/[/x]": "/etc/passwd",
            f"Eve_14_assignsubmission_file/{ESCAPES}.ipynb": "/etc/shadow",
        },
    )
    intake = load_submissions(archive, "mini.ipynb", tmp_path / "unpacked")
    assert len(intake.issues) >= 2
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=300, highlight=False)  # as the CLI prints
    for issue in intake.issues:
        assert printable(issue) == issue and "\n" not in issue
        console.print(f"[yellow]skipped:[/yellow] {untrusted(issue)}", soft_wrap=True)  # no MarkupError
    printed = out.getvalue()
    assert "[/x]" in printed and "\x1b[2J" not in printed and "\r" not in printed


def test_student_ids_and_names_from_file_names_are_printable(tmp_path):
    folder = tmp_path / "subs"
    folder.mkdir()
    (folder / f"x{ESCAPES}.ipynb").write_text("{}")
    (folder / "=HYPERLINK(evil).ipynb").write_text("{}")
    intake = load_submissions(folder, "mini.ipynb", tmp_path / "unpacked")
    ids = [s.student_id for s in intake.submissions]
    assert all(printable(i) == i for i in ids), ids
    assert "=HYPERLINK(evil)" in ids  # kept as the id; neutralised where it is written to a spreadsheet


@pytest.mark.parametrize(
    "value, cell",
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("=2+5+cmd Mallory", "'=2+5+cmd Mallory"),
        ("@SUM(1+1)", "'@SUM(1+1)"),
        ("+1-2 Plus", "'+1-2 Plus"),
        ("-1+cmd", "'-1+cmd"),
        ("\tTab", "'\tTab"),
        ("-", "-"),
        ("-1.5", "-1.5"),
        ("7,50", "7,50"),
        ("Ada Lovelace", "Ada Lovelace"),
        (f"a{ESCAPES}b", "a[2J[1;1Hall 40 submissions gradedb"),
        (3.5, 3.5),
    ],
)
def test_spreadsheet_cells_never_start_a_formula(value, cell):
    assert csv_cell(value) == cell


def row(student_id: str, name: str, message: str = "") -> GradeRow:
    return GradeRow(student_id, name, "graded", 2.0, 3.0, message, "", 1.0, None, {"tests": []})


def test_the_moodle_worksheet_neutralises_names_and_still_matches_every_student(tmp_path):
    template = tmp_path / "Grades.csv"
    header = ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade", "Feedback comments"]
    people = [("12", "=2+5+cmd Mallory"), ("13", "@SUM(1+1)"), ("14", "+1-2 Plus")]
    lines = [format_line(header, ",")]
    lines += [
        format_line([f"Participant {pid}", name, "x@example.org", "Submitted", "", "3,00", ""], ",")
        for pid, name in people
    ]
    template.write_text("".join(lines))
    out = tmp_path / "worksheet.csv"
    warnings = write_worksheet([row(pid, name) for pid, name in people], out, WorksheetSettings(template=template))
    assert warnings == []
    table = list(csv.reader(io.StringIO(out.read_text())))
    assert [r[0] for r in table[1:]] == ["Participant 12", "Participant 13", "Participant 14"]  # Moodle's key
    assert [r[4] for r in table[1:]] == ["2.00"] * 3  # every grade filled in
    assert not any(cell.startswith(("=", "+", "@")) for r in table for cell in r)
