"""The gradebook: an embedded SQLite database in the output folder, the source of truth of a batch.

Tables (``OUT/gradebook.sqlite``):

    meta      key/value: the assignment's id, version, title, spec hash, questions and maximum score
    runs      one row per ``grader grade``: when, how many jobs, which isolation, how many graded
    students  one row per student id found in the input: name, notebook, intake note, problem, fingerprint
    attempts  one row per *completed* grading attempt: status, score, message, seconds, the full result, and
              the ground truth it was graded against (:func:`grader.assignment.groundtruth.groundtruth_key`)
    tests     one row per test of an attempt: question, name, hidden, status, kind, score, output
    issues    what the intake refused or skipped, per run

An attempt and its tests are written in one transaction, after the submission was graded; nothing is
written when grading starts. So a process killed at any moment (kill -9 included) leaves only complete
attempts, and the next run grades exactly the students without one. A student's *current* attempt is
their latest. A rerun grades a student again only when asked (``regrade``, or their id in ``only``),
when their submission changed (its fingerprint, a hash of the notebook's bytes), or when the last attempt
ended in a grader ``error`` (a kernel that could not start is the machine's fault, not the student's).

Grades stay comparable: :meth:`Gradebook.bind` refuses another assignment, a changed spec, and a ground truth
(reference code, models, input files, torch, device) other than the one any current grade was graded against,
unless ``regrade``. A gradebook from before ``attempts.groundtruth`` existed is migrated on open; its grades
count as graded against an unknown ground truth.

One grader at a time per folder: :meth:`Gradebook.open` takes an exclusive lock on ``OUT/.grader.lock``.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from grader.batch import reviews
from grader.batch.db import Transaction, connect
from grader.batch.gradebook_manual import ManualGrading
from grader.batch.gradebook_views import STUDENT_ORDER, ClassViews
from grader.batch.totals import with_manual
from grader.errors import GraderError
from grader.grading.results import SubmissionResult

DB_NAME = "gradebook.sqlite"
LOCK_NAME = ".grader.lock"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, started REAL NOT NULL, finished REAL, jobs INTEGER, isolation TEXT,
    source TEXT, layout TEXT, graded INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS students (
    student_id TEXT PRIMARY KEY, name TEXT NOT NULL DEFAULT '', notebook TEXT, note TEXT NOT NULL DEFAULT '',
    problem TEXT NOT NULL DEFAULT '', fingerprint TEXT, submitted REAL, last_run INTEGER);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY, student_id TEXT NOT NULL, run_id INTEGER NOT NULL, fingerprint TEXT,
    status TEXT NOT NULL, score REAL NOT NULL, max_score REAL NOT NULL, message TEXT NOT NULL,
    problems TEXT NOT NULL DEFAULT '', seconds REAL NOT NULL, finished REAL NOT NULL, result TEXT NOT NULL,
    groundtruth TEXT);
CREATE INDEX IF NOT EXISTS attempts_by_student ON attempts (student_id, id);
CREATE TABLE IF NOT EXISTS tests (
    attempt_id INTEGER NOT NULL REFERENCES attempts (id), question TEXT NOT NULL, name TEXT NOT NULL,
    hidden INTEGER NOT NULL, status TEXT NOT NULL, kind TEXT NOT NULL, score REAL NOT NULL,
    max_score REAL NOT NULL, output TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS tests_by_attempt ON tests (attempt_id);
CREATE TABLE IF NOT EXISTS issues (run_id INTEGER NOT NULL, message TEXT NOT NULL);
CREATE VIEW IF NOT EXISTS current AS
    SELECT a.*, s.name AS name, s.submitted AS submitted FROM attempts a LEFT JOIN students s USING (student_id)
    WHERE a.id = (SELECT max(b.id) FROM attempts b WHERE b.student_id = a.student_id);
"""


@dataclass(frozen=True)
class AssignmentInfo:
    """What the exports need to know about the assignment, stored with the grades."""

    id: str
    title: str
    version: str
    spec_hash: str
    max_score: float
    questions: list[tuple[str, float]]  # (function, points)
    groundtruth: str = ""  # the content hash of the ground truth (grader.assignment.groundtruth.groundtruth_key)


@dataclass(frozen=True)
class StudentRow:
    """What the intake found for one student (a row of ``students``)."""

    student_id: str
    name: str
    notebook: str
    note: str
    problem: str
    fingerprint: str
    submitted: float | None


@dataclass(frozen=True)
class GradeRow:
    """A student's current attempt, as the exports and the summary read it."""

    student_id: str
    name: str
    status: str
    score: float
    max_score: float
    message: str
    problems: str
    seconds: float
    submitted: float | None
    result: dict  # the Gradescope-shaped results.json
    groundtruth: str | None = None  # what it was graded against (None: unknown, an older gradebook)

    @property
    def questions(self) -> list[dict]:
        return self.result.get("questions", [])


