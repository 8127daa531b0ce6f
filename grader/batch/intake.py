"""Finding the submissions: one notebook per student, keyed by a student id.

Sources (:func:`load_submissions`):
- a Moodle "Download all submissions" zip, or that download unpacked, in any of Moodle's three layouts
  (:mod:`grader.batch.moodle`): the student id is the participant number, the full name is kept for display;
- a folder of ``<id>.ipynb`` files: any other file is a submission too (a ``.py`` handed in instead of a
  notebook gets a clear "invalid" result), except the folder's own documentation and data: ``README*`` and
  ``.md``, ``.toml``, ``.csv``, ``.yml`` files are skipped;
- a folder of ``<id>/`` folders, each holding the student's notebook.

Zips are unpacked with :mod:`grader.batch.safezip`; refused entries are reported, and a student whose notebook was
refused gets that reason as their result.

One student, several notebooks: the one named like the assignment's notebook wins, else the most recently
modified one, else (several equally new) the student is not graded and told why. The same id found twice
(``alice.ipynb`` and ``alice/``; one participant id under two names) is not graded either: a human decides
(status ``error``, so no grade is exported and the next run tries again).
A notebook over ``max_notebook_bytes`` is refused by its size, before anything reads it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

from pydantic import BaseModel, Field

from grader.batch import moodle
from grader.batch.safezip import UnpackLimits, unpack
from grader.common.text import one_line, printable
from grader.errors import GraderError
from grader.grading.results import SubmissionStatus

NOT_SUBMISSIONS = {".md", ".toml", ".csv", ".yml", ".yaml"}
UNPACKED_MARK = ".grader-unpacked"  # in a folder the grader unpacked a zip into (and may empty again)


class IntakeLimits(BaseModel):
    max_notebook_bytes: int = Field(100_000_000, description="A larger notebook is refused unread.")
    unpack: UnpackLimits = Field(default_factory=UnpackLimits, description="Limits for unpacking a zip.")


@dataclass(frozen=True)
class Submission:
    student_id: str
    notebook: Path
    note: str = ""
    name: str = ""
    problem: str = ""  # set when there is nothing to grade; the student gets this as their result's message
    status: SubmissionStatus = "invalid"  # the result's status with a problem: 'error' when a human must decide

    @property
    def gradable(self) -> bool:
        return not self.problem


@dataclass
class Intake:
    """What :func:`load_submissions` found: the submissions, the layout, and what was refused or skipped."""

    submissions: list[Submission]
    layout: str
    root: Path
    issues: list[str] = field(default_factory=list)


def load_submissions(source: Path, notebook_name: str, unpack_to: Path, limits: IntakeLimits | None = None) -> Intake:
    """Every submission in ``source`` (a zip, a Moodle download folder, or a plain folder), by student id."""
    limits = limits or IntakeLimits()
    issues: list[str] = []
    refused: dict[tuple[str, str] | None, list[str]] = {}
    if source.is_file():
        _clear(unpack_to)
        report = unpack(source, unpack_to, limits.unpack)
        for r in report.refused:
            issues.append(f"{r.path}: refused when unpacking: {r.reason}")
            refused.setdefault(moodle.participant_of(r.path), []).append(f"{r.path}: {r.reason}")
        source = unpack_to
    if not source.is_dir():
        raise GraderError(f"{source}: not a folder or zip of submissions")
    if moodle.is_moodle_download(source) or any(refused):
        people, skipped = moodle.collect(source)
        for key in filter(None, refused):  # a participant whose every file was refused still gets a result
            people.setdefault(key[0], moodle.Participant(key[0], {key[1]}))
        subs = [_from_participant(p, notebook_name, _refused_of(refused, p)) for p in people.values()]
        layout = "moodle"
    else:
        subs, skipped = find_submissions(source, notebook_name), []
        layout = "folder"
    subs = [_printable(_check_size(s, limits.max_notebook_bytes)) for s in subs]
    return Intake(sorted(subs, key=_order), layout, source, [one_line(i, 1000) for i in issues + skipped])


def _printable(sub: Submission) -> Submission:
    """File names end up in notes and problems: no control characters from them reach a terminal or a file."""
    return replace(sub, note=printable(sub.note), problem=printable(sub.problem))


def _clear(folder: Path) -> None:
    """Empty ``folder`` for a fresh unpack; refuse to delete a folder the grader did not make."""
    if folder.is_dir() and any(folder.iterdir()) and not (folder / UNPACKED_MARK).is_file():
        raise GraderError(f"{folder}: exists and was not unpacked by the grader; move it away or use another --out")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / UNPACKED_MARK).touch()


def find_submissions(folder: Path, notebook_name: str) -> list[Submission]:
    """All submissions in a plain folder (``<id>.ipynb`` files or ``<id>/`` folders), sorted by student id."""
    if not folder.is_dir():
        raise GraderError(f"{folder}: not a folder of submissions")
    found: dict[str, list[Submission]] = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or entry.is_symlink():
            continue
        if entry.is_file() and (entry.suffix in NOT_SUBMISSIONS or entry.name.upper().startswith("README")):
            continue
        if entry.is_file():  # whatever else it is: a wrong file type gets a clear per-student message
            sub = Submission(one_line(entry.stem), entry)
        elif entry.is_dir():
            sub = _from_student_folder(entry, notebook_name)
        else:
            continue
        found.setdefault(sub.student_id, []).append(sub)
    return sorted((_one_of(subs) for subs in found.values()), key=_order)


def _one_of(subs: list[Submission]) -> Submission:
    if len(subs) == 1:
        return subs[0]
    places = ", ".join(s.notebook.name if s.notebook.is_file() else s.notebook.parent.name + "/" for s in subs)
    why = f"student id {subs[0].student_id} found {len(subs)} times ({places}); keep one"
    return replace(_problem(subs[0], why), status="error")


def _from_student_folder(folder: Path, notebook_name: str) -> Submission:
    files = [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()]
    files = [p for p in files if ".ipynb_checkpoints" not in p.relative_to(folder).parts]
    return choose_notebook(one_line(folder.name), files, notebook_name, folder / "(no notebook)")


def _from_participant(p: moodle.Participant, notebook_name: str, refused: list[str]) -> Submission:
    name = one_line(sorted(p.names)[0]) if p.names else ""
    placeholder = p.files[0] if p.files else Path(f"{name}_{p.pid}_assignsubmission_file")
    sub = choose_notebook(p.pid, p.files, notebook_name, placeholder, name)
    if len(p.names) > 1:
        names = " and ".join(repr(n) for n in sorted(p.names))
        why = f"participant {p.pid} appears under two names ({names}); keep one"
        return replace(_problem(sub, why), status="error")
    extra = [f"ignored {x}" for x in p.ignored] + [f"refused when unpacking: {r}" for r in refused]
    if sub.problem and refused:
        return _problem(sub, f"{sub.problem}; refused when unpacking: {'; '.join(refused)}")
    return replace(sub, note="; ".join(filter(None, [sub.note, *extra])))


def _refused_of(refused: dict, p: moodle.Participant) -> list[str]:
    return [msg for key, msgs in refused.items() if key and key[0] == p.pid for msg in msgs]


def choose_notebook(
    student_id: str, files: list[Path], notebook_name: str, placeholder: Path, name: str = ""
) -> Submission:
    """The student's notebook among ``files``: named like the assignment's, else the newest, else a problem."""
    notebooks = sorted(p for p in files if p.suffix == ".ipynb")
    if not notebooks:
        others = ", ".join(moodle.display_name(p) for p in files[:5])
        why = f"no .ipynb file among the student's files{f' (found {others})' if others else ''}"
        return Submission(student_id, placeholder, why, name, why)
    if len(notebooks) == 1:
        return Submission(student_id, notebooks[0], name=name)
    named = [p for p in notebooks if moodle.display_name(p) == notebook_name]
    candidates = named or notebooks
    newest = max(p.stat().st_mtime for p in candidates)
    latest = [p for p in candidates if p.stat().st_mtime == newest]
    listed = ", ".join(moodle.display_name(p) for p in notebooks)
    if len(latest) == 1:
        rule = f"named {notebook_name}" if named else "the most recently modified"
        if len(named) > 1:
            rule += ", the most recently modified of those"
        note = f"{len(notebooks)} notebooks found ({listed}); graded {moodle.display_name(latest[0])} ({rule})"
        return Submission(student_id, latest[0], note, name)
    which = f"{len(named)} named {notebook_name}" if named else f"none named {notebook_name}"
    why = f"{len(notebooks)} notebooks ({listed}), {which}, and none newer than the others; keep one"
    return Submission(student_id, latest[0], why, name, why)


def _check_size(sub: Submission, max_bytes: int) -> Submission:
    if sub.problem or not sub.notebook.is_file():
        return sub
    size = sub.notebook.stat().st_size
    if size > max_bytes:
        return _problem(sub, f"{moodle.display_name(sub.notebook)}: {size} bytes, more than the limit of {max_bytes}")
    return sub


def _problem(sub: Submission, why: str) -> Submission:
    return replace(sub, note=why, problem=why)


def _order(sub: Submission) -> tuple:
    sid = sub.student_id
    return (0, int(sid), "") if sid.isdigit() else (1, 0, sid)
