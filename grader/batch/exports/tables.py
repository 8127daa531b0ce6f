"""Grades as spreadsheets: ``gradebook.csv`` (one column per question) and Canvas's gradebook import."""

from __future__ import annotations

import csv
from pathlib import Path

from grader.batch.gradebook import Gradebook
from grader.common.files import atomic_write
from grader.common.text import csv_cell, one_line


def write_csv(gb: Gradebook, path: Path) -> list[str]:
    """One row per student: id, status, score, max score, one column per question, name, message."""
    info = gb.assignment()
    functions = [f for f, _ in info.questions] if info else []
    with atomic_write(path, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student_id", "status", "score", "max_score", *functions, "name", "message"])
        for r in gb.rows():
            by_name = {q["name"]: q["score"] for q in r.questions}
            points = (f"{by_name.get(fn, 0.0):.4g}" for fn in functions)
            score, max_score = f"{r.score:.4g}", f"{r.max_score:.4g}"
            row = [r.student_id, r.status, score, max_score, *points, r.name, one_line(r.message, 500)]
            writer.writerow([csv_cell(cell) for cell in row])
    return []


def write_canvas(gb: Gradebook, path: Path, column: str | None) -> list[str]:
    """Canvas's gradebook import: a ``Points Possible`` row, then one row per student."""
    info = gb.assignment()
    column = column or (info.title if info else "Assignment")
    with atomic_write(path, newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column])
        writer.writerow(["Points Possible", "", "", "", "", f"{info.max_score:.4g}" if info else ""])
        for r in gb.rows():
            score = "" if r.status == "error" else f"{r.score:.4g}"
            writer.writerow([csv_cell(cell) for cell in (r.name or r.student_id, r.student_id, "", "", "", score)])
    return []
