"""Where the time goes: the grader's own per-submission profile, and the tests' own work without a grader.

:func:`profile` reads ``execution.timings`` from each ``results/<id>.json`` of a ``grader grade`` run
(the phases of grader/grading/results.py's PHASES, measured by grader/grading/grade.py with time.perf_counter) and adds
report rendering, which the batch does after grading: each saved result is rendered again here with
grader.grading.report.render_reports into a scratch folder, timed (unless the result already records a
``report`` time). :func:`profile_table` prints the median of each phase over the batch.

:func:`tests_alone` and :func:`tests_in_kernel` time the tests' own work: the nbgrader source notebook
(solutions, helpers and every test cell) exec'd cell by cell in one fresh process without any kernel,
and the same notebook once in a kernel (nbconvert --execute, nbclient's per-cell timing).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.tools import KERNEL_ENV, OUR_PY, grader_env, nbconvert_cmd, run_checked

REPORT = "report"  # rendering the student's HTML + Markdown feedback (after grading, in the batch)
OTHER = "other"  # total minus the phases: reading the notebook, the run folder's set-up and removal


@dataclass
class Profile:
    """Per-phase seconds of every graded submission of one run, keyed by phase."""

    seconds: dict[str, list[float]] = field(default_factory=dict)
    graded: int = 0
    without_timings: int = 0
    isolation: set[str] = field(default_factory=set)

    def median(self, phase: str) -> float | None:
        values = self.seconds.get(phase)
        return statistics.median(values) if values else None


def profile(out: Path) -> Profile:
    """The phases of each graded submission in ``out/results``, with report rendering timed here."""
    from grader.grading.report import render_reports
    from grader.grading.results import PHASES, SubmissionResult

    prof = Profile()
    with tempfile.TemporaryDirectory(prefix="speed-reports-") as scratch:
        for path in sorted((out / "results").glob("*.json")):
            data = json.loads(path.read_text())
            execution = data.get("execution", {})
            prof.isolation.add(execution.get("isolation", "?"))
            timings = execution.get("timings") or {}
            if data.get("status") != "graded":
                continue
            prof.graded += 1
            if "total" not in timings:
                prof.without_timings += 1
                continue
            if REPORT not in timings:
                started = time.perf_counter()
                render_reports(SubmissionResult.load(path), Path(scratch))
                timings[REPORT] = time.perf_counter() - started
            for phase in [*PHASES, REPORT, "total"]:
                prof.seconds.setdefault(phase, []).append(float(timings.get(phase, 0.0)))
            other = timings["total"] - sum(float(timings.get(p, 0.0)) for p in PHASES)
            prof.seconds.setdefault(OTHER, []).append(other)
    return prof


def profile_table(profiles: dict[str, Profile | None]) -> str:
    """One row per phase, the median over each run's graded submissions, and its share of the total."""
    from grader.grading.results import PHASES

    labels = {**PHASES, OTHER: "the rest of grading: reading the notebook, the run folder"}
    labels[REPORT] = "rendering the feedback report (HTML + Markdown), after grading"
    labels["total"] = "grading one submission, start to end (report excluded)"
    runs = {k: p for k, p in profiles.items() if p and p.seconds}
    head = f"{'phase':16} " + " ".join(f"{f'({k}) median s':>15} {'share':>6}" for k in runs) + "  what"
    rows = [head, "-" * len(head)]
    for phase in [*PHASES, OTHER, "total", REPORT]:
        cells = []
        for prof in runs.values():
            value, total = prof.median(phase), prof.median("total")
            share = f"{100 * value / total:5.0f}%" if value is not None and total else ""
            cells.append(f"{value if value is not None else float('nan'):15.3f} {share:>6}")
        rows.append(f"{phase:16} " + " ".join(cells) + f"  {labels[phase]}")
    for key, prof in profiles.items():
        if prof is None:
            continue
        note = f"({key}) {prof.graded} graded submissions, kernels: {', '.join(sorted(prof.isolation))}"
        if prof.without_timings:
            note += f"; {prof.without_timings} without timings (a grader from before execution.timings)"
        rows.append(note)
    return "\n".join(rows)


def _part(grade_id: str) -> str:
    """Which part of the nbgrader notebook a cell is: ``import torch``, ``functions``, or the tested function."""
    if grade_id.startswith("test_"):
        return grade_id.rsplit("_", 1)[0].removeprefix("test_")
    return "import torch" if grade_id == "imports" else "functions"


TESTS_ALONE = """
import contextlib, io, json, sys, time
t0 = time.perf_counter()
import nbformat
nb = nbformat.read(sys.argv[1], as_version=4)
ns, parts = {}, {}
for cell in nb.cells:
    if cell.cell_type != "code":
        continue
    gid = cell.metadata.get("nbgrader", {}).get("grade_id", "demo")
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        exec(cell.source, ns)
    parts[gid] = parts.get(gid, 0.0) + time.perf_counter() - started
parts["process total"] = time.perf_counter() - t0
print(json.dumps(parts))
"""


def tests_alone(source: Path, cwd: Path, reps: int) -> dict[str, float]:
    """The tests' own work, without any kernel: ``source`` (the nbgrader notebook) exec'd cell by cell in
    one fresh .venv process; median seconds per part over ``reps`` runs, and "process total"."""
    env = {**grader_env(), **KERNEL_ENV, "PYTHONWARNINGS": "ignore"}
    runs = []
    for _ in range(reps):
        out = run_checked([str(OUR_PY), "-c", TESTS_ALONE, str(source)], env, cwd, "tests alone")
        by_cell = json.loads(out.strip().splitlines()[-1])
        parts: dict[str, float] = {"process total": by_cell.pop("process total")}
        for gid, seconds in by_cell.items():
            parts[_part(gid)] = parts.get(_part(gid), 0.0) + seconds
        runs.append(parts)
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def tests_in_kernel(source: Path, out: Path, jenv: dict) -> dict[str, float]:
    """``source`` run once by ``nbconvert --execute`` in a kernel; seconds per part from nbclient's cell
    timing (execute_input to execute_reply), and the CLI's wall time as "process total"."""
    from datetime import datetime

    import nbformat

    started = time.monotonic()
    run_checked(nbconvert_cmd([source], out), jenv, out.parent, "nbconvert of the nbgrader source notebook")
    parts: dict[str, float] = {}
    for cell in nbformat.read(out / source.name, as_version=4).cells:
        timing = cell.metadata.get("execution", {})
        if cell.cell_type != "code" or "shell.execute_reply" not in timing:
            continue
        key = _part(cell.metadata.get("nbgrader", {}).get("grade_id", "demo"))
        seconds = (
            datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
            - datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
        ).total_seconds()
        parts[key] = parts.get(key, 0.0) + seconds
    parts["process total"] = time.monotonic() - started
    return parts


def tests_lines(alone: dict[str, dict[str, float]], cases: int) -> list[str]:
    """One line per way of running the tests' notebook: total, the tests' share, seconds per part."""
    where = {
        "plain": f"the {cases} tests' own work, no kernel (its nbgrader notebook exec'd in one fresh process, median)",
        "kernel": "the same notebook in a kernel (nbconvert --execute, 1 run, nbclient's cell timing)",
    }
    lines = []
    for name, parts in alone.items():
        parts = dict(parts)
        total = parts.pop("process total")
        tests = sum(v for k, v in parts.items() if k not in ("import torch", "functions"))
        detail = ", ".join(f"{k} {v:.2f}" for k, v in parts.items() if v >= 0.01)
        lines.append(f"{where[name]}: {total:.2f} s in all, tests {tests:.2f} s; per part: {detail}")
    return lines
