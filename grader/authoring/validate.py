"""``grader validate``: is an assignment ready to release?

Six checks, each a :class:`Finding` (and, first, when the spec has manual questions, that each written question
has exactly one answer cell, with warnings for rubrics that cannot reach their points):
1. the ground truth is deterministic: every case's expected value computed twice is identical;
2. the instructor notebook (solutions in place) earns full marks;
3. the released template earns zero, and every test fails cleanly (no grader error, no unreadable output);
4. no graded function ships its solution: none passes all its cases in the released template (a function
   without solution markers is released as written; :mod:`grader.authoring.publish`);
5. the release leaks nothing: no solution line (of solution regions, of nbgrader's solution cells without
   regions, of written answers, of hidden tests: found here, not by the release's code), no reference
   source line (of ``reference/`` or of the assignment's own reference files), no hidden case (by name or by
   any of its tensors);
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
from grader.assignment.answer_cells import answer_cells, marker_id
from grader.assignment.groundtruth import build_plan
from grader.assignment.manual import manual_name
from grader.assignment.plan import GradingPlan, load_bundle
from grader.assignment.references import module_file
from grader.assignment.release import release, release_cells
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
    written = written_findings(assignment)
    if any(not f.passed for f in written):  # no release can be built: nothing else to check
        return Validation(written)
    plan = build_plan(assignment)
    findings = [*written, _deterministic(plan, build_plan(assignment))]
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


def written_findings(assignment: Assignment) -> list[Finding]:
    """Written questions and manual parts: each written question has exactly one answer cell in the instructor
    notebook (else the check fails); warnings for a rubric whose positive items cannot reach the question's
    points and for an answer cell of another kind than the spec's ``cell``. None without manual questions."""
    spec = assignment.spec
    if not spec.manual_points:
        return []
    nb = nbformat.read(assignment.notebook_path, as_version=4)
    problems, warnings = [], rubric_warnings(assignment)
    for question in spec.written:
        indices = answer_cells(nb, [question.id])[question.id]
        if len(indices) != 1:
            cells = f" (cells {', '.join(str(i + 1) for i in indices)})" if indices else ""
            problems.append(f"written question {question.id!r}: {len(indices)} answer cells{cells}, not one")
        elif (kind := nb.cells[indices[0]].cell_type) != question.cell:
            warnings.append(f"warning: the answer cell of {question.id!r} is a {kind} cell, not {question.cell}")
    detail = "; ".join(problems + warnings) or f"{len(spec.written)} written question(s), each with its answer cell"
    return [Finding("each written question has one answer cell; rubrics reach their points", not problems, detail)]


def rubric_warnings(assignment: Assignment) -> list[str]:
    """One warning per manual question whose rubric's positive items add up to less than its points."""
    spec = assignment.spec
    parts = [(w.id, w.points, w.rubric) for w in spec.written]
    parts += [(manual_name(q.function), q.manual.points, q.manual.rubric) for q in spec.questions if q.manual]
    return [
        f"warning: the rubric of {name!r} gives at most {reach:g} of its {points:g} points"
        for name, points, rubric in parts
        if (reach := sum(item.points for item in rubric if item.points > 0)) < points
    ]


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
    solution, _ = _notebook_lines(assignment)
    leaks = [f"solution line {line!r}" for line in sorted(solution) if line in text]
    instructor_text = _released_by_design(assignment)
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


def _released_by_design(assignment: Assignment) -> str:
    """The text the release keeps of the instructor notebook (code and Markdown), one stripped line each."""
    released = nbformat.read(assignment.notebook_path, as_version=4)
    release_cells(released, assignment.spec, assignment.notebook_path)
    return "\n".join(line.strip() for cell in released.cells for line in cell.source.splitlines())


def _notebook_lines(assignment: Assignment) -> tuple[set[str], set[str]]:
    """(solution lines worth checking for, stripped code lines students see anyway: signatures, docstrings).

    Markdown is not "seen anyway": a solution line quoted in a Markdown cell is a leak."""
    nb = nbformat.read(assignment.notebook_path, as_version=4)
    found = answer_cells(nb, [w.id for w in assignment.spec.written])
    answers = {index for indices in found.values() for index in indices}
    solution, visible = set(), set()
    for index, cell in enumerate(nb.cells):
        code = cell.cell_type == "code"
        for line, secret in _secret_lines(cell, index in answers):
            if secret and len(line) > 12 and not (code and line.startswith("#")):
                solution.add(line)
            elif not secret and code:
                visible.add(line)
    return solution - visible, visible


def _secret_lines(cell, answer: bool):
    """Each stripped line of ``cell`` and whether the release must remove it, decided here apart from the
    release's own code (so that the audit checks it): lines inside solution or hidden-test regions; every line
    of a solution cell without regions (by nbgrader's metadata, or a written question's answer cell; not a task
    cell, nor an ``answer:`` marker)."""
    lines = cell.source.splitlines()
    meta = cell.metadata.get("nbgrader")
    meta = meta if isinstance(meta, dict) else {}
    whole = (meta.get("solution") or answer) and not meta.get("task")
    whole = whole and not any("BEGIN SOLUTION" in line for line in lines)
    inside = False
    for line in lines:
        start = "BEGIN SOLUTION" in line or "BEGIN HIDDEN TESTS" in line
        inside = (inside or start) and not ("END SOLUTION" in line or "END HIDDEN TESTS" in line)
        yield line.strip(), bool(whole and marker_id(line) is None) or (inside and not start)


def _tensors(value):
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _tensors(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _tensors(v)
