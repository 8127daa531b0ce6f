"""The files of an output folder besides the gradebook: each student's result and reports, and the class files.

::

    OUT/gradebook.sqlite        the source of truth (grader.batch.gradebook)
    OUT/results/<id>.json       each current attempt, Gradescope-shaped; written last, so its presence means done
    OUT/reports/<id>.html, .md  each student's feedback
    OUT/gradebook.csv           the class as a spreadsheet: the only gradebook.csv (``export --format csv`` too)
    OUT/summary.html            the class summary (grader.batch.summary)
    OUT/exports/                the LMS and CI exports (grader.batch.exports), each as ``grader export`` wrote it

The class files are derived from the gradebook and written again, all of them, whenever a grade changed since
they were last written (the gradebook remembers the latest attempt they include): a ``--regrade`` leaves no
export with old grades. An export is rewritten with the options it was last written with (``grader export``
stores them in the gradebook); one that cannot be rewritten (say its Moodle worksheet template is gone) is
renamed to ``<name>.stale`` with a warning, so it cannot be uploaded by mistake.

Nothing here imports torch: ``grader export`` and a rerun with nothing to grade stay fast.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from pathlib import Path

from pydantic import ValidationError

from grader.batch.exports import FORMATS, Exported, ExportSettings, export
from grader.batch.exports.tables import write_csv
from grader.batch.gradebook import Gradebook
from grader.batch.summary import write_summary
from grader.errors import GraderError
from grader.grading.report import render_reports
from grader.grading.results import SubmissionResult

RESULTS_DIR = "results"
REPORTS_DIR = "reports"
EXPORTS_DIR = "exports"
GRADEBOOK = "gradebook.csv"
MOODLE_EXPORTS = ("moodle-worksheet", "moodle-feedback")
WRITTEN_FROM = "class_files_from"  # meta key: the latest attempt the class files include
SETTINGS_KEY = "export:{}"  # meta key per format: the ExportSettings it was last exported into OUT/exports with


def write_outputs(result: SubmissionResult, out: Path) -> None:
    """The student's reports, then (atomically, last) ``results/<id>.json``: its presence means both are done."""
    (out / RESULTS_DIR / f"{result.student_id}.json").unlink(missing_ok=True)
    render_reports(result, out / REPORTS_DIR)
    result.save(out / RESULTS_DIR)


def render_missing(gb: Gradebook, out: Path) -> int:
    """Write the files of current attempts whose ``results/<id>.json`` is missing; return how many."""
    missing = [sid for sid in gb.current_ids() if not (out / RESULTS_DIR / f"{sid}.json").is_file()]
    for sid in missing:
        write_outputs(SubmissionResult.from_gradescope(json.loads(gb.current_result(sid))), out)
    return len(missing)


def render_totals(gb: Gradebook, out: Path) -> int:
    """With manual questions: every student's reports again, with the TAs' points, rubric items and comments
    (:mod:`grader.batch.totals`); return how many. ``results/<id>.json`` keeps the automatic attempt."""
    if not gb.has_manual():
        return 0
    count = 0
    for row in gb.rows():
        render_reports(SubmissionResult.from_gradescope(row.result), out / REPORTS_DIR)
        count += 1
    return count


def unreviewed_warning(gb: Gradebook, out: Path) -> str:
    """A one-line warning while answers to manual questions are not reviewed ('' when all are)."""
    left = gb.unreviewed() if gb.has_manual() else 0
    if not left:
        return ""
    return f"{left} answer(s) to manual questions not reviewed yet (they count 0 points): grader review {out}"


def class_files_stale(gb: Gradebook, out: Path) -> bool:
    """Whether a grade changed since the class files were last written (or they are missing)."""
    return gb.get_meta(WRITTEN_FROM) != gb.revision() or not (out / GRADEBOOK).is_file()


def write_class_files(gb: Gradebook, out: Path, also: Iterable[str], settings: ExportSettings) -> list[Exported]:
    """``gradebook.csv``, ``summary.html``, and every export in ``OUT/exports`` again, plus the formats ``also``
    (the Moodle ones for a Moodle download) with ``settings`` where they were never exported before; with manual
    questions, the reports again first (the feedback zip holds them)."""
    render_totals(gb, out)
    write_csv(gb, out / GRADEBOOK)
    write_summary(gb, out)
    done = refresh_exports(gb, out, also, settings)
    gb.set_meta(WRITTEN_FROM, gb.revision())
    return done


def refresh_exports(gb: Gradebook, out: Path, also: Iterable[str], settings: ExportSettings) -> list[Exported]:
    """Rewrite every export that exists in ``OUT/exports`` and each of ``also``, each with its stored options."""
    dest = out / EXPORTS_DIR
    done = []
    legacy = dest / FORMATS["csv"].file  # written there by older graders: a second gradebook.csv
    if legacy.is_file():
        legacy.unlink()
        done.append(Exported("csv", out / GRADEBOOK, [f"removed {legacy}: the class's CSV is {out / GRADEBOOK}"]))
    wanted = set(also)
    for name, fmt in FORMATS.items():
        if name == "csv" or not (name in wanted or (dest / fmt.file).exists()):
            continue
        try:
            done += export(gb, out / REPORTS_DIR, dest, [name], stored_settings(gb, name) or settings)
        except (GraderError, OSError) as exc:
            done.append(_mark_stale(dest / fmt.file, name, exc))
    return done


def export_into(gb: Gradebook, out: Path, formats: Iterable[str], settings: ExportSettings) -> list[Exported]:
    """``grader export`` into the output folder: ``csv`` is ``OUT/gradebook.csv``, the others go into
    ``OUT/exports``; each format's options are stored, so that a later grade rewrites it the same way."""
    done = []
    for name in formats:
        dest = out if name == "csv" else out / EXPORTS_DIR
        done += export(gb, out / REPORTS_DIR, dest, [name], settings)
        if name != "csv":
            gb.set_meta(SETTINGS_KEY.format(name), settings.model_dump_json())
    return done


def stored_settings(gb: Gradebook, name: str) -> ExportSettings | None:
    """The options ``name`` was last exported into ``OUT/exports`` with (None if never, or unreadable)."""
    text = gb.get_meta(SETTINGS_KEY.format(name))
    try:
        return ExportSettings.model_validate_json(text) if text else None
    except ValidationError:
        return None


def _mark_stale(path: Path, name: str, exc: Exception) -> Exported:
    """Move an export that could not be rewritten out of the way, loudly: it holds grades that changed."""
    stale = path.with_name(path.name + ".stale")
    if stale.is_dir():
        shutil.rmtree(stale)
    if path.exists():
        path.replace(stale)
    warning = (
        f"STALE: could not write it again with the new grades ({exc}); the old one is now {stale}. "
        f"Run 'grader export OUT --format {name}' with its options again"
    )
    return Exported(name, stale, [warning])
