"""A student's total: the automatic result of their attempt plus the TAs' manual points.

The attempt's result (``results/<id>.json``) holds the automatic part only, as graded. Everything that shows or
exports a grade reads :meth:`grader.batch.gradebook.Gradebook.rows`, which adds each manual question here: a
question entry with its :class:`~grader.grading.results.ManualResult` (so reports show the rubric items given
and the comment) and its points in the score. An answer not reviewed yet counts 0 and says so.
"""

from __future__ import annotations

from grader.batch.review_rows import ManualScore
from grader.grading.results import ManualResult, QuestionResult, SubmissionResult


def with_manual(result: dict, scores: list[ManualScore]) -> dict:
    """``result`` (Gradescope-shaped, as stored) with ``scores`` added as questions and to the score."""
    if not scores:
        return result
    total = SubmissionResult.from_gradescope(result)
    for s in scores:
        manual = ManualResult(
            prompt=s.prompt, reviewed=s.reviewed, given=s.given, comment=s.comment, adjustment=s.adjustment
        )
        total.questions.append(
            QuestionResult(name=s.question, score=s.score, max_score=s.max_score, tests=[], manual=manual)
        )
    total.score += sum(s.score for s in scores)
    total.max_score += sum(s.max_score for s in scores)
    return total.gradescope()
