"""``grader validate``: is an assignment ready to release?

Six checks, each a :class:`Finding`:
1. the ground truth is deterministic: every case's expected value computed twice is identical;
2. the instructor notebook (solutions in place) earns full marks;
3. the released template earns zero, and every test fails cleanly (no grader error, no unreadable output);
4. no graded function ships its solution: none passes all its cases in the released template (a function
   without solution markers is released as written; :mod:`grader.authoring.publish`);
5. the release leaks nothing: no solution line, no reference source line (of ``reference/`` or of the
   assignment's own reference files), no hidden case (by name or by any of its tensors);
6. every example submission earns exactly its points of ``examples/expected.toml``
   (:mod:`grader.authoring.examples`).

The notebooks (instructor, template, examples) are graded ``jobs`` at a time.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import torch

import reference
from grader.assignment.groundtruth import build_plan
from grader.assignment.plan import GradingPlan, load_bundle
from grader.assignment.references import module_file
from grader.assignment.release import BEGIN, END, release
from grader.assignment.spec import Assignment
from grader.authoring.examples import TEMPLATE, example_notebooks, example_problems, expected_points
from grader.authoring.publish import shipped_solutions
from grader.authoring.tolerance import CaseTolerance, tolerances
from grader.grading.grade import grade_submission
from grader.grading.results import SubmissionResult
from grader.sandbox.launcher import Launcher

REFERENCE_SOURCE = Path(reference.__file__).resolve().parent
CLEAN_TEMPLATE_KINDS = {"exception", "missing", "wrong"}


@dataclass(frozen=True)
class Finding:
    check: str
    passed: bool
    detail: str = ""


INSTRUCTOR = "(instructor notebook)"  # the key of its result: no example's file stem


@dataclass
class Validation:
    """The findings, and each graded notebook's result by name (the instructor's, ``template``, examples)."""

    findings: list[Finding]
    results: dict[str, SubmissionResult] = field(default_factory=dict)
    tolerances: list[CaseTolerance] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(f.passed for f in self.findings)


def validate(assignment: Assignment, launcher: Launcher, jobs: int | None = None) -> Validation:
    plan = build_plan(assignment)
    findings = [_deterministic(plan, build_plan(assignment))]
    with tempfile.TemporaryDirectory(prefix="grader-validate-") as tmp:
        tmp = Path(tmp)
        template = release(assignment, tmp / "release", plan)
        notebooks = {INSTRUCTOR: assignment.notebook_path, TEMPLATE: template, **example_notebooks(assignment)}
        results = asyncio.run(grade_notebooks(plan, notebooks, launcher, tmp / "runs", jobs or os.cpu_count() or 1))
        solution, released = results[INSTRUCTOR], results[TEMPLATE]
        findings.append(
            Finding(
                "instructor solution earns full marks",
                solution.score == plan.max_score,
                f"{solution.score:.4g} / {plan.max_score:.4g}" + _failures(solution),
            )
        )
        unclean = [t for t in released.tests if t.kind not in CLEAN_TEMPLATE_KINDS]
        findings.append(
            Finding(
                "released template earns zero without grader errors",
                released.score == 0 and released.status == "graded" and not unclean,
                f"{released.score:.4g} points" + "".join(f"; {t.name}: {t.output or t.status}" for t in unclean),
            )
        )
        shipped = shipped_solutions(plan, released, Path(assignment.spec.notebook).name)
        findings.append(Finding("no graded function ships its solution", not shipped, "; ".join(shipped)))
        leaks = audit_release(tmp / "release", assignment, plan)
        findings.append(
            Finding("release leaks no solution, reference code or hidden case", not leaks, "; ".join(leaks))
        )
    problems = example_problems(assignment, plan, results)
    examples = sorted(set(results) - {INSTRUCTOR})
    detail = "; ".join(problems) or f"{len(examples)} graded as expected ({', '.join(examples)})"
    if expected_points(assignment) is None:
        detail = "none: add example submissions and their points in examples/expected.toml to test the tests"
    findings.append(Finding("examples earn their points of examples/expected.toml", not problems, detail))
    return Validation(findings, results, tolerances(assignment, plan))


async def grade_notebooks(
    plan: GradingPlan, notebooks: dict[str, Path], launcher: Launcher, workroot: Path, jobs: int
) -> dict[str, SubmissionResult]:
    """Grade every notebook (by name), ``jobs`` at a time, each in its own sandbox slot."""
    slots: asyncio.Queue[int] = asyncio.Queue()
    for slot in range(max(1, min(jobs, len(notebooks)))):
        slots.put_nowait(slot)

    async def one(name: str, notebook: Path) -> SubmissionResult:
        slot = await slots.get()
        try:
            return await grade_submission(plan, notebook, name, launcher, workroot, slot)
        finally:
            slots.put_nowait(slot)

    graded = await asyncio.gather(*(one(name, path) for name, path in notebooks.items()))
    return dict(zip(notebooks, graded, strict=True))


def _failures(result) -> str:
    return "".join(f"; {t.name}: {t.output[:200]}" for t in result.tests if t.status == "failed")


def _deterministic(a: GradingPlan, b: GradingPlan) -> Finding:
    differing = [
        f"{qa.function}: {ca.name}"
        for qa, qb in zip(a.questions, b.questions, strict=True)
        for ca, cb in zip(qa.cases, qb.cases, strict=True)
        if not _identical(ca.expected, cb.expected)
    ]
    return Finding("ground truth is deterministic (computed twice)", not differing, "; ".join(differing))


def _identical(x, y) -> bool:
    if isinstance(x, torch.Tensor):
        return isinstance(y, torch.Tensor) and x.dtype == y.dtype and x.shape == y.shape and torch.equal(x, y)
    if isinstance(x, (list, tuple)):
        return type(x) is type(y) and len(x) == len(y) and all(_identical(p, q) for p, q in zip(x, y, strict=True))
    if isinstance(x, dict):
        return list(x) == list(y) and all(_identical(x[k], y[k]) for k in x)
    return x == y or (x != x and y != y)  # NaN equals NaN here


def audit_release(folder: Path, assignment: Assignment, plan: GradingPlan) -> list[str]:
    """Everything in the release at ``folder`` that must not be there, as readable lines (empty: clean)."""
    text = "\n".join(_readable_text(p) for p in sorted(folder.rglob("*")) if p.is_file())
    solution, _ = _notebook_lines(assignment.notebook_path)
    leaks = [f"solution line {line!r}" for line in sorted(solution) if line in text]
    instructor_text = _released_by_design(assignment.notebook_path)
    reference = {
        line.strip()
        for p in _reference_files(assignment)
        for line in p.read_text().splitlines()
        if len(line.strip()) > 30 and line.strip() not in instructor_text
    }  # not: signatures, docstrings and worked examples the instructor wrote for students
    leaks += [f"reference source line {line!r}" for line in sorted(reference) if line in text]
    leaks += [f"code file {p.relative_to(folder)}" for p in folder.rglob("*.py")]
    hidden = [(q.function, c) for q in plan.questions for c in q.cases if c.hidden]
    leaks += [f"hidden case name {f}: {c.name!r}" for f, c in hidden if c.name in text]
    released = [
        t for q in load_bundle(folder / "tests").questions for c in q.cases for t in _tensors((c.args, c.expected))
    ]
    for function, case in hidden:
        for t in _tensors((case.args, case.expected)):
            if t.numel() > 4 and any(r.shape == t.shape and r.dtype == t.dtype and torch.equal(r, t) for r in released):
                leaks.append(f"a tensor of hidden case {function}: {case.name!r}")
    return leaks


def _reference_files(assignment: Assignment) -> list[Path]:
    """The grader's ``reference/`` package and every reference file of the assignment folder its spec names."""
    spec = assignment.spec
    targets = [spec.reference] + [t for q in spec.questions for c in q.cases for t in (q.reference, c.reference) if t]
    own = {module_file(t.partition(":")[0], assignment.folder) for t in targets}
    return sorted(REFERENCE_SOURCE.rglob("*.py")) + sorted(p for p in own if p is not None and p.is_file())


