"""Manual grading in the gradebook: answers to review, rubrics, TAs' reviews, and who changed what when.

Tables (in ``OUT/gradebook.sqlite``, next to :mod:`grader.batch.gradebook`'s):

    manual_questions  what TAs grade: written questions and code questions' manual parts, points, prompt
    rubric_items      each question's rubric; seeded from the spec, then edited by TAs on the review page
    answers           each student's current answer to each question (written with their attempt)
    reviews           a TA's grading of one answer: the rubric items ticked, an adjustment, a comment
    audit             every change, with who and when: reviews, rubric edits, group splits
    answer_splits     answers a TA took out of their automatic group
    suggestions       rubric items a model suggested, until a TA confirms them (:mod:`grader.batch.suggestions`)

A score is computed when it is read, from the ticked items' *current* points: editing a rubric item applies at
once to every answer graded with it. A review counts for the answer it was made for (its digest): a changed
resubmission is "to review" again. Every save names the version it was based on and is refused with
:class:`Conflict` (holding what is stored now) when another TA saved in between: nothing is silently lost.

:class:`Reviews` does not take the grader's exclusive lock: the review page works while ``grader grade`` runs;
SQLite's transactions keep the two consistent. Open one per thread (it is cheap).
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import asdict
from pathlib import Path

from grader.batch import suggestions
from grader.batch.answer_groups import group_answers
from grader.batch.db import Transaction, connect
from grader.batch.review_rows import (
    AnswerRow,
    Conflict,
    ManualScore,
    QuestionRow,
    ReviewRow,
    RubricRow,
    answer_row,
    review_row,
    review_values,
)
from grader.errors import GraderError

SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS manual_questions (
    name TEXT PRIMARY KEY, kind TEXT NOT NULL, points REAL NOT NULL, prompt TEXT NOT NULL, position INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rubric_items (
    question TEXT NOT NULL, item TEXT NOT NULL, points REAL NOT NULL, text TEXT NOT NULL, position INTEGER NOT NULL,
    version INTEGER NOT NULL DEFAULT 1, deleted INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (question, item));
CREATE TABLE IF NOT EXISTS answers (
    student_id TEXT NOT NULL, question TEXT NOT NULL, attempt_id INTEGER NOT NULL, digest TEXT NOT NULL,
    kind TEXT NOT NULL, text TEXT NOT NULL, images TEXT NOT NULL, outputs TEXT NOT NULL, status TEXT NOT NULL,
    note TEXT NOT NULL, PRIMARY KEY (student_id, question));
CREATE TABLE IF NOT EXISTS reviews (
    student_id TEXT NOT NULL, question TEXT NOT NULL, digest TEXT NOT NULL, items TEXT NOT NULL,
    adjustment REAL NOT NULL, comment TEXT NOT NULL, reviewer TEXT NOT NULL, updated REAL NOT NULL,
    version INTEGER NOT NULL, suggested TEXT, PRIMARY KEY (student_id, question));
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY, at REAL NOT NULL, who TEXT NOT NULL, action TEXT NOT NULL, question TEXT NOT NULL,
    student_id TEXT, item TEXT, before TEXT, after TEXT);
CREATE TABLE IF NOT EXISTS answer_splits (question TEXT NOT NULL, student_id TEXT NOT NULL,
    PRIMARY KEY (question, student_id));
"""
    + suggestions.SCHEMA
)
REVISION_KEY = "reviews_revision"  # meta key: bumped by every change that can change a grade


