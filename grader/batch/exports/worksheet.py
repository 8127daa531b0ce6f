"""Moodle's offline grading worksheet (``mod/assign/feedback/offline`` in Moodle's source): grades back into an
assignment.

Moodle's importer finds its columns by *exact* header text in the uploading user's language (Identifier,
Grade, Last modified (grade), and the feedback comments column), reads the participant id after the
``Participant `` prefix, skips a row whose grade is empty, negative or above the maximum, and ignores every
other column. Two ways to write one:

- from scratch (English headers, the column order Moodle downloads in):

      Identifier,"Full name","Email address",Status,Grade,"Maximum grade","Grade can be changed",...
      "Participant 1234567","Max Mustermann",,"Submitted for grading",7.50,10.00,Yes,"Monday, 3 June 2024, ...

  "Last modified (grade)" is ``-``: new grades import; a grade already set in Moodle is kept unless the
  uploader ticks "Allow updating records that have been modified more recently in Moodle".
- by filling a worksheet downloaded from Moodle (``template``): its headers (in any language), rows,
  order and other cells are kept; Grade is scaled to the row's "Maximum grade", comments are filled in.

Grades are written with two decimals, with ``.`` or, for German locales, ``,``. A submission whose grading
failed in the grader (status ``error``) gets no grade, so nothing wrong is uploaded.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from grader.batch import moodle
from grader.batch.gradebook import GradeRow
from grader.common.files import write_text
from grader.common.text import csv_cell, one_line
from grader.errors import GraderError

HEADERS = [
    "Identifier",
    "Full name",
    "Email address",
    "Status",
    "Grade",
    "Maximum grade",
    "Grade can be changed",
    "Last modified (submission)",
    "Last modified (grade)",
    "Feedback comments",
]
# Header texts of a downloaded worksheet, English (current and older) and German.
GRADE_HEADERS = {"Grade", "Bewertung"}
MAX_HEADERS = {"Maximum grade", "Maximum Grade", "Bestwertung"}
COMMENT_HEADERS = {"Feedback comments", "Feedback als Kommentar"}
ID_HEADERS = {"Identifier", "ID"}


class WorksheetSettings(BaseModel):
    delimiter: Literal[",", ";"] = Field(",", description="Field separator (Moodle's upload form lets you pick).")
    decimal_comma: bool = Field(False, description="Write 7,50 instead of 7.50 (German locales).")
    template: Path | None = Field(None, description="A worksheet downloaded from Moodle, to fill in.")


def write_worksheet(rows: Iterable[GradeRow], path: Path, settings: WorksheetSettings) -> list[str]:
    """Write the worksheet to ``path``; return warnings (students that cannot be mapped, etc.)."""
    if settings.template:
        text, warnings = _fill_template(rows, settings)
    else:
        text, warnings = _from_scratch(rows, settings)
    write_text(path, text)
    return warnings


def _from_scratch(rows: Iterable[GradeRow], settings: WorksheetSettings) -> tuple[str, list[str]]:
    lines, skipped = [format_line(HEADERS, settings.delimiter)], []
    for r in rows:
        if not r.student_id.isdigit():
            skipped.append(r.student_id)
            continue
        cells = [
            moodle.identifier(r.student_id),
            r.name,
            "",
            "Submitted for grading",
            _grade(r, r.max_score, settings),
            _number(r.max_score, settings),
            "Yes",
            _date(r.submitted),
            "-",
            comments(r),
        ]
        lines.append(format_line(cells, settings.delimiter))
    return "".join(lines), _skipped_warning(skipped)


def _fill_template(rows: Iterable[GradeRow], settings: WorksheetSettings) -> tuple[str, list[str]]:
    table = read_csv(settings.template)
    header, body = table[0], table[1:]
    col = {name: _column(header, names, settings.template) for name, names in _WANTED.items()}
    graded = {r.student_id: r for r in rows}
    for cells in body:
        pid = moodle.pid_from_identifier(cells[col["id"]]) if len(cells) > col["id"] else None
        r = graded.pop(pid, None) if pid else None
        if r is None:
            continue
        maximum = _parse_number(cells[col["max"]]) if col["max"] is not None else None
        cells[col["grade"]] = _grade(r, maximum or r.max_score, settings)
        if col["comments"] is not None:
            cells[col["comments"]] = comments(r)
    warnings = [f"not in the downloaded worksheet, so not uploaded: {', '.join(sorted(graded))}"] if graded else []
    return "".join(format_line(cells, settings.delimiter) for cells in table), warnings


_WANTED = {"id": ID_HEADERS, "grade": GRADE_HEADERS, "max": MAX_HEADERS, "comments": COMMENT_HEADERS}


def _column(header: list[str], names: set[str], path: Path) -> int | None:
    for i, h in enumerate(header):
        if h.strip() in names:
            return i
    if names in (ID_HEADERS, GRADE_HEADERS):
        raise GraderError(f"{path}: no {' / '.join(sorted(names))} column; is this Moodle's grading worksheet?")
    return None


def read_csv(path: Path) -> list[list[str]]:
    """A CSV file (UTF-8, with or without BOM; ``,`` or ``;``) as rows of cells."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise GraderError(f"{path}: cannot read the worksheet ({exc})") from None
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    table = [row for row in csv.reader(io.StringIO(text), delimiter=delimiter) if row]
    if not table:
        raise GraderError(f"{path}: the worksheet is empty")
    return table


def format_line(cells: list[str], delimiter: str) -> str:
    """One CSV line the way Moodle writes it: a cell is quoted when it holds a space, a separator or a quote; a
    cell a spreadsheet would evaluate is neutralised (:func:`grader.common.text.csv_cell`)."""
    out = []
    for cell in map(csv_cell, cells):
        if any(ch in cell for ch in (" ", delimiter, '"', "\n", "\r", ",", ";")):
            cell = '"' + cell.replace('"', '""') + '"'
        out.append(cell)
    return delimiter.join(out) + "\n"


def comments(r: GradeRow) -> str:
    """The feedback comment: the points per question, and why a submission could not be graded."""
    parts = [f"{q['name']}: {q['score']:.4g}/{q['max_score']:.4g}" for q in r.questions]
    summary = "; ".join(parts)
    if r.status != "graded":
        summary = f"Not graded normally: {one_line(r.message, 300)}" + (f" ({summary})" if summary else "")
    return summary


def _grade(r: GradeRow, maximum: float, settings: WorksheetSettings) -> str:
    if r.status == "error" or r.max_score <= 0:
        return ""
    return _number(r.score / r.max_score * maximum, settings)


def _number(x: float, settings: WorksheetSettings) -> str:
    text = f"{x:.2f}"
    return text.replace(".", ",") if settings.decimal_comma else text


def _parse_number(cell: str) -> float | None:
    try:
        return float(cell.strip().replace(",", "."))
    except ValueError:
        return None


def _date(ts: float | None) -> str:
    """A time the way Moodle's English pack prints it: ``Monday, 3 June 2024, 10:15 AM``."""
    if not ts:
        return "-"
    t = time.localtime(ts)
    return time.strftime(f"%A, {t.tm_mday} %B %Y, {(t.tm_hour % 12) or 12}:%M %p", t)


def _skipped_warning(skipped: list[str]) -> list[str]:
    if not skipped:
        return []
    few = ", ".join(skipped[:5]) + (", ..." if len(skipped) > 5 else "")
    return [f"{len(skipped)} student id(s) are not Moodle participant numbers and were left out: {few}"]