class Gradebook(ClassViews, ManualGrading):
    """The SQLite gradebook of one output folder. Use as a context manager (closes and unlocks)."""

    def __init__(self, db: sqlite3.Connection, lock, folder: Path):
        self.db, self._lock, self.folder = db, lock, folder

    @classmethod
    def open(cls, folder: Path, *, create: bool = True) -> Gradebook:
        if create:
            folder.mkdir(parents=True, exist_ok=True)
        path = folder / DB_NAME
        if not create and not path.is_file():
            raise GraderError(f"{folder}: no gradebook here (expected {DB_NAME}; run 'grader grade' first)")
        lock = open(folder / LOCK_NAME, "a+")  # noqa: SIM115 (held until close)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise GraderError(f"{folder}: another grader is working in this folder") from None
        db = connect(path)
        db.executescript(SCHEMA + reviews.SCHEMA)
        _migrate(db)
        return cls(db, lock, folder)

    def close(self) -> None:
        self.db.close()
        self._lock.close()

    def __enter__(self) -> Gradebook:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _tx(self):
        return Transaction(self.db)

    # ------------------------------------------------------------------ the assignment

    def check(self, info: AssignmentInfo, *, regrade: bool) -> None:
        """Refuse another assignment, or a changed spec without ``regrade`` (needs no ground truth)."""
        old = self.assignment()
        if old and old.id != info.id:
            raise GraderError(
                f"{self.folder}: holds grades of assignment {old.id!r}, not {info.id!r}; use another --out"
            )
        if old and old.spec_hash != info.spec_hash and not regrade:
            raise GraderError(
                f"{self.folder}: graded with another version of {info.id!r} (the spec changed since); "
                "pass --regrade to grade everything again, or use another --out"
            )

    def bind(self, info: AssignmentInfo, *, regrade: bool) -> None:
        """Tie this gradebook to ``info``: :meth:`check` it, refuse a ground truth other than any current grade's
        without ``regrade``; the attempts recorded from now on are graded against ``info.groundtruth``."""
        self.check(info, regrade=regrade)
        other = {key: n for key, n in self.groundtruths().items() if key != info.groundtruth}
        if other and not regrade:
            unknown = other.get(None, 0)
            why = f" ({unknown} of them before the gradebook recorded it)" if unknown else ""
            raise GraderError(
                f"{self.folder}: {sum(other.values())} grade(s) graded against another ground truth{why}: the "
                "reference code, a model, an input file, torch or the device changed since; pass --regrade to grade "
                "everything again, or use another --out"
            )
        values = {**info.__dict__, "questions": json.dumps(info.questions)}
        with self._tx():
            self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, str(v)) for k, v in values.items()])

    def groundtruths(self) -> dict[str | None, int]:
        """How many current grades were graded against each ground truth (None: unknown, an older gradebook)."""
        return dict(self.db.execute("SELECT groundtruth, count(*) FROM current GROUP BY groundtruth").fetchall())

    def mixed_groundtruths(self) -> str:
        """A one-line warning when the current grades were not all graded against the gradebook's ground truth
        (a ``--regrade`` that was interrupted, a gradebook from before it was recorded); '' when they were."""
        info = self.assignment()
        counts = self.groundtruths()
        other = sum(n for key, n in counts.items() if not info or key != info.groundtruth)
        if not other:
            return ""
        return (
            f"{other} of {sum(counts.values())} grade(s) were graded against another ground truth than the "
            "gradebook's (or an unknown one); run 'grader grade ... --regrade' before using these grades"
        )

    def assignment(self) -> AssignmentInfo | None:
        meta = {r["key"]: r["value"] for r in self.db.execute("SELECT key, value FROM meta")}
        if "id" not in meta:
            return None
        questions = [(f, float(p)) for f, p in json.loads(meta["questions"])]
        return AssignmentInfo(
            meta["id"],
            meta["title"],
            meta["version"],
            meta["spec_hash"],
            float(meta["max_score"]),
            questions,
            meta.get("groundtruth", ""),
        )

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._tx():
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # ------------------------------------------------------------------ runs and intake

    def start_run(self, *, jobs: int, isolation: str | None, source: str, layout: str, issues: list[str]) -> int:
        with self._tx():
            cur = self.db.execute(
                "INSERT INTO runs (started, jobs, isolation, source, layout) VALUES (?, ?, ?, ?, ?)",
                (time.time(), jobs, isolation, source, layout),
            )
            run_id = cur.lastrowid
            self.db.executemany("INSERT INTO issues VALUES (?, ?)", [(run_id, m) for m in issues])
        return run_id

    def finish_run(self, run_id: int, graded: int, isolation: str | None = None) -> None:
        """Mark the run finished; ``isolation``: its kernels' (None: as started, e.g. no kernel was needed)."""
        with self._tx():
            self.db.execute(
                "UPDATE runs SET finished = ?, graded = ?, isolation = coalesce(?, isolation) WHERE id = ?",
                (time.time(), graded, isolation, run_id),
            )

    def note_students(self, run_id: int, students: list[StudentRow]) -> None:
        """Record (or refresh) what the intake found for each student."""
        with self._tx():
            self.db.executemany(
                "INSERT INTO students VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (student_id) DO UPDATE SET "
                "name = excluded.name, notebook = excluded.notebook, note = excluded.note, "
                "problem = excluded.problem, fingerprint = excluded.fingerprint, submitted = excluded.submitted, "
                "last_run = excluded.last_run",
                [(*s.__dict__.values(), run_id) for s in students],
            )

    def needs_grading(self, sid: str, fingerprint: str, *, regrade: bool) -> str | None:
        """Why ``sid`` must be graded in this run (``None``: their current attempt stands)."""
        row = self.db.execute(
            "SELECT status, fingerprint FROM attempts WHERE student_id = ? ORDER BY id DESC LIMIT 1", (sid,)
        ).fetchone()
        if row is None:
            return "new"
        if regrade:
            return "regrade"
        if row["status"] == "error":
            return "the last attempt ended in a grader error"
        if row["fingerprint"] != fingerprint:
            return "the submission changed since it was graded"
        return None

    # ------------------------------------------------------------------ results

    def record(self, run_id: int, result: SubmissionResult, fingerprint: str, answers=()) -> int:
        """Write one completed attempt, its tests and its ``answers`` to the manual questions
        (:func:`grader.grading.answers.collect_answers`), atomically; return the attempt's id. The attempt counts
        as graded against the ground truth the gradebook is bound to (:meth:`bind`)."""
        with self._tx():
            cur = self.db.execute(
                "INSERT INTO attempts (student_id, run_id, fingerprint, status, score, max_score, message, "
                "problems, seconds, finished, result, groundtruth) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "(SELECT value FROM meta WHERE key = 'groundtruth'))",
                (
                    result.student_id,
                    run_id,
                    fingerprint,
                    result.status,
                    result.score,
                    result.max_score,
                    result.message,
                    problems(result),
                    result.seconds,
                    time.time(),
                    json.dumps(result.gradescope()),
                ),
            )
            attempt = cur.lastrowid
            self.db.executemany(
                "INSERT INTO tests VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (attempt, t.question, t.name, int(t.hidden), t.status, t.kind, t.score, t.max_score, t.output)
                    for t in result.tests
                ],
            )
            reviews.store_answers(self.db, attempt, result.student_id, answers)
            self.db.execute("UPDATE runs SET graded = graded + 1 WHERE id = ?", (run_id,))
        return attempt

    def rows(self) -> Iterator[GradeRow]:
        """The current attempt of every student, in student order, streamed one at a time; with manual
        questions, score and result are the totals (:func:`grader.batch.totals.with_manual`)."""
        manual = reviews.Reviews(self.db) if self.has_manual() else None
        for r in self.db.execute(f"SELECT * FROM current ORDER BY {STUDENT_ORDER}"):
            result, score, max_score = json.loads(r["result"]), r["score"], r["max_score"]
            if manual:
                result = with_manual(result, manual.manual_scores(r["student_id"]))
                score, max_score = result["score"], result["max_score"]
            yield GradeRow(
                r["student_id"],
                r["name"] or "",
                r["status"],
                score,
                max_score,
                r["message"],
                r["problems"],
                r["seconds"],
                r["submitted"],
                result,
                r["groundtruth"],
            )

    def last_attempt(self) -> int:
        """The id of the latest attempt (0 with none): what the class files were last written from."""
        return self.db.execute("SELECT coalesce(max(id), 0) FROM attempts").fetchone()[0]

    def current_ids(self) -> list[str]:
        """Every student with a current attempt."""
        return [r[0] for r in self.db.execute("SELECT student_id FROM current")]

    def current_result(self, sid: str) -> str:
        """The current attempt's result of ``sid``, as stored (the JSON text of ``results/<id>.json``)."""
        return self.db.execute("SELECT result FROM current WHERE student_id = ?", (sid,)).fetchone()[0]


