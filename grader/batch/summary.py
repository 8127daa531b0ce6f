"""The class summary: every student with their points and report, which tests the class failed most and with
which message, the score distribution, what broke, how long it took.

Computed from the gradebook's aggregates (:mod:`grader.batch.gradebook`: SQL over the current attempt of each
student), so it costs the same memory for 30 or 3,000 students, and rendered from ``templates/summary.html.j2``
into one self-contained HTML file: the plots are inline SVG and CSS, with no script and no link to anything
outside the file.

Pass rates per test and per question count only submissions that were graded; a notebook that could not be
read at all is listed under "not graded normally" instead of counting as a failure of every test. The headline
counts the entries the intake skipped (refused zip entries, files not named like a submission) too, and a
gradebook whose grades were not all graded against one ground truth says so at the top.

Everything from a submission (ids, names, messages) is escaped by the template's autoescape; report links are
URL-encoded.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from grader.batch import suggestions
from grader.batch.gradebook import Gradebook
from grader.batch.reviews import Reviews
from grader.common.files import write_text
from grader.grading.report import environment
from grader.grading.results import FAILURE_KINDS

SUMMARY = "summary.html"
BINS = 10
MESSAGE_CHARS = 200  # of a test's commonest failure message
CHART_W, CHART_H = 600, 200


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    count: int
    label: str


@dataclass
class Summary:
    assignment: str
    title: str
    max_score: float
    counts: dict[str, int]
    scores: dict[str, float]
    histogram: list[Bar]
    tests: list[dict]
    questions: list[dict]
    not_graded: list[dict]
    troubled: list[dict]
    notes: list[dict]
    issues: list[str]
    timing: dict
    functions: list[tuple[str, float]] = field(default_factory=list)  # (function, points), as the spec lists them
    columns: list[dict] = field(default_factory=list)  # every test (question, name, hidden), in spec order
    roster: list[dict] = field(default_factory=list)  # per student, in student order: points, tests, report
    warning: str = ""  # the grades mix ground truths (Gradebook.mixed_groundtruths)
    manual: list[dict] = field(default_factory=list)  # questions TAs grade: review progress, rubric items given
    suggestions_kept: tuple[int, int] = (0, 0)  # reviews that kept a model's suggestion as it was, of those with one
    generated: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M"))


def build_summary(gb: Gradebook) -> Summary:
    info = gb.assignment()
    counts, scores, issues = gb.status_counts(), gb.graded_scores(), gb.latest_issues()
    if gb.has_manual():  # the totals, automatic + manual
        scores = sorted(r.score for r in gb.rows() if r.status == "graded")
    columns = gb.test_columns()
    return Summary(
        assignment=info.id if info else "",
        title=info.title if info else "",
        max_score=info.max_score if info else 0.0,
        counts={"total": sum(counts.values()), **counts, "skipped": len(issues)},
        scores=_score_stats(scores),
        histogram=histogram(scores, info.max_score if info else 1.0),
        tests=_tests(gb),
        questions=_questions(gb),
        not_graded=gb.current_where(problems=False),
        troubled=gb.current_where(problems=True),
        notes=gb.intake_notes(),
        issues=issues,
        timing=_timing(gb),
        functions=info.questions if info else [],
        columns=columns,
        roster=roster(gb, columns),
        warning=gb.mixed_groundtruths(),
        manual=_manual(gb),
        suggestions_kept=suggestions.kept(gb.db) if gb.has_manual() else (0, 0),
    )


def _manual(gb: Gradebook) -> list[dict]:
    """Per manual question: its prompt and points, answers reviewed of all, and how often each rubric item was given."""
    if not gb.has_manual():
        return []
    reviews = Reviews(gb.db)
    progress, given = reviews.progress(), reviews.item_counts()
    return [
        {
            "name": q.name,
            "prompt": q.prompt,
            "points": q.points,
            "reviewed": progress.get(q.name, (0, 0))[0],
            "total": progress.get(q.name, (0, 0))[1],
            "items": [{"text": i.text, "points": i.points, "given": given.get((q.name, i.item), 0)} for i in q.rubric],
        }
        for q in reviews.questions()
    ]


def roster(gb: Gradebook, columns: list[dict]) -> list[dict]:
    """Each student's current attempt in student order: id, name, status, score, points per function, the status
    of each test of ``columns`` ('' where the attempt has none), the report's file, and whether it was graded
    against another ground truth than the gradebook's."""
    info = gb.assignment()
    functions = [f for f, _ in info.questions] if info else []
    out = []
    for r in gb.rows():
        by_question = {q["name"]: q for q in r.questions}
        tests = {(q["name"], t["name"]): t for q in r.questions for t in q.get("tests", [])}
        cells = [_cell(tests.get((c["question"], c["name"]))) for c in columns]
        out.append(
            {
                "student_id": r.student_id,
                "name": r.name,
                "status": r.status,
                "score": r.score,
                "max_score": r.max_score,
                "points": [_points(by_question.get(f)) for f in functions],
                "tests": cells,
                "report": f"reports/{r.student_id}.html",
                "other_groundtruth": bool(info) and r.groundtruth != info.groundtruth,
                "worker": str(r.result.get("provenance", {}).get("worker") or ""),
            }
        )
    return out


