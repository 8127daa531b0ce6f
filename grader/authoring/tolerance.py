"""The tolerance of each ``close`` case against the numerical noise of its expected value.

Each ``close`` case's expected value is computed again on the host: with its float inputs in float64, and
with 1, 2 and 4 threads (and on CUDA when present), and the largest difference from the expected value is
the case's *noise*. A tolerance (``atol + rtol * |expected|``, its smallest element) below 10x the noise is
*fragile*: other hardware, thread counts or a correct reordering of the sums may fail a correct solution.
With a mutation analysis, a tolerance is *too loose* when a killed mutant changed this case's value by more
than 100x the noise (taken as at least one rounding step of the largest element: a real effect, not
rounding) and this case still passed it (another case killed it).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from grader.assignment.groundtruth import build_plan
from grader.assignment.inputs import materialize
from grader.assignment.plan import GradingPlan
from grader.assignment.references import run_reference
from grader.assignment.spec import Assignment
from grader.authoring.behaviour import effect
from grader.compare.rules import CloseCompare
from grader.errors import SpecError

THREADS = (1, 2, 4)
FRAGILE = 10.0
REAL_EFFECT = 100.0


@dataclass
class CaseTolerance:
    function: str
    case: str
    atol: float
    rtol: float
    tolerance: float  # the smallest allowed difference over the expected value's elements
    noise: float  # the largest difference seen between the recomputations and the expected value
    ratio: float  # the smallest, over the elements, of the allowed difference over the difference seen
    sources: str  # which recomputations ran ("float64, 1 thread, ...")
    ulp: float = 0.0  # the rounding step of the expected value's dtype at its largest element: noise is never less

    @property
    def fragile(self) -> bool:
        return self.ratio < FRAGILE


def tolerances(assignment: Assignment, plan: GradingPlan | None = None) -> list[CaseTolerance]:
    """The noise and the tolerance of every ``close`` case whose expected value is a float tensor."""
    plan = plan or build_plan(assignment)
    spec, rows = assignment.spec, []
    for question, planned in zip(spec.questions, plan.questions, strict=True):
        for case, cp in zip(question.cases, planned.cases, strict=True):
            rule = cp.compare
            if not isinstance(rule, CloseCompare) or not _float_tensor(cp.expected):
                continue
            where = f"{assignment.folder / 'assignment.toml'}: question '{question.function}', case '{case.name}'"
            args = (
                cp.args
                if case.reference_args is None
                else materialize(case.reference_args, assignment.folder, plan.assets, where)
            )
            target = spec.reference_for(question, case)
            noise, sources = _noise(target, args, cp.expected, plan, where, assignment)
            allowed = rule.atol + rule.rtol * cp.expected.double().abs()
            ratios = allowed[noise > 0] / noise[noise > 0]
            ratio = float(ratios.min()) if ratios.numel() else float("inf")
            worst = float(noise.max()) if noise.numel() else 0.0
            rows.append(
                CaseTolerance(
                    question.function,
                    case.name,
                    rule.atol,
                    rule.rtol,
                    float(allowed.min()),
                    worst,
                    ratio,
                    sources,
                    torch.finfo(cp.expected.dtype).eps * float(cp.expected.double().abs().nan_to_num(0, 0, 0).max()),
                )  # fmt: skip
            )
    return rows


def too_loose(row: CaseTolerance, analysis) -> float | None:
    """The smallest effect on this case of a killed mutant that the case's tolerance lets through, or None."""
    if analysis is None:
        return None
    passed = [
        size
        for o in analysis.outcomes
        if o.status == "killed" and o.mutant.function == row.function
        for size in [o.effects.get(row.case)]
        if size is not None
        and size > REAL_EFFECT * max(row.noise, row.ulp)
        and f"{row.function}: {row.case}" not in o.killed_by
    ]  # the case passed this mutant although its value moved far beyond the noise
    return min(passed) if passed else None


def _noise(target: str, args: dict, expected: torch.Tensor, plan: GradingPlan, where: str, assignment):
    """(elementwise largest |recomputed - expected| over the recomputations, which of them ran)."""
    runs = {"float64": lambda: run_reference(target, _to64(args), plan.assets, where, assignment.folder)}
    before = torch.get_num_threads()
    for count in THREADS:
        runs[f"{count} thread{'s' if count > 1 else ''}"] = _threaded(count, target, args, plan, where, assignment)
    noise, used = torch.zeros(expected.shape, dtype=torch.float64), []
    for name, run in runs.items():
        try:
            value = _like(run(), expected)
        except SpecError:
            continue
        finally:
            torch.set_num_threads(before)
        if effect(value, expected) is not None:
            diff = (value.double() - expected.double()).abs().nan_to_num(0.0, 0.0, 0.0)
            noise, used = torch.maximum(noise, diff), used + [name]
    if torch.cuda.is_available():
        used.append("cuda: follows reference.device")
    return noise, ", ".join(used)


def _threaded(count: int, target, args, plan, where, assignment):
    def run():
        torch.set_num_threads(count)
        return run_reference(target, args, plan.assets, where, assignment.folder)

    return run


def _like(value, expected: torch.Tensor):
    return value.to(expected.dtype) if isinstance(value, torch.Tensor) and value.is_floating_point() else value


def _to64(value):
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return value.double()
    if isinstance(value, dict):
        return {k: _to64(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to64(v) for v in value]
    return value


def _float_tensor(value) -> bool:
    return isinstance(value, torch.Tensor) and value.is_floating_point() and value.numel() > 0
