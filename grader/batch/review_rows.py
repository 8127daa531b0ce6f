"""The rows of the manual-grading tables (:mod:`grader.batch.reviews`) as Python values, and back."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from grader.errors import GraderError


@dataclass(frozen=True)
class RubricRow:
    question: str
    item: str
    points: float
    text: str
    version: int


@dataclass(frozen=True)
class QuestionRow:
    name: str
    kind: str
    points: float
    prompt: str
    rubric: list[RubricRow]


@dataclass(frozen=True)
class ReviewRow:
    student_id: str
    question: str
    digest: str
    items: list[str]
    adjustment: float
    comment: str
    reviewer: str
    updated: float
    version: int
    suggested: list[str] | None = None


@dataclass
class AnswerRow:
    student_id: str
    name: str
    question: str
    kind: str
    text: str
    images: list[str]
    outputs: str
    status: str
    note: str
    digest: str
    review: ReviewRow | None
    group: str = ""
    suggested: list[str] | None = None  # rubric items a model suggested for this answer (not a grade)

    @property
    def to_review(self) -> bool:
        return self.review is None or self.review.digest != self.digest


@dataclass(frozen=True)
class ManualScore:
    """One manual question of one student, as feedback and exports show it."""

    question: str
    prompt: str
    score: float
    max_score: float
    reviewed: bool
    given: list[tuple[str, float]] = field(default_factory=list)  # (rubric text, points) of the ticked items
    comment: str = ""
    adjustment: float = 0.0
    answer_status: str = "ok"


class Conflict(GraderError):
    """Another TA saved first; ``current`` is what is stored now (None: nothing)."""

    def __init__(self, message: str, current):
        super().__init__(message)
        self.current = current


def review_values(r: ReviewRow) -> tuple:
    return (
        r.student_id, r.question, r.digest, json.dumps(r.items), r.adjustment, r.comment, r.reviewer, r.updated,
        r.version, None if r.suggested is None else json.dumps(r.suggested),
    )  # fmt: skip


def review_row(r) -> ReviewRow:
    suggested = json.loads(r["suggested"]) if r["suggested"] else None
    return ReviewRow(
        r["student_id"], r["question"], r["digest"], json.loads(r["items"]), r["adjustment"], r["comment"],
        r["reviewer"], r["updated"], r["version"], suggested,
    )  # fmt: skip


def answer_row(r, review: ReviewRow | None) -> AnswerRow:
    return AnswerRow(
        r["student_id"], r["name"], r["question"], r["kind"], r["text"], json.loads(r["images"]), r["outputs"],
        r["status"], r["note"], r["digest"], review,
    )  # fmt: skip
