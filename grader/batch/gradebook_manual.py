"""The gradebook's side of manual grading, mixed into :class:`~grader.batch.gradebook.Gradebook`: the spec's manual
questions recorded, answers read for students graded before a question existed, review progress, and the
revision that tells the class files they are stale. The tables and the TAs' changes are :mod:`grader.batch.reviews`.
"""

from __future__ import annotations

import sqlite3

from grader.batch import reviews


class ManualGrading:
    """Manual grading methods of :class:`~grader.batch.gradebook.Gradebook` (needs ``self.db``, ``self._tx``)."""

    db: sqlite3.Connection

    def backfill_answers(self, submissions, questions) -> int:
        """Read the answers of graded students that have none stored to some of ``questions`` (a written question
        added after they were graded, a gradebook from before written questions), from their current notebook,
        without grading them again; return how many students got answers."""
        from grader.grading.answers import collect_answers  # nbformat: only when there is something to read

        known = reviews.answered(self.db)
        names = {q.name for q in questions}
        done = 0
        for sub in submissions:
            current = self.db.execute(
                "SELECT id, fingerprint FROM current WHERE student_id = ?", (sub.student_id,)
            ).fetchone()
            if current is None or names <= known.get(sub.student_id, set()):
                continue
            with self._tx():
                reviews.store_answers(self.db, current["id"], sub.student_id, collect_answers(sub.notebook, questions))
            done += 1
        return done

    def sync_manual(self, questions) -> None:
        """Record the spec's manual questions and rubrics (:func:`grader.batch.reviews.sync_questions`)."""
        with self._tx():
            reviews.sync_questions(self.db, questions)

    def has_manual(self) -> bool:
        """Whether the assignment has questions a TA grades by hand."""
        return self.db.execute("SELECT count(*) FROM manual_questions").fetchone()[0] > 0

    def unreviewed(self) -> int:
        """Answers to manual questions not reviewed yet (their points count 0 meanwhile)."""
        return reviews.Reviews(self.db).unreviewed()

    def revision(self) -> str:
        """Changes when any grade changed: a new attempt, or a TA's review or rubric edit."""
        return f"{self.last_attempt()}:{reviews.Reviews(self.db).revision()}"
