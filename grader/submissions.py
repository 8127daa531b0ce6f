"""Finding the submissions in a folder: one notebook per student, keyed by a student id.

Layouts: a folder of ``<id>.ipynb`` files, or a folder of ``<id>/`` folders each holding the student's
notebook. In a flat folder, any other file is a submission too (a ``.py`` handed in instead of a
notebook gets a clear "invalid" result), except the folder's own documentation and data:
``README*`` and ``.md``, ``.toml``, ``.csv``, ``.yml`` files are skipped. In a student folder with several
notebooks, the one named like the assignment's notebook wins, else the most recently modified one (the
choice is reported in the result's notes).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grader.errors import GraderError

NOT_SUBMISSIONS = {".md", ".toml", ".csv", ".yml", ".yaml"}


@dataclass(frozen=True)
class Submission:
    student_id: str
    notebook: Path
    note: str = ""


def find_submissions(folder: Path, notebook_name: str) -> list[Submission]:
    """All submissions under ``folder``, sorted by student id."""
    if not folder.is_dir():
        raise GraderError(f"{folder}: not a folder of submissions")
    found: list[Submission] = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or entry.is_symlink():
            continue
        if entry.is_file() and (entry.suffix in NOT_SUBMISSIONS or entry.name.upper().startswith("README")):
            continue
        if entry.is_file():  # whatever else it is: a wrong file type gets a clear per-student message
            found.append(Submission(entry.stem, entry))
        elif entry.is_dir():
            found.append(_from_student_folder(entry, notebook_name))
    return found


def _from_student_folder(folder: Path, notebook_name: str) -> Submission:
    notebooks = sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts and not p.is_symlink())
    if not notebooks:
        return Submission(folder.name, folder / "(no notebook)", "no .ipynb file in the student's folder")
    if len(notebooks) == 1:
        return Submission(folder.name, notebooks[0])
    named = [p for p in notebooks if p.name == notebook_name]
    chosen = named[0] if named else max(notebooks, key=lambda p: p.stat().st_mtime)
    rule = f"named {notebook_name}" if named else "the most recently modified"
    others = ", ".join(p.name for p in notebooks if p != chosen)
    return Submission(
        folder.name, chosen, f"{len(notebooks)} notebooks found; graded {chosen.name} ({rule}); ignored {others}"
    )
