"""``grader validate --mutants``: are the tests good enough? Mutation analysis of the instructor's solution.

Every mutant (:mod:`grader.authoring.mutants`) is a copy of the instructor notebook with one small bug in
one graded function. Each is graded like a submission (the plan's ground truth computed once, fast-start
sandboxed kernels, ``jobs`` at a time; the cell and call time limits capped at ``MUTANT_TIMEOUT_S``, since
many mutants loop forever): a mutant is *killed* when it loses any point, by the tests that failed. A
survivor is *likely equivalent* when, run on the host (:mod:`grader.authoring.behaviour`), it behaves
exactly as the solution on every case's inputs and on random variants of them: no test can tell them apart.
Any other survivor is a gap in the tests. The score is killed / (mutants - likely equivalent).

The host run also gives each killed mutant's *effect* on each ``close`` case (largest absolute difference
from the expected value), which the tolerance report (:mod:`grader.authoring.tolerance`) compares with the
case's tolerance.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from grader.assignment.groundtruth import build_plan
from grader.assignment.plan import GradingPlan
from grader.assignment.spec import Assignment
from grader.authoring import behaviour
from grader.authoring.mutants import Mutant, notebook_mutants
from grader.authoring.power import CasePower, distribution_power
from grader.authoring.validate import grade_notebooks
from grader.compare.rules import CloseCompare
from grader.sandbox.launcher import Launcher

MUTANT_TIMEOUT_S = 10.0  # a mutant that loops forever costs this per cell and per call, not the spec's limits


@dataclass
class MutantOutcome:
    mutant: Mutant
    status: str  # "killed", "survived" or "equivalent" (likely equivalent)
    killed_by: list[str] = field(default_factory=list)  # the failed tests' names (or why the notebook failed)
    effects: dict[str, float] = field(default_factory=dict)  # close case name -> effect on its expected value


@dataclass
class MutationAnalysis:
    assignment: str
    outcomes: list[MutantOutcome]
    power: list[CasePower]
    seconds: float

    def counts(self, function: str | None = None) -> tuple[int, int, int]:
        """(killed, survived, likely equivalent) of one function's mutants (all of them for None)."""
        mine = [o for o in self.outcomes if function is None or o.mutant.function == function]
        return tuple(sum(o.status == s for o in mine) for s in ("killed", "survived", "equivalent"))  # type: ignore[return-value]

    def score(self, function: str | None = None) -> float:
        killed, survived, _ = self.counts(function)
        return killed / (killed + survived) if killed + survived else 1.0


def analyse(assignment: Assignment, launcher: Launcher, jobs: int | None = None) -> MutationAnalysis:
    """Grade every mutant of the instructor's solution and classify it (see the module's docstring)."""
    started = time.monotonic()
    plan = build_plan(assignment)
    fast = {k: min(getattr(plan.limits, k), MUTANT_TIMEOUT_S) for k in ("cell_timeout_s", "call_timeout_s")}
    plan = dataclasses.replace(plan, limits=plan.limits.model_copy(update=fast))
    mutants = notebook_mutants(assignment.notebook_path, [q.function for q in plan.questions])
    with tempfile.TemporaryDirectory(prefix="grader-mutants-") as tmp:
        notebooks = _write_mutants(assignment.notebook_path, mutants, Path(tmp))
        workers = jobs or os.cpu_count() or 1
        results = asyncio.run(grade_notebooks(plan, notebooks, launcher, Path(tmp) / "runs", workers))
    outcomes = []
    for mutant in mutants:
        result = results[mutant.id]
        failed = [t.name for t in result.tests if t.status == "failed"]
        if result.status != "graded" and not failed:
            failed = [f"notebook {result.status}: {result.message}"[:200]]
        outcomes.append(
            MutantOutcome(mutant, "killed" if failed or result.score < plan.max_score else "survived", failed)
        )
    _run_on_host(assignment, plan, outcomes)
    return MutationAnalysis(assignment.spec.id, outcomes, distribution_power(plan), time.monotonic() - started)


def _write_mutants(notebook: Path, mutants: list[Mutant], folder: Path) -> dict[str, Path]:
    """Each mutant as a notebook file in ``folder`` (the instructor's with one cell replaced), by mutant id."""
    original = nbformat.read(notebook, as_version=4)
    paths = {}
    for mutant in mutants:
        copy = nbformat.from_dict(original)
        copy.cells[mutant.cell].source = mutant.source
        paths[mutant.id] = folder / f"{mutant.id}.ipynb"
        nbformat.write(copy, paths[mutant.id])
    return paths


def _run_on_host(assignment: Assignment, plan: GradingPlan, outcomes: list[MutantOutcome]) -> None:
    """Mark the likely equivalent survivors; record the killed mutants' effects on ``close`` cases."""
    solution = behaviour.definitions(assignment.notebook_path)
    questions = {q.function: q for q in plan.questions}
    reference: dict[str, list] = {}
    for outcome in outcomes:
        function = outcome.mutant.function
        question = questions[function]
        inputs = behaviour.input_sets(question.cases)
        if function not in reference:
            reference[function] = behaviour.outcomes(solution, function, inputs, plan.assets)
        if outcome.status == "survived":
            mutated = behaviour.definitions(assignment.notebook_path, {outcome.mutant.cell: outcome.mutant.source})
            theirs = behaviour.outcomes(mutated, function, inputs, plan.assets)
            if all(_same_outcome(a, b) for a, b in zip(reference[function], theirs, strict=True)):
                outcome.status = "equivalent"
        else:
            close = [c for c in question.cases if isinstance(c.compare, CloseCompare)]
            if close:
                mutated = behaviour.definitions(assignment.notebook_path, {outcome.mutant.cell: outcome.mutant.source})
                values = behaviour.outcomes(mutated, function, [c.args for c in close], plan.assets)
                for case, (kind, value) in zip(close, values, strict=True):
                    size = behaviour.effect(value, case.expected) if kind == "value" else None
                    if size is not None:
                        outcome.effects[case.name] = size


def _same_outcome(a: tuple, b: tuple) -> bool:
    return a[0] == b[0] and (behaviour.same(a[1], b[1]) if a[0] == "value" else a[1] == b[1])
