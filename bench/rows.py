"""The rows of the speed table: each a way of grading (or just running) the same batch, timed by bench/measure.py.

  (a)  ``grader grade assignments/03-sampling DIR --out OUT --jobs 2 --quiet``: our grader as a teacher
       runs it, with its default kernel start (the fast start, where the machine supports it);
  (b)  the same with ``--no-fast-start``: the plain sandboxed kernel start ("not available" until
       ``grader grade --help`` lists that flag);
  (c)  nbgrader 0.9.6 ``autograde`` of the equivalent course (bench/nbgrader_course.py); serial: nbgrader
       has no parallel autograde;
  (d1) the floor, no tests at all: one ``jupyter nbconvert --execute`` process for all N notebooks;
  (d2) the same floor, two processes with N/2 notebooks each (2 at a time, like our --jobs 2).

A row's ``run(ctx)`` returns a :class:`~bench.measure.Measured`, or None with ``reason`` set when it
cannot run; ``marker`` matches the one output line per submission (for the table's "steady" column).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.measure import Measured, measure
from bench.nbgrader_course import autograde_cmd
from bench.tools import ASSIGNMENT, GRADER, NO_FAST_START, REPO, grader_env, grader_has_flag, nbconvert_cmd

JOBS = 2


@dataclass
class Ctx:
    """One benchmark run: the batch, where everything lives, the assignment's scoring."""

    n: int
    run: Path  # .bench/speed: everything of this run
    ours: Path  # the submissions as <id>.ipynb, for our grader and nbconvert
    course: Path  # the nbgrader course
    ids: list[str]
    jenv: dict  # nbgrader's and nbconvert's environment
    max_score: float
    questions: list

    def out(self, key: str) -> Path:
        """``grader grade``'s output folder of row ``key``."""
        return self.run / f"out-{key}"


@dataclass
class Mode:
    """One row of the table."""

    key: str
    label: str
    parallel: str
    marker: str = ""  # regex of the one output line per submission
    run: Callable[[Ctx], Measured | None] | None = None
    reason: str = ""  # why the row did not run
    result: Measured | None = None
    scores: dict[str, float] = field(default_factory=dict)


def run_ours(ctx: Ctx, extra: list[str], key: str) -> Measured:
    out = ctx.out(key)
    shutil.rmtree(out, ignore_errors=True)
    cmd = [str(GRADER), "grade", str(ASSIGNMENT), str(ctx.ours), "--out", str(out), "--jobs", str(JOBS), "--quiet"]
    return measure([cmd + extra], grader_env(), REPO, ctx.run / f"log-{key}.txt")


def run_fast(ctx: Ctx) -> Measured:
    return run_ours(ctx, [], "a")


def run_plain(ctx: Ctx) -> Measured | None:
    if not grader_has_flag("grade", NO_FAST_START):
        return None
    return run_ours(ctx, [NO_FAST_START], "b")


def run_nbgrader(ctx: Ctx) -> Measured:
    return measure([autograde_cmd()], ctx.jenv, ctx.course, ctx.run / "log-c.txt")


def run_floor(ctx: Ctx, parts: int, key: str) -> Measured:
    paths = sorted(ctx.ours.glob("*.ipynb"))
    out = ctx.run / f"nbconvert-{key}"
    shutil.rmtree(out, ignore_errors=True)
    cmds = [nbconvert_cmd(paths[i::parts], out) for i in range(parts)]
    return measure(cmds, ctx.jenv, ctx.run, ctx.run / f"log-{key}.txt")


def run_serial_floor(ctx: Ctx) -> Measured:
    return run_floor(ctx, 1, "d1")


def run_parallel_floor(ctx: Ctx) -> Measured:
    return run_floor(ctx, 2, "d2")


def our_scores(out: Path) -> dict[str, float]:
    """Full-precision scores from results/<id>.json (gradebook.csv rounds them for people)."""
    return {p.stem: float(json.loads(p.read_text())["score"]) for p in (out / "results").glob("*.json")}


OURS_LINE = r"^\S+: [\d.]+/[\d.]+ \("  # `grader grade --quiet`: one line per graded submission
NBCONVERT_LINE = r"Converting notebook "
NOT_AVAILABLE = f"not available: `grader grade --help` has no {NO_FAST_START} yet"


def modes() -> list[Mode]:
    """The table's rows, in order; add one here (with its run function) to benchmark another way of grading."""
    return [
        Mode("a", "our grader, default (fast) start", f"{JOBS} jobs", OURS_LINE, run_fast),
        Mode("b", f"our grader, {NO_FAST_START}", f"{JOBS} jobs", OURS_LINE, run_plain, NOT_AVAILABLE),
        Mode("c", "nbgrader 0.9.6 autograde", "serial", r"Autograding ", run_nbgrader),
        Mode("d1", "floor: nbconvert --execute, 1 process", "serial", NBCONVERT_LINE, run_serial_floor),
        Mode("d2", "floor: nbconvert --execute, 2 processes", "2 at once", NBCONVERT_LINE, run_parallel_floor),
    ]
