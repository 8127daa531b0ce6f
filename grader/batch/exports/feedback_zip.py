"""Moodle's "Upload feedback files in a zip": each student's HTML report where the importer maps it back to them."""

from __future__ import annotations

import zipfile
from pathlib import Path

from grader.batch import moodle
from grader.batch.gradebook import Gradebook
from grader.common.files import atomic_write


def write_feedback_zip(gb: Gradebook, reports: Path, path: Path) -> list[str]:
    """Each student's HTML report at the path Moodle's feedback importer maps to their participant id."""
    info = gb.assignment()
    filename = f"{info.id if info else 'assignment'}-feedback.html"
    skipped, missing = [], []
    with atomic_write(path, "wb") as file, zipfile.ZipFile(file, "w", zipfile.ZIP_DEFLATED) as zf:
        for r in gb.rows():
            report = reports / f"{r.student_id}.html"
            if not r.student_id.isdigit():
                skipped.append(r.student_id)
            elif not report.is_file():
                missing.append(r.student_id)
            else:
                zf.write(report, moodle.feedback_path(r.student_id, r.name, filename))
    warnings = [f"not Moodle participant ids, left out: {', '.join(skipped[:5])}"] if skipped else []
    return warnings + ([f"no report found for: {', '.join(missing)}"] if missing else [])
