"""The gradebook's read-only views of the class, for the summary (:mod:`grader.batch.summary`).

SQL over the ``current`` view (each student's latest attempt) of :mod:`grader.batch.gradebook`, which mixes
these into :class:`~grader.batch.gradebook.Gradebook`: aggregates cost the same memory for 30 or 3,000 students.
"""

from __future__ import annotations

import sqlite3

# Numeric ids (Moodle participants) in numeric order first, then the others alphabetically.
STUDENT_ORDER = (
    "student_id GLOB '*[^0-9]*', CASE WHEN student_id GLOB '*[^0-9]*' THEN 0 ELSE length(student_id) END, student_id"
)


class ClassViews:
    """Queries of :class:`~grader.batch.gradebook.Gradebook` over the current attempts (needs ``self.db``)."""

    db: sqlite3.Connection

    def _dicts(self, sql: str, *args) -> list[dict]:
        return [dict(r) for r in self.db.execute(sql, args)]

    def status_counts(self) -> dict[str, int]:
        return {r["status"]: r["n"] for r in self._dicts("SELECT status, count(*) AS n FROM current GROUP BY status")}

    def graded_scores(self) -> list[float]:
        return [r[0] for r in self.db.execute("SELECT score FROM current WHERE status = 'graded'")]

    def current_where(self, problems: bool) -> list[dict]:
        """Current attempts not graded normally (``problems`` False), or graded with timeouts or dead kernels."""
        where = "status = 'graded' AND problems != ''" if problems else "status != 'graded'"
        columns = "student_id, name, status, message, problems, seconds"
        return self._dicts(f"SELECT {columns} FROM current WHERE {where} ORDER BY student_id")

    def intake_notes(self) -> list[dict]:
        """What the intake noted about students it still graded (e.g. which of several notebooks)."""
        return self._dicts("SELECT student_id, name, note FROM students WHERE note != '' AND problem = ''")

    def latest_issues(self) -> list[str]:
        """What the latest run's intake refused or skipped."""
        return [r[0] for r in self.db.execute("SELECT message FROM issues WHERE run_id = (SELECT max(id) FROM runs)")]

    def test_pass_rates(self) -> list[dict]:
        """Per test among graded submissions: question, name, hidden, n, passed, and its commonest failure:
        ``message`` (the test's output), how many failed with it (``message_n``) and its ``kind`` ('' if none
        failed); lowest pass rate first."""
        rows = self._dicts(
            "SELECT t.question, t.name, max(t.hidden) AS hidden, count(*) AS n, sum(t.status = 'passed') AS passed "
            "FROM tests t JOIN current c ON t.attempt_id = c.id WHERE c.status = 'graded' "
            "GROUP BY t.question, t.name ORDER BY 1.0 * passed / n, t.question, t.name"
        )
        commonest = {}
        for r in self.db.execute(
            "SELECT t.question, t.name, t.output, min(t.kind) AS kind, count(*) AS n FROM tests t "
            "JOIN current c ON t.attempt_id = c.id WHERE c.status = 'graded' AND t.status = 'failed' "
            "GROUP BY t.question, t.name, t.output ORDER BY n, t.output DESC"
        ):
            commonest[r["question"], r["name"]] = r  # ordered by count: the commonest message is written last
        out = []
        for r in rows:
            top = commonest.get((r["question"], r["name"]))
            found = {"message": top["output"], "message_n": top["n"], "kind": top["kind"]} if top else {}
            out.append({"message": "", "message_n": 0, "kind": "", **r, **found})
        return out

    def test_columns(self) -> list[dict]:
        """Every test of the current attempts (question, name, hidden), in the order the assignment lists them."""
        return self._dicts(
            "SELECT t.question, t.name, max(t.hidden) AS hidden FROM tests t JOIN current c ON t.attempt_id = c.id "
            "GROUP BY t.question, t.name ORDER BY min(t.rowid)"
        )

    def question_totals(self) -> dict[str, dict]:
        """Per question among graded submissions: n (submissions), score (their sum), imperfect (not full)."""
        rows = self._dicts(
            "SELECT t.question, count(DISTINCT c.id) AS n, sum(t.score) AS score, "
            "count(DISTINCT CASE WHEN t.status = 'failed' THEN c.id END) AS imperfect "
            "FROM tests t JOIN current c ON t.attempt_id = c.id WHERE c.status = 'graded' GROUP BY t.question"
        )
        return {r["question"]: r for r in rows}

    def graded_seconds(self) -> list[float]:
        """Grading time of each graded submission, ascending."""
        return [r[0] for r in self.db.execute("SELECT seconds FROM current WHERE status = 'graded' ORDER BY seconds")]

    def runs(self) -> list[dict]:
        return self._dicts("SELECT id, started, finished, jobs, isolation, graded FROM runs")

    def workers(self) -> list[dict]:
        """Each Dask worker that graded a current attempt (``grade --cluster``): its submissions and grading time."""
        return self._dicts(
            "SELECT json_extract(result, '$.provenance.worker') AS worker, count(*) AS n, sum(seconds) AS seconds "
            "FROM current WHERE worker IS NOT NULL GROUP BY worker ORDER BY worker"
        )

    def slowest(self, n: int = 5) -> list[dict]:
        return self._dicts("SELECT student_id, seconds FROM current ORDER BY seconds DESC LIMIT ?", n)