class Reviews:
    """The manual-grading tables of one output folder's gradebook."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    @classmethod
    def open(cls, folder: Path) -> Reviews:
        path = folder / "gradebook.sqlite"
        if not path.is_file():
            raise GraderError(f"{folder}: no gradebook here (run 'grader grade' first)")
        db = connect(path)
        db.executescript(SCHEMA)
        return cls(db)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Reviews:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ reading

    def questions(self) -> list[QuestionRow]:
        rubric: dict[str, list[RubricRow]] = {}
        for r in self.db.execute(
            "SELECT question, item, points, text, version FROM rubric_items WHERE deleted = 0 ORDER BY position"
        ):
            rubric.setdefault(r["question"], []).append(RubricRow(*r))
        return [
            QuestionRow(r["name"], r["kind"], r["points"], r["prompt"], rubric.get(r["name"], []))
            for r in self.db.execute("SELECT * FROM manual_questions ORDER BY position")
        ]

    def question(self, name: str) -> QuestionRow:
        for q in self.questions():
            if q.name == name:
                return q
        raise GraderError(f"no manual question named {name!r}")

    def answers(self, question: str, *, grouped: bool = True) -> list[AnswerRow]:
        """Every current answer to ``question``, in student order, each with its review and (``grouped``: the
        costly part, difflib over pairs of answers) its group."""
        rows = self.db.execute(
            "SELECT a.*, coalesce(s.name, '') AS name FROM answers a LEFT JOIN students s USING (student_id) "
            "WHERE a.question = ? ORDER BY a.student_id",
            (question,),
        ).fetchall()
        reviews = {r.student_id: r for r in self._reviews(question)}
        suggested = suggestions.for_question(self.db, question)
        out = [answer_row(r, reviews.get(r["student_id"])) for r in rows]
        for a in out:
            digest, items, _ = suggested.get(a.student_id, ("", None, ""))
            a.suggested = items if digest == a.digest else None
        groups = group_answers([(a.student_id, a.text) for a in out], self._splits(question)) if grouped else {}
        for a in out:
            a.group = groups.get(a.student_id, "")
        return out

    def answer(self, question: str, student_id: str) -> AnswerRow:
        """One answer, with its review (without its group)."""
        for a in self.answers(question, grouped=False):
            if a.student_id == student_id:
                return a
        raise GraderError(f"no answer of student {student_id!r} to {question!r}")

    def groups(self, question: str) -> list[list[str]]:
        """Student ids whose answers are identical or near-identical, largest group first."""
        by_key: dict[str, list[str]] = {}
        for a in self.answers(question):
            by_key.setdefault(a.group, []).append(a.student_id)
        return sorted(by_key.values(), key=lambda members: (-len(members), members[0]))

    def progress(self) -> dict[str, tuple[int, int]]:
        """Question -> (answers reviewed, answers)."""
        out = {q.name: (0, 0) for q in self.questions()}
        for r in self.db.execute(
            "SELECT a.question, count(*), sum(r.digest IS NOT NULL AND r.digest = a.digest) FROM answers a "
            "LEFT JOIN reviews r USING (student_id, question) GROUP BY a.question"
        ):
            if r[0] in out:  # answers to a question the spec no longer has do not count
                out[r[0]] = (int(r[2] or 0), r[1])
        return out

    def item_counts(self) -> dict[tuple[str, str], int]:
        """(question, rubric item) -> how many current reviews tick it."""
        counts: dict[tuple[str, str], int] = {}
        for r in self.db.execute(
            "SELECT r.question, r.items FROM reviews r JOIN answers a USING (student_id, question) "
            "WHERE r.digest = a.digest"
        ):
            for item in json.loads(r["items"]):
                counts[(r["question"], item)] = counts.get((r["question"], item), 0) + 1
        return counts

    def unreviewed(self) -> int:
        return sum(total - done for done, total in self.progress().values())

    def audit(self, question: str | None = None, student_id: str | None = None) -> list[dict]:
        rows = self.db.execute(
            "SELECT * FROM audit WHERE (? IS NULL OR question = ?) AND (? IS NULL OR student_id = ?) ORDER BY id",
            (question, question, student_id, student_id),
        )
        return [dict(r) for r in rows]

    def manual_scores(self, student_id: str) -> list[ManualScore]:
        """The student's manual questions, scored from the ticked items' current points."""
        out = []
        for q in self.questions():
            row = self.db.execute(
                "SELECT digest, status FROM answers WHERE student_id = ? AND question = ?", (student_id, q.name)
            ).fetchone()
            review = self._review(q.name, student_id)
            if row is None or review is None or review.digest != row["digest"]:
                status = row["status"] if row else "missing"
                out.append(ManualScore(q.name, q.prompt, 0.0, q.points, False, answer_status=status))
                continue
            items = {i.item: i for i in q.rubric}
            given = [(items[i].text, items[i].points) for i in review.items if i in items]
            score = min(q.points, max(0.0, sum(p for _, p in given) + review.adjustment))
            out.append(
                ManualScore(
                    q.name, q.prompt, score, q.points, True, given, review.comment, review.adjustment, row["status"]
                )
            )
        return out

    def revision(self) -> str:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (REVISION_KEY,)).fetchone()
        return row[0] if row else "0"

    # ------------------------------------------------------------------ TAs' changes

    def save_review(
        self,
        question: str,
        student_id: str,
        *,
        items: list[str],
        who: str,
        base_version: int,
        adjustment: float = 0.0,
        comment: str = "",
    ) -> ReviewRow:
        """Grade one answer; :class:`Conflict` when its review changed since ``base_version`` (0: none yet)."""
        with Transaction(self.db):
            return self._save(question, student_id, items, who, base_version, adjustment, comment)

    def save_group(
        self,
        question: str,
        base_versions: dict[str, int],
        *,
        items: list[str],
        who: str,
        adjustment: float = 0.0,
        comment: str = "",
    ) -> list[ReviewRow]:
        """Grade several answers alike (a group), all or none: one conflict refuses the whole group."""
        with Transaction(self.db):
            return [
                self._save(question, sid, items, who, version, adjustment, comment)
                for sid, version in sorted(base_versions.items())
            ]

    def split(self, question: str, student_id: str, who: str) -> None:
        """Take one answer out of its group (it becomes a group of its own)."""
        with Transaction(self.db):
            self.db.execute("INSERT OR IGNORE INTO answer_splits VALUES (?, ?)", (question, student_id))
            self._log(who, "split", question, student_id, None, None, None)

    def edit_item(
        self, question: str, item: str, *, points: float, text: str, who: str, base_version: int
    ) -> RubricRow:
        """Change a rubric item for every answer graded with it; :class:`Conflict` if it changed meanwhile."""
        text = _checked_text(text, "rubric text")
        with Transaction(self.db):
            current = self._item(question, item)
            if current.version != base_version:
                raise Conflict(f"rubric item {item!r} of {question!r} was changed by someone else", current)
            self.db.execute(
                "UPDATE rubric_items SET points = ?, text = ?, version = version + 1 WHERE question = ? AND item = ?",
                (float(points), text, question, item),
            )
            after = self._item(question, item)
            self._log(who, "edit item", question, None, item, asdict(current), asdict(after))
            return after

    def add_item(self, question: str, *, points: float, text: str, who: str) -> RubricRow:
        text = _checked_text(text, "rubric text")
        with Transaction(self.db):
            self.question(question)
            used = {r[0] for r in self.db.execute("SELECT item FROM rubric_items WHERE question = ?", (question,))}
            item = next(str(n) for n in range(1, len(used) + 2) if str(n) not in used)
            position = self.db.execute(
                "SELECT coalesce(max(position), 0) + 1 FROM rubric_items WHERE question = ?", (question,)
            ).fetchone()[0]
            self.db.execute(
                "INSERT INTO rubric_items (question, item, points, text, position) VALUES (?, ?, ?, ?, ?)",
                (question, item, float(points), text, position),
            )
            after = self._item(question, item)
            self._log(who, "add item", question, None, item, None, asdict(after))
            return after

    # ------------------------------------------------------------------ internals

    def _save(self, question, student_id, items, who, base_version, adjustment, comment) -> ReviewRow:
        who, comment = _checked_text(who, "reviewer name", 100), _checked_text(comment, "comment", 20_000, empty=True)
        answer = self.db.execute(
            "SELECT digest FROM answers WHERE student_id = ? AND question = ?", (student_id, question)
        ).fetchone()
        if answer is None:
            raise GraderError(f"no answer of student {student_id!r} to {question!r}")
        known = {i.item for i in self.question(question).rubric}
        unknown = [i for i in items if i not in known]
        if unknown:
            raise GraderError(f"{question}: no rubric item(s) {unknown}")
        current = self._review(question, student_id)
        if (current.version if current else 0) != base_version:
            raise Conflict(f"the review of {student_id} on {question!r} was changed by someone else", current)
        after = ReviewRow(
            student_id, question, answer["digest"], list(dict.fromkeys(items)), float(adjustment), comment, who,
            time.time(), base_version + 1, suggestions.current(self.db, question, student_id, answer["digest"]),
        )  # fmt: skip
        self.db.execute(
            "INSERT OR REPLACE INTO reviews VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*review_values(after),),
        )
        self._log(who, "review", question, student_id, None, asdict(current) if current else None, asdict(after))
        return after

    def _reviews(self, question: str) -> list[ReviewRow]:
        return [review_row(r) for r in self.db.execute("SELECT * FROM reviews WHERE question = ?", (question,))]

    def _review(self, question: str, student_id: str) -> ReviewRow | None:
        r = self.db.execute(
            "SELECT * FROM reviews WHERE question = ? AND student_id = ?", (question, student_id)
        ).fetchone()
        return review_row(r) if r else None

    def _item(self, question: str, item: str) -> RubricRow:
        r = self.db.execute(
            "SELECT question, item, points, text, version FROM rubric_items WHERE question = ? AND item = ? "
            "AND deleted = 0",
            (question, item),
        ).fetchone()
        if r is None:
            raise GraderError(f"{question}: no rubric item {item!r}")
        return RubricRow(*r)

    def _splits(self, question: str) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT student_id FROM answer_splits WHERE question = ?", (question,))}

    def _log(self, who, action, question, student_id, item, before, after) -> None:
        self.db.execute(
            "INSERT INTO audit (at, who, action, question, student_id, item, before, after) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (time.time(), who, action, question, student_id, item, _json(before), _json(after)),
        )
        self.db.execute(
            "INSERT INTO meta VALUES (?, '1') ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
            (REVISION_KEY,),
        )


def sync_questions(db: sqlite3.Connection, questions) -> None:
    """Record the spec's manual questions (:class:`grader.assignment.manual.ManualQuestion`) in the gradebook.

    Points, prompts and order follow the spec. A rubric item is added when new, and follows the spec while no
    TA has edited it on the review page; an item a TA edited keeps the TA's version (the page is where rubrics
    evolve during grading, as in Gradescope). Call inside a transaction."""
    db.execute("DELETE FROM manual_questions")
    for position, q in enumerate(questions):
        db.execute(
            "INSERT INTO manual_questions VALUES (?, ?, ?, ?, ?)", (q.name, q.kind, q.points, q.prompt, position)
        )
        for n, item in enumerate(q.rubric):
            db.execute(
                "INSERT INTO rubric_items (question, item, points, text, position) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (question, item) DO UPDATE SET points = excluded.points, text = excluded.text, "
                "position = excluded.position WHERE version = 1",
                (q.name, item.id, item.points, item.text, n),
            )


def answered(db: sqlite3.Connection) -> dict[str, set[str]]:
    """student id -> the manual questions the gradebook holds an answer of theirs to."""
    out: dict[str, set[str]] = {}
    for sid, question in db.execute("SELECT student_id, question FROM answers"):
        out.setdefault(sid, set()).add(question)
    return out


def store_answers(db: sqlite3.Connection, attempt_id: int, student_id: str, answers) -> None:
    """A student's answers (:class:`grader.grading.answers.Answer`) from their attempt ``attempt_id``, replacing
    the previous attempt's. Call inside the attempt's transaction."""
    db.executemany(
        "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (student_id, a.question, attempt_id, a.digest, a.kind, a.text, json.dumps(a.images), a.outputs,
             a.status, a.note)
            for a in answers
        ],
    )  # fmt: skip


def _checked_text(text, what: str, limit: int = 2000, *, empty: bool = False) -> str:
    if not isinstance(text, str) or (not empty and not text.strip()):
        raise GraderError(f"the {what} must be a non-empty string")
    if len(text) > limit:
        raise GraderError(f"the {what} is longer than {limit} characters")
    return text.strip() if not empty else text


def _json(value) -> str | None:
    return None if value is None else json.dumps(value)
