"""Moodle's names for submissions and feedback files (``mod/assign/classes/downloader.php`` and the feedback-zip
importer ``mod/assign/feedback/file`` in Moodle's source).

"Download all submissions" names each student's files after ``<Full name>_<participant id>_<subtype>_<type>``:

    Max Mustermann_1234567_assignsubmission_file/blatt03.ipynb      Moodle >= 4.1, folders (the default)
    Max Mustermann_1234567_assignsubmission_file_/blatt03.ipynb     Moodle 3.1-4.0, folders
    Max Mustermann_1234567_assignsubmission_file_blatt03.ipynb      flat ("download in folders" off)

Students are keyed by the participant id, never by name: Moodle turns ``_`` into spaces and strips
``& < > " ` | ' : \\ /`` from names, so two files of one student always share the id, not always the name.
A single wrapping folder (someone zipped the unpacked download) is looked through.

The same naming, with ``assignfeedback_file``, is what "Upload feedback files in a zip" maps back to each
participant: :func:`feedback_path`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

PART = re.compile(
    r"^(?P<name>[^_]*)_(?P<pid>\d+)_(?P<subtype>assign(?:submission|feedback))_(?P<type>[a-z0-9]+)_?(?P<rest>.*)$"
)
IGNORED_NAMES = {"__MACOSX", ".ipynb_checkpoints", ".DS_Store"}
# PARAM_FILE's characters, which Moodle removes from file names, plus the separators the importer splits on.
_UNSAFE_IN_NAME = re.compile(r"[\x00-\x1f&<>\"`|':\\/_]")


@dataclass
class Participant:
    """Everything one participant handed in: their files, and every name those files were found under."""

    pid: str
    names: set[str] = field(default_factory=set)
    files: list[Path] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def content_root(folder: Path) -> Path:
    """``folder``, or the single folder inside it when that is all it holds (a wrapped download)."""
    entries = [e for e in folder.iterdir() if e.name not in IGNORED_NAMES and not e.name.startswith(".")]
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink() and not PART.match(entries[0].name):
        return entries[0]
    return folder


def is_moodle_download(folder: Path) -> bool:
    """Whether any entry of ``folder`` is named the way Moodle names submissions."""
    return any(PART.match(e.name) for e in content_root(folder).iterdir())


def collect(folder: Path) -> tuple[dict[str, Participant], list[str]]:
    """Group a Moodle download by participant id; also return what was skipped and why."""
    root = content_root(folder)
    people: dict[str, Participant] = {}
    issues: list[str] = []
    for entry in sorted(root.iterdir()):
        if entry.name in IGNORED_NAMES or entry.name.startswith("."):
            continue
        m = PART.match(entry.name)
        if m is None:
            issues.append(f"{entry.name}: not named like a Moodle submission (name_id_assignsubmission_type); skipped")
            continue
        if entry.is_symlink():
            issues.append(f"{entry.name}: a symbolic link; skipped")
            continue
        person = people.setdefault(m["pid"], Participant(m["pid"]))
        person.names.add(m["name"])
        if m["subtype"] != "assignsubmission" or m["type"] != "file":
            person.ignored.append(f"{entry.name} ({m['subtype']}_{m['type']}, not a file submission)")
        elif entry.is_dir():
            _add_folder(person, entry, issues)
        elif entry.is_file():
            person.files.append(entry)
    return people, issues


def _add_folder(person: Participant, folder: Path, issues: list[str]) -> None:
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if IGNORED_NAMES & set(rel.parts) or any(p.startswith(".") for p in rel.parts):
            continue
        if path.is_symlink():
            issues.append(f"{folder.name}/{rel}: a symbolic link; skipped")
        elif path.is_file():
            person.files.append(path)


def display_name(path: Path) -> str:
    """A submission file's name as the student uploaded it (the flat layout prefixes it with the Moodle part)."""
    m = PART.match(path.name)
    return m["rest"] if m and m["rest"] else path.name


def participant_of(path: str) -> tuple[str, str] | None:
    """The participant (id, name) a path inside a Moodle download belongs to, if any of its parts says so."""
    for part in path.replace("\\", "/").split("/"):
        m = PART.match(part)
        if m:
            return m["pid"], m["name"]
    return None


def feedback_path(pid: str, name: str, filename: str) -> str:
    """The path in a feedback zip that Moodle's importer files under participant ``pid``.

    The importer splits each path part on ``_`` (at most 5 fields), needs a numeric id in the second and
    ``assignfeedback`` + ``file`` in the third and fourth, and ignores the name; so the name must not hold
    a ``_`` or a ``/``, and the part must not start with ``.`` or ``~`` (those files are skipped).
    """
    if not pid.isdigit():
        raise ValueError(f"not a Moodle participant id: {pid!r}")
    clean = _UNSAFE_IN_NAME.sub(" ", name).strip().lstrip(".~") or "Participant"
    return f"{clean}_{pid}_assignfeedback_file/{filename}"


def identifier(pid: str) -> str:
    """The grading worksheet's Identifier cell (English language pack): ``Participant 1234567``."""
    return f"Participant {pid}"


def pid_from_identifier(cell: str) -> str | None:
    """The participant id in a worksheet's Identifier cell, in any language: its trailing digits."""
    m = re.search(r"(\d+)\s*$", cell)
    return m[1] if m else None
