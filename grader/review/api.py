"""The review page's JSON API over :class:`grader.batch.reviews.Reviews`.

Each call opens its own ``Reviews`` (cheap; SQLite's transactions keep concurrent TAs and a running ``grader
grade`` consistent) and runs in Starlette's thread pool. A save based on an outdated version answers 409 with
what is stored now; bad input answers 400 with one line.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from grader.batch.review_rows import AnswerRow, Conflict, RubricRow
from grader.batch.reviews import Reviews
from grader.errors import GraderError
from grader.review.payloads import (
    RubricEdit,
    SaveGroup,
    SaveReview,
    Split,
    answer_json,
    question_json,
    review_json,
    rubric_json,
    student_key,
)
from grader.review.render import render_answer, render_markdown


@dataclass(frozen=True)
class Settings:
    out: Path  # the output folder holding gradebook.sqlite
    anonymous: bool  # "Student N" instead of names and ids
    secret: bytes  # keys students' ids (see grader.review.payloads.student_key)


class Refused(GraderError):
    """A save that lost a race: ``body`` (409) says what is stored now."""

    def __init__(self, body: dict):
        super().__init__(body["error"])
        self.body = body


def questions(s: Settings) -> dict:
    with Reviews.open(s.out) as rv:
        progress = rv.progress()
        qs = [question_json(q, progress.get(q.name, (0, 0)), render_markdown(q.prompt)) for q in rv.questions()]
    return {"questions": qs, "anonymous": s.anonymous}


def answers(s: Settings, question: str) -> dict:
    """The question (rubric, progress) and its answers in student order, without their bodies."""
    with Reviews.open(s.out) as rv:
        q = rv.question(question)
        rows = rv.answers(question)
        progress = rv.progress().get(question, (0, 0))
    sizes = Counter(a.group for a in rows)
    listed = [
        answer_json(
            a, key=student_key(s.secret, a.student_id), label=_label(s, a, n), group=student_key(s.secret, a.group),
            group_size=sizes[a.group], question=q,
        )
        for n, a in enumerate(rows, 1)
    ]  # fmt: skip
    return {"question": question_json(q, progress, render_markdown(q.prompt)), "answers": listed}


def answer(s: Settings, question: str, key: str) -> dict:
    """One answer with its body rendered (sanitized HTML), its review and a model's suggestion (rubric item ids)."""
    with Reviews.open(s.out) as rv:
        a = _find(s, rv, question, key)
    return {
        "key": key, "html": render_answer(a), "status": a.status, "note": a.note, "review": review_json(a.review),
        "to_review": a.to_review, "suggested": a.suggested,
    }  # fmt: skip


def save_review(s: Settings, body: SaveReview) -> dict:
    with Reviews.open(s.out) as rv:
        a = _find(s, rv, body.question, body.key)
        try:
            saved = rv.save_review(
                body.question, a.student_id, items=body.items, who=body.who, base_version=body.base_version,
                adjustment=body.adjustment, comment=body.comment,
            )  # fmt: skip
        except Conflict as exc:
            raise _review_conflict(exc, body.key) from None
    return {"review": review_json(saved)}


def save_group(s: Settings, body: SaveGroup) -> dict:
    """The same grading for several answers (a group): all saved, or none when one changed meanwhile."""
    with Reviews.open(s.out) as rv:
        by_key = _by_key(s, rv, body.question)
        unknown = [k for k in body.versions if k not in by_key]
        if unknown:
            raise GraderError(f"{body.question}: no answer with key {unknown[0]!r}")
        versions = {by_key[k].student_id: v for k, v in body.versions.items()}
        try:
            saved = rv.save_group(
                body.question, versions, items=body.items, who=body.who, adjustment=body.adjustment,
                comment=body.comment,
            )  # fmt: skip
        except Conflict as exc:
            key = student_key(s.secret, exc.current.student_id) if exc.current else None
            raise _review_conflict(exc, key) from None
    return {"reviews": {student_key(s.secret, r.student_id): review_json(r) for r in saved}}


def split(s: Settings, body: Split) -> dict:
    with Reviews.open(s.out) as rv:
        rv.split(body.question, _find(s, rv, body.question, body.key).student_id, who=body.who)
    return {"ok": True}


def edit_rubric(s: Settings, body: RubricEdit) -> dict:
    """Edit a rubric item (every answer graded with it follows at once) or add one (``item`` None)."""
    with Reviews.open(s.out) as rv:
        if body.item is None:
            return {"item": rubric_json(rv.add_item(body.question, points=body.points, text=body.text, who=body.who))}
        try:
            row = rv.edit_item(
                body.question, body.item, points=body.points, text=body.text, who=body.who,
                base_version=body.base_version,
            )  # fmt: skip
        except Conflict as exc:
            current: RubricRow = exc.current
            raise Refused(
                {"error": f"rubric item {current.item} was changed meanwhile", "kind": "rubric",
                 "current": rubric_json(current)}
            ) from None  # fmt: skip
    return {"item": rubric_json(row)}


def _review_conflict(exc: Conflict, key: str | None) -> Refused:
    current = exc.current
    who = current.reviewer if current else "someone"
    return Refused(
        {"error": f"this answer was saved meanwhile by {who}", "kind": "review", "key": key,
         "current": review_json(current)}
    )  # fmt: skip


def _label(s: Settings, a: AnswerRow, n: int) -> str:
    if s.anonymous:
        return f"Student {n}"
    return f"{a.name} ({a.student_id})" if a.name else a.student_id


def _by_key(s: Settings, rv: Reviews, question: str) -> dict[str, AnswerRow]:
    """The question's answers by key, without their groups (grouping compares every pair: only the list needs it)."""
    rv.question(question)  # a clear error for an unknown question
    return {student_key(s.secret, a.student_id): a for a in rv.answers(question, grouped=False)}


def _find(s: Settings, rv: Reviews, question: str, key: str) -> AnswerRow:
    found = _by_key(s, rv, question).get(key)
    if found is None:
        raise GraderError(f"{question}: no answer with key {key!r}")
    return found
