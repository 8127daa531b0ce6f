"""Grades and feedback out of the gradebook, in the formats LMSs and CI systems read.

Every export reads the students' current attempts from :class:`~grader.batch.gradebook.Gradebook` one at a time
and writes its file atomically (a temporary file, then a rename):

=================  ==================================  =============================================
format             file (in ``dest``)                  what it is
=================  ==================================  =============================================
csv                gradebook.csv                       one row per student, one column per question
moodle-worksheet   moodle-worksheet.csv                Moodle's offline grading worksheet
moodle-feedback    moodle-feedback.zip                 "Upload feedback files in a zip": each report
                                                       under ``<name>_<pid>_assignfeedback_file/``
canvas             canvas.csv                          Canvas gradebook import (Student, ID, ..., Section)
gradescope         gradescope/<id>/results.json        Gradescope's results.json, per student
junit              junit.xml                           a testsuite per student, a testcase per test
=================  ==================================  =============================================

Moodle exports need Moodle participant ids; other students are left out with a warning.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, Field

from grader.batch.exports import feedback_zip, gradescope, junit, tables, worksheet
from grader.batch.exports.worksheet import WorksheetSettings
from grader.batch.gradebook import Gradebook


class ExportSettings(BaseModel):
    worksheet: WorksheetSettings = Field(default_factory=WorksheetSettings, description="Moodle worksheet options.")
    canvas_column: str | None = Field(None, description="Canvas assignment column, e.g. 'Blatt 3 (48213)'.")


@dataclass
class Exported:
    format: str
    path: Path
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Format:
    """One export: its file (or folder) name in the destination, and how it is written (returns warnings)."""

    file: str
    write: Callable[[Gradebook, Path, Path, ExportSettings], list[str]]  # (gb, path, reports folder, settings)


FORMATS: dict[str, Format] = {
    "csv": Format("gradebook.csv", lambda gb, path, reports, s: tables.write_csv(gb, path)),
    "moodle-worksheet": Format(
        "moodle-worksheet.csv", lambda gb, path, reports, s: worksheet.write_worksheet(gb.rows(), path, s.worksheet)
    ),
    "moodle-feedback": Format(
        "moodle-feedback.zip", lambda gb, path, reports, s: feedback_zip.write_feedback_zip(gb, reports, path)
    ),
    "canvas": Format("canvas.csv", lambda gb, path, reports, s: tables.write_canvas(gb, path, s.canvas_column)),
    "gradescope": Format("gradescope", lambda gb, path, reports, s: gradescope.write_gradescope(gb, path)),
    "junit": Format("junit.xml", lambda gb, path, reports, s: junit.write_junit(gb, path)),
}


def export(
    gb: Gradebook, reports: Path, dest: Path, formats: Iterable[str], settings: ExportSettings
) -> list[Exported]:
    """Write each of ``formats`` into ``dest``; ``reports`` holds the rendered ``<id>.html`` reports."""
    dest.mkdir(parents=True, exist_ok=True)
    done = []
    for name in formats:
        fmt = FORMATS[name]
        path = dest / fmt.file
        done.append(Exported(name, path, fmt.write(gb, path, reports, settings)))
    return done
