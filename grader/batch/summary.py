"""The class summary: which tests the class failed most, the score distribution, what broke, how long it took.

Computed from the gradebook with SQL aggregates (the current attempt of each student), so it costs the same
memory for 30 or 3,000 students, and rendered from ``templates/summary.html.j2`` into one self-contained
HTML file: the plots are inline SVG and CSS, with no script and no link to anything outside the file.

Pass rates per test and per question count only submissions that were graded; a notebook that could not be
read at all is listed under "not graded normally" instead of counting as a failure of every test.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from grader.batch.gradebook import Gradebook
from grader.grading.report import environment
from grader.grading.results import FAILURE_KINDS

SUMMARY = "summary.html"
BINS = 10
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
    generated: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M"))


def build_summary(gb: Gradebook) -> Summary:
    info = gb.assignment()
    q = gb.db.execute
    counts = {r["status"]: r["n"] for r in q("SELECT status, count(*) AS n FROM current GROUP BY status")}
    scores = [r[0] for r in q("SELECT score FROM current WHERE status = 'graded'")]
    return Summary(
        assignment=info.id if info else "",
        title=info.title if info else "",
        max_score=info.max_score if info else 0.0,
        counts={"total": sum(counts.values()), **counts},
        scores=_score_stats(scores),
        histogram=histogram(scores, info.max_score if info else 1.0),
        tests=_tests(gb),
        questions=_questions(gb),
        not_graded=[dict(r) for r in q(_LIST.format(where="status != 'graded'"))],
        troubled=[dict(r) for r in q(_LIST.format(where="status = 'graded' AND problems != ''"))],
        notes=[dict(r) for r in q("SELECT student_id, name, note FROM students WHERE note != '' AND problem = ''")],
        issues=[r[0] for r in q("SELECT message FROM issues WHERE run_id = (SELECT max(id) FROM runs)")],
        timing=_timing(gb),
    )


_LIST = (
    "SELECT c.student_id, c.name, c.status, c.message, c.problems, c.seconds FROM current c "
    "WHERE {where} ORDER BY c.student_id"
)


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
    """Every test with its pass rate among graded submissions and its commonest reason for failing; worst first."""
    rows = gb.db.execute(
        "SELECT t.question, t.name, max(t.hidden) AS hidden, count(*) AS n, sum(t.status = 'passed') AS passed "
        "FROM tests t JOIN current c ON t.attempt_id = c.id WHERE c.status = 'graded' "
        "GROUP BY t.question, t.name ORDER BY 1.0 * passed / n, t.question, t.name"
    ).fetchall()
    kinds = {}
    for r in gb.db.execute(
        "SELECT t.name, t.kind, count(*) AS n FROM tests t JOIN current c ON t.attempt_id = c.id "
        "WHERE c.status = 'graded' AND t.status = 'failed' GROUP BY t.name, t.kind ORDER BY n"
    ):
        kinds[r["name"]] = FAILURE_KINDS.get(r["kind"], r["kind"])  # the commonest kind is written last
    return [{**dict(r), "rate": r["passed"] / r["n"], "why": kinds.get(r["name"], "")} for r in rows]


def _questions(gb: Gradebook) -> list[dict]:
    info = gb.assignment()
    points = dict(info.questions) if info else {}
    rows = gb.db.execute(
        "SELECT t.question, count(DISTINCT c.id) AS n, sum(t.score) AS score, "
        "count(DISTINCT CASE WHEN t.status = 'failed' THEN c.id END) AS imperfect "
        "FROM tests t JOIN current c ON t.attempt_id = c.id WHERE c.status = 'graded' GROUP BY t.question"
    ).fetchall()
    by_name = {r["question"]: r for r in rows}
    out = []
    for name, pts in points.items():
        r = by_name.get(name)
        n = r["n"] if r else 0
        mean = r["score"] / n if n else 0.0
        full = (n - r["imperfect"]) / n if n else 0.0
        out.append({"name": name, "points": pts, "mean": mean, "rate": mean / pts if pts else 0.0, "full": full})
    return out


def _timing(gb: Gradebook) -> dict:
    seconds = [r[0] for r in gb.db.execute("SELECT seconds FROM current WHERE status = 'graded' ORDER BY seconds")]
    runs = [dict(r) for r in gb.db.execute("SELECT id, started, finished, jobs, isolation, graded FROM runs")]
    for r in runs:
        r["wall"] = (r["finished"] - r["started"]) if r["finished"] else None
        r["when"] = time.strftime("%Y-%m-%d %H:%M", time.localtime(r["started"]))
    slowest = [dict(r) for r in gb.db.execute("SELECT student_id, seconds FROM current ORDER BY seconds DESC LIMIT 5")]
    stats = {}
    if seconds:
        stats = {"mean": statistics.fmean(seconds), "median": statistics.median(seconds), "max": seconds[-1]}
    return {"runs": runs, "per_submission": stats, "slowest": slowest, "total": sum(seconds)}


def write_summary(gb: Gradebook, out: Path) -> Path:
    """Render ``out/summary.html`` from the gradebook."""
    html = environment().get_template("summary.html.j2").render(s=build_summary(gb), chart_w=CHART_W, chart_h=CHART_H)
    path = out / SUMMARY
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    return path
