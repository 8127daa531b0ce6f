"""Rubric items a model suggested for an answer, kept apart from the TAs' reviews until a TA confirms them.

Table ``suggestions(student_id, question, digest, items, source, created)`` in ``OUT/gradebook.sqlite``: one per
answer, for the answer's content (its digest), with the model that made it (``source``). A suggestion never
counts as a grade: the review page shows it pre-ticked and marked as a suggestion, and only a TA's save makes a
review, which records what was suggested (``reviews.suggested``) so that :func:`kept` can tell how often TAs
kept the suggestions as they were.
"""

from __future__ import annotations

import json
import sqlite3
import time

SCHEMA = """
CREATE TABLE IF NOT EXISTS suggestions (
    student_id TEXT NOT NULL, question TEXT NOT NULL, digest TEXT NOT NULL, items TEXT NOT NULL,
    source TEXT NOT NULL, created REAL NOT NULL, PRIMARY KEY (student_id, question));
"""


def store(db: sqlite3.Connection, question: str, student_id: str, digest: str, items: list[str], source: str) -> None:
    db.execute(
        "INSERT OR REPLACE INTO suggestions VALUES (?, ?, ?, ?, ?, ?)",
        (student_id, question, digest, json.dumps(items), source, time.time()),
    )


def for_question(db: sqlite3.Connection, question: str) -> dict[str, tuple[str, list[str], str]]:
    """student id -> (digest, items, source) of each suggestion for ``question``."""
    rows = db.execute("SELECT student_id, digest, items, source FROM suggestions WHERE question = ?", (question,))
    return {r[0]: (r[1], json.loads(r[2]), r[3]) for r in rows}


def current(db: sqlite3.Connection, question: str, student_id: str, digest: str) -> list[str] | None:
    """The items suggested for this very answer (None: no suggestion, or one for an older answer)."""
    row = db.execute(
        "SELECT items FROM suggestions WHERE question = ? AND student_id = ? AND digest = ?",
        (question, student_id, digest),
    ).fetchone()
    return json.loads(row[0]) if row else None


def kept(db: sqlite3.Connection) -> tuple[int, int]:
    """(reviews whose TA kept the suggestion exactly, reviews made with a suggestion in front of the TA)."""
    rows = db.execute("SELECT items, suggested FROM reviews WHERE suggested IS NOT NULL").fetchall()
    same = sum(set(json.loads(items)) == set(json.loads(suggested)) for items, suggested in rows)
    return same, len(rows)
