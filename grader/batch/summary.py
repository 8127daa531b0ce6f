"""The class summary: which tests the class failed most, the score distribution, what broke, how long it took.

Computed from the gradebook's aggregates (:mod:`grader.batch.gradebook`: SQL over the current attempt of each
student), so it costs the same memory for 30 or 3,000 students, and rendered from ``templates/summary.html.j2``
into one self-contained HTML file: the plots are inline SVG and CSS, with no script and no link to anything
outside the file.

Pass rates per test and per question count only submissions that were graded; a notebook that could not be
read at all is listed under "not graded normally" instead of counting as a failure of every test.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from grader.batch.gradebook import Gradebook
from grader.common.files import write_text
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
    counts, scores = gb.status_counts(), gb.graded_scores()
    return Summary(
        assignment=info.id if info else "",
        title=info.title if info else "",
        max_score=info.max_score if info else 0.0,
        counts={"total": sum(counts.values()), **counts},
        scores=_score_stats(scores),
        histogram=histogram(scores, info.max_score if info else 1.0),
        tests=_tests(gb),
        questions=_questions(gb),
        not_graded=gb.current_where(problems=False),
        troubled=gb.current_where(problems=True),
        notes=gb.intake_notes(),
        issues=gb.latest_issues(),
        timing=_timing(gb),
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
    return [
        {**r, "rate": r["passed"] / r["n"], "why": FAILURE_KINDS.get(r["kind"], r["kind"])}
        for r in gb.test_pass_rates()
    ]


def _questions(gb: Gradebook) -> list[dict]:
    info = gb.assignment()
    totals = gb.question_totals()
    out = []
    for name, pts in (dict(info.questions) if info else {}).items():
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
    return {"runs": runs, "per_submission": stats, "slowest": gb.slowest(), "total": sum(seconds)}


def write_summary(gb: Gradebook, out: Path) -> Path:
    """Render ``out/summary.html`` from the gradebook."""
    html = environment().get_template("summary.html.j2").render(s=build_summary(gb), chart_w=CHART_W, chart_h=CHART_H)
    return write_text(out / SUMMARY, html)
