"""What crosses between the review page's script and the server: the JSON bodies of its saves (pydantic
models: anything else is a 400 with one line) and the JSON shapes of the gradebook's rows.

Students are named by an opaque key (an HMAC of their id under the server's secret), never by their id, so
that anonymous grading hides ids as well as names; the label is "Student N" (N: the position in the
question's list) or the student's name and id.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from grader.batch.review_rows import AnswerRow, QuestionRow, ReviewRow, RubricRow

Name = Annotated[str, Field(min_length=1, max_length=200)]
Who = Annotated[str, Field(min_length=1, max_length=100)]
Points = Annotated[float, Field(ge=-1000, le=1000, allow_inf_nan=False)]
Comment = Annotated[str, Field(max_length=20_000)]
Items = Annotated[list[Name], Field(max_length=100)]
Version = Annotated[int, Field(ge=0)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class SaveReview(Body):
    question: Name
    key: Name
    items: Items
    adjustment: Points = 0.0
    comment: Comment = ""
    who: Who
    base_version: Version


class SaveGroup(Body):
    question: Name
    versions: Annotated[dict[Name, Version], Field(min_length=1, max_length=10_000)]  # key -> base version
    items: Items
    adjustment: Points = 0.0
    comment: Comment = ""
    who: Who


class Split(Body):
    question: Name
    key: Name
    who: Who


class RubricEdit(Body):
    """An edit of item ``item`` based on its version ``base_version``; a new item when ``item`` is None."""

    question: Name
    item: Name | None = None
    points: Points
    text: Annotated[str, Field(min_length=1, max_length=2000)]
    who: Who
    base_version: Version = 0


def one_line(exc: ValidationError) -> str:
    """The first problem of a body, as one line naming the field."""
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "body"
    return f"bad request: {where}: {error['msg']} ({exc.error_count()} problem(s))"


def student_key(secret: bytes, student_id: str) -> str:
    return hmac.new(secret, student_id.encode(), hashlib.sha256).hexdigest()[:20]


def score(review: ReviewRow | None, question: QuestionRow) -> float | None:
    """As :meth:`grader.batch.reviews.Reviews.manual_scores` computes it: ticked items' current points plus the
    adjustment, clamped to [0, points]."""
    if review is None:
        return None
    points = {i.item: i.points for i in question.rubric}
    given = sum(points.get(i, 0.0) for i in review.items) + review.adjustment
    return min(question.points, max(0.0, given))


def rubric_json(r: RubricRow) -> dict:
    return {"item": r.item, "points": r.points, "text": r.text, "version": r.version}


def review_json(r: ReviewRow | None) -> dict | None:
    if r is None:
        return None
    return {
        "items": r.items, "adjustment": r.adjustment, "comment": r.comment, "reviewer": r.reviewer,
        "updated": r.updated, "version": r.version, "suggested": r.suggested,
    }  # fmt: skip


def question_json(q: QuestionRow, progress: tuple[int, int], prompt_html: str) -> dict:
    reviewed, total = progress
    return {
        "name": q.name, "kind": q.kind, "points": q.points, "prompt": q.prompt, "prompt_html": prompt_html,
        "rubric": [rubric_json(i) for i in q.rubric], "reviewed": reviewed, "total": total,
    }  # fmt: skip


def answer_json(a: AnswerRow, *, key: str, label: str, group: str, group_size: int, question: QuestionRow) -> dict:
    return {
        "key": key, "label": label, "status": a.status, "note": a.note, "to_review": a.to_review,
        "review": review_json(a.review), "score": score(a.review, question), "group": group, "group_size": group_size,
        "suggested": a.suggested,
    }  # fmt: skip