def _points(question: dict | None) -> dict:
    """A question's points and their share of its maximum (for the cell's shade); 0 of 0 for a missing one."""
    if not question:
        return {"score": 0.0, "share": 0.0}
    share = question["score"] / question["max_score"] if question["max_score"] else 0.0
    return {"score": question["score"], "share": share}


def _cell(test: dict | None) -> str:
    """'passed', 'failed', 'not run' (a notebook that could not run) or '' (no such test in this attempt)."""
    if test is None:
        return ""
    return "not run" if test.get("kind") == "not_run" else test["status"]


def histogram(scores: list[float], max_score: float, bins: int = BINS) -> list[Bar]:
    """``bins`` equal-width bars over [0, max_score] (the last includes the maximum), as SVG rectangles."""
    counts = [0] * bins
    for s in scores:
        i = int(s / max_score * bins) if max_score > 0 else 0
        counts[min(max(i, 0), bins - 1)] += 1
    top = max(counts) or 1
    width = CHART_W / bins
    bars = []
    for i, n in enumerate(counts):
        h = (CHART_H - 20) * n / top
        lo, hi = max_score * i / bins, max_score * (i + 1) / bins
        bars.append(Bar(i * width + 2, CHART_H - h, width - 4, h, n, f"{lo:.3g}–{hi:.3g}"))
    return bars


def _score_stats(scores: list[float]) -> dict[str, float]:
    if not scores:
        return {}
    mean, median = statistics.fmean(scores), statistics.median(scores)
    return {"mean": mean, "median": median, "min": min(scores), "max": max(scores)}


def _tests(gb: Gradebook) -> list[dict]:
    """Every test with its pass rate among graded submissions and its commonest failure message (first line, cut to
    :data:`MESSAGE_CHARS`; the failure kind where the message is empty); worst first."""
    out = []
    for r in gb.test_pass_rates():
        why = FAILURE_KINDS.get(r["kind"], r["kind"])
        first = (r["message"] or "").strip().splitlines()[:1]
        message = first[0][:MESSAGE_CHARS] + ("…" if len(first[0]) > MESSAGE_CHARS else "") if first else why
        out.append({**r, "rate": r["passed"] / r["n"], "why": why, "message": message})
    return out


def _questions(gb: Gradebook) -> list[dict]:
    info = gb.assignment()
    totals = gb.question_totals()
    out = []
    manual = {q.name for q in Reviews(gb.db).questions()}  # in their own section
    for name, pts in (dict(info.questions) if info else {}).items():
        if name in manual:
            continue
        r = totals.get(name)
        n = r["n"] if r else 0
        mean = r["score"] / n if n else 0.0
        full = (n - r["imperfect"]) / n if n else 0.0
        out.append({"name": name, "points": pts, "mean": mean, "rate": mean / pts if pts else 0.0, "full": full})
    return out


def _timing(gb: Gradebook) -> dict:
    seconds, runs = gb.graded_seconds(), gb.runs()
    for r in runs:
        r["wall"] = (r["finished"] - r["started"]) if r["finished"] else None
        r["when"] = time.strftime("%Y-%m-%d %H:%M", time.localtime(r["started"]))
    stats = {}
    if seconds:
        stats = {"mean": statistics.fmean(seconds), "median": statistics.median(seconds), "max": seconds[-1]}
    timing = {"runs": runs, "per_submission": stats, "slowest": gb.slowest(), "total": sum(seconds)}
    return {**timing, "workers": gb.workers()}


def write_summary(gb: Gradebook, out: Path) -> Path:
    """Render ``out/summary.html`` from the gradebook."""
    html = environment().get_template("summary.html.j2").render(s=build_summary(gb), chart_w=CHART_W, chart_h=CHART_H)
    return write_text(out / SUMMARY, html)