def problems(result: SubmissionResult) -> str:
    """One line on what went wrong while running the notebook: timeouts, dead kernels, refused files."""
    parts = [f"{c.label or f'cell {c.index + 1}'} {c.status}" for c in result.cells if c.status in ("timeout", "dead")]
    slow = sum(t.kind == "timeout" for t in result.tests)
    if slow:
        parts.append(f"{slow} test call(s) timed out")
    dead = sum(t.kind == "dead" for t in result.tests)
    if dead:
        parts.append(f"the kernel died in {dead} test call(s)")
    return "; ".join(parts)


def fingerprint(notebook: Path, problem: str) -> str:
    """What identifies a submission's content: a hash of the notebook's bytes (or of why there is none)."""
    h = hashlib.sha256()
    if problem or not notebook.is_file():
        h.update(f"problem:{problem}:{notebook.stat().st_size if notebook.is_file() else -1}".encode())
        return h.hexdigest()
    with notebook.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _migrate(db: sqlite3.Connection) -> None:
    """Bring a gradebook written by an older grader up to :data:`SCHEMA` (its grades are kept as they are)."""
    columns = {r[1] for r in db.execute("PRAGMA table_info(attempts)")}
    if "groundtruth" not in columns:  # before grades recorded their ground truth: NULL, unknown
        db.execute("ALTER TABLE attempts ADD COLUMN groundtruth TEXT")
