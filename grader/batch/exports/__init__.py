"""Grades and feedback out of the gradebook, in the formats LMSs and CI systems read.

Every export reads the students' current attempts from :class:`~grader.batch.gradebook.Gradebook` one at a time
and writes its file atomically (a temporary file, then a rename):

=================  ==================================  =============================================
format             file (in ``dest``)                  what it is
=================  ==================================  =============================================
csv                gradebook.csv                       one row per student, one column per question
moodle-worksheet   moodle-worksheet.csv                Moodle's offline grading worksheet (worksheet.py)
moodle-feedback    moodle-feedback.zip                 "Upload feedback files in a zip": each report
                                                       under ``<name>_<pid>_assignfeedback_file/``
canvas             canvas.csv                          Canvas gradebook import (Student, ID, ..., Section)
gradescope         gradescope/<id>/results.json        Gradescope's results.json, per student
junit              junit.xml                           a testsuite per student, a testcase per test
=================  ==================================  =============================================

Moodle exports need Moodle participant ids; other students are left out with a warning.
"""

from __future__ import annotations

import csv
import json
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree as ET

from pydantic import BaseModel, Field

from grader.batch import moodle
from grader.batch.exports.worksheet import WorksheetSettings, write_worksheet
from grader.batch.gradebook import Gradebook, GradeRow

FORMATS = ("csv", "moodle-worksheet", "moodle-feedback", "canvas", "gradescope", "junit")
FILES = {
    "csv": "gradebook.csv",
    "moodle-worksheet": "moodle-worksheet.csv",
    "moodle-feedback": "moodle-feedback.zip",
    "canvas": "canvas.csv",
    "gradescope": "gradescope",
    "junit": "junit.xml",
}
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class ExportSettings(BaseModel):
    worksheet: WorksheetSettings = Field(default_factory=WorksheetSettings, description="Moodle worksheet options.")
    canvas_column: str | None = Field(None, description="Canvas assignment column, e.g. 'Blatt 3 (48213)'.")


@dataclass
class Exported:
    format: str
    path: Path
    warnings: list[str] = field(default_factory=list)


def export(
    gb: Gradebook, reports: Path, dest: Path, formats: Iterable[str], settings: ExportSettings
) -> list[Exported]:
    """Write each of ``formats`` into ``dest``; ``reports`` holds the rendered ``<id>.html`` reports."""
    dest.mkdir(parents=True, exist_ok=True)
    done = []
    for fmt in formats:
        path = dest / FILES[fmt]
        if fmt == "csv":
            warnings = write_csv(gb, path)
        elif fmt == "moodle-worksheet":
            warnings = write_worksheet(gb.rows(), path, settings.worksheet)
        elif fmt == "moodle-feedback":
            warnings = write_feedback_zip(gb, reports, path)
        elif fmt == "canvas":
            warnings = write_canvas(gb, path, settings.canvas_column)
        elif fmt == "gradescope":
            warnings = write_gradescope(gb, path)
        else:
            warnings = write_junit(gb, path)
        done.append(Exported(fmt, path, warnings))
    return done


def write_csv(gb: Gradebook, path: Path) -> list[str]:
    """One row per student: id, status, score, max score, one column per question, name, message."""
    info = gb.assignment()
    functions = [f for f, _ in info.questions] if info else []
    with _atomic(path, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student_id", "status", "score", "max_score", *functions, "name", "message"])
        for r in gb.rows():
            by_name = {q["name"]: q["score"] for q in r.questions}
            points = (f"{by_name.get(fn, 0.0):.4g}" for fn in functions)
            score, max_score = f"{r.score:.4g}", f"{r.max_score:.4g}"
            writer.writerow([r.student_id, r.status, score, max_score, *points, r.name, r.message])
    return []


def write_feedback_zip(gb: Gradebook, reports: Path, path: Path) -> list[str]:
    """Each student's HTML report at the path Moodle's feedback importer maps to their participant id."""
    info = gb.assignment()
    filename = f"{info.id if info else 'assignment'}-feedback.html"
    skipped, missing = [], []
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for r in gb.rows():
            report = reports / f"{r.student_id}.html"
            if not r.student_id.isdigit():
                skipped.append(r.student_id)
            elif not report.is_file():
                missing.append(r.student_id)
            else:
                zf.write(report, moodle.feedback_path(r.student_id, r.name, filename))
    tmp.replace(path)
    warnings = [f"not Moodle participant ids, left out: {', '.join(skipped[:5])}"] if skipped else []
    return warnings + ([f"no report found for: {', '.join(missing)}"] if missing else [])


def write_canvas(gb: Gradebook, path: Path, column: str | None) -> list[str]:
    """Canvas's gradebook import: a ``Points Possible`` row, then one row per student."""
    info = gb.assignment()
    column = column or (info.title if info else "Assignment")
    with _atomic(path, newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column])
        writer.writerow(["Points Possible", "", "", "", "", f"{info.max_score:.4g}" if info else ""])
        for r in gb.rows():
            score = "" if r.status == "error" else f"{r.score:.4g}"
            writer.writerow([r.name or r.student_id, r.student_id, "", "", "", score])
    return []