def _readable_text(path: Path) -> str:
    """A file's text as a reader sees it: a notebook's cell sources (not its JSON-escaped form), else bytes."""
    raw = path.read_bytes().decode("utf-8", "replace")
    if path.suffix == ".ipynb":
        try:
            cells = nbformat.reads(raw, as_version=4).cells
            return raw + "\n" + "\n".join(cell.source for cell in cells)
        except Exception:
            pass
    return raw


def _released_by_design(notebook: Path) -> str:
    """The instructor notebook's text outside solution regions (code and Markdown), one line each."""
    lines, inside = [], False
    for cell in nbformat.read(notebook, as_version=4).cells:
        for line in cell.source.splitlines():
            inside = (inside or "BEGIN SOLUTION" in line) and "END SOLUTION" not in line
            if not inside:
                lines.append(line.strip())
    return "\n".join(lines)


def _notebook_lines(notebook: Path) -> tuple[set[str], set[str]]:
    """(solution lines worth checking for, stripped code lines students see anyway: signatures, docstrings).

    Markdown is not "seen anyway": a solution line quoted in a Markdown cell is a leak."""
    solution, visible, inside = set(), set(), False
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        for line in cell.source.splitlines():
            if BEGIN.match(line) or "BEGIN SOLUTION" in line:
                inside = True
            elif END.match(line) or "END SOLUTION" in line:
                inside = False
            elif inside and len(line.strip()) > 12 and not line.strip().startswith("#"):
                solution.add(line.strip())
            elif not inside:
                visible.add(line.strip())
    return solution - visible, visible


def _tensors(value):
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _tensors(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _tensors(v)
