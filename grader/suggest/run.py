"""Suggestions for a gradebook's unreviewed answers, one answer at a time, stored as they come."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from grader.batch import suggestions
from grader.batch.db import Transaction
from grader.batch.reviews import Reviews
from grader.suggest.suggester import Suggester

NOTHING_TO_READ = ("blank", "missing")  # these answers get no suggestion: a TA sees at once what they earn


@dataclass
class SuggestStats:
    suggested: int = 0  # answers that got a suggestion (possibly: no item applies)
    skipped: int = 0  # reviewed already, suggested already for this answer, or nothing to read
    by_question: dict[str, int] = field(default_factory=dict)


def suggest_answers(
    out: Path, suggester: Suggester, question: str | None = None, progress: Callable[[str], None] | None = None
) -> SuggestStats:
    """Ask ``suggester`` about every answer still to review (of ``question``, or of all manual questions) that
    has no suggestion for its current text. A model server that stops answering stops the run (GraderError);
    what was stored stays."""
    stats = SuggestStats()
    with Reviews.open(out) as rv:
        questions = [rv.question(question)] if question else rv.questions()
        for q in questions:
            for answer in rv.answers(q.name):
                if not answer.to_review or answer.suggested is not None or answer.status in NOTHING_TO_READ:
                    stats.skipped += 1
                    continue
                items = suggester.suggest(
                    q.prompt, q.rubric, answer.text + ("\n" + answer.outputs if answer.outputs else "")
                )
                with Transaction(rv.db):
                    suggestions.store(rv.db, q.name, answer.student_id, answer.digest, items, suggester.name)
                stats.suggested += 1
                stats.by_question[q.name] = stats.by_question.get(q.name, 0) + 1
                if progress:
                    progress(f"{q.name}: {answer.student_id}: {items or 'no item'}")
    return stats