def write_gradescope(gb: Gradebook, folder: Path) -> list[str]:
    """``<id>/results.json`` per student, as stored in the gradebook."""
    for r in gb.rows():
        (folder / r.student_id).mkdir(parents=True, exist_ok=True)
        with _atomic(folder / r.student_id / "results.json") as f:
            json.dump(r.result, f, indent=2)
    return []


def write_junit(gb: Gradebook, path: Path) -> list[str]:
    """JUnit XML: a ``testsuite`` per student (score in its properties), a ``testcase`` per test.

    A wrong value or a missing function is a ``failure``; anything else that stopped a test (an exception,
    a timeout, a dead kernel, a notebook that could not run) is an ``error``."""
    info = gb.assignment()
    root = ET.Element("testsuites", name=info.id if info else "grader")
    totals = {"tests": 0, "failures": 0, "errors": 0, "time": 0.0}
    for r in gb.rows():
        suite = _junit_suite(r)
        root.append(suite)
        for key in ("tests", "failures", "errors"):
            totals[key] += int(suite.get(key))
        totals["time"] += r.seconds
    for key, value in totals.items():
        root.set(key, f"{value:.3f}" if key == "time" else str(value))
    with _atomic(path, mode="wb") as f:
        ET.ElementTree(root).write(f, encoding="UTF-8", xml_declaration=True)
    return []


def _junit_suite(r: GradeRow) -> ET.Element:
    tests = [t for q in r.questions for t in q["tests"]]
    failures = sum(t["status"] == "failed" and t.get("kind") in ("wrong", "missing") for t in tests)
    errors = sum(t["status"] == "failed" for t in tests) - failures
    suite = ET.Element(
        "testsuite",
        name=r.student_id,
        tests=str(len(tests)),
        failures=str(failures),
        errors=str(errors),
        skipped="0",
        time=f"{r.seconds:.3f}",
    )
    props = ET.SubElement(suite, "properties")
    for key, value in (("score", r.score), ("max_score", r.max_score), ("status", r.status), ("name", r.name)):
        ET.SubElement(props, "property", name=key, value=_xml_text(str(value)))
    for q in r.questions:
        for t in q["tests"]:
            name = t["name"].split(": ", 1)[-1]
            case = ET.SubElement(suite, "testcase", classname=f"{r.student_id}.{q['name']}", name=_xml_text(name))
            if t["status"] == "failed":
                tag = "failure" if t.get("kind") in ("wrong", "missing") else "error"
                kind = t.get("kind", "wrong")
                ET.SubElement(case, tag, message=_xml_text(t["output"][:200]), type=kind).text = _xml_text(t["output"])
    return suite


def _xml_text(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot hold (student output may contain any)."""
    return _NOT_XML.sub("\ufffd", text)


class _atomic:
    """Open a temporary file next to ``path``; on success, rename it over ``path``."""

    def __init__(self, path: Path, mode: str = "w", newline: str | None = None):
        self.path, self.tmp = path, path.with_name(path.name + ".tmp")
        self.f = open(self.tmp, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": newline}))  # noqa: SIM115

    def __enter__(self):
        return self.f

    def __exit__(self, exc_type, *_):
        self.f.close()
        if exc_type:
            self.tmp.unlink(missing_ok=True)
        else:
            self.tmp.replace(self.path)
