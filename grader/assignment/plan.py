"""A grading plan: every case with its inputs and expected value, ready to run against a notebook.

Final grading builds the plan from the assignment (:func:`grader.assignment.groundtruth.build_plan`); a student's
self-check loads the public part from a release's test bundle (:func:`load_bundle`). Both then go
through the same engine, so a check and a grade never disagree on a public case.

A bundle is two files (:mod:`grader.assignment.bundle`): ``public.json`` (the plan, with every value in
:mod:`grader.boundary.wire` encoding, and the asset names as plain JSON) and ``public.safetensors`` (its
tensors). No pickle, no code.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import TypeAdapter

from grader.assignment.bundle import BUNDLE_JSON, BUNDLE_TENSORS
from grader.assignment.manual import ManualQuestion
from grader.assignment.spec import Compare, Limits
from grader.boundary import wire
from grader.errors import ReleaseError

_COMPARE = TypeAdapter(Compare)


@dataclass
class CasePlan:
    name: str
    compare: Compare
    args: dict
    expected: object
    hidden: bool = False
    weight: float = 1.0


@dataclass
class QuestionPlan:
    function: str
    points: float
    cases: list[CasePlan]
    description: str = ""
    hidden_cases: int = 0  # hidden cases not in this plan (a self-check plan lists only public ones)


@dataclass
class GroundTruthCounts:
    """How a plan's expected values were obtained: read from the ground-truth cache or computed now."""

    cached: int = 0
    computed: int = 0
    discarded: int = 0  # cache entries that could not be trusted (their cases are among the computed)

    def __str__(self) -> str:
        bad = f", {self.discarded} unreadable cache entries" if self.discarded else ""
        return f"ground truth: {self.cached} cached, {self.computed} computed{bad}"


@dataclass
class GradingPlan:
    assignment: str
    title: str
    version: str
    limits: Limits
    questions: list[QuestionPlan]
    assets: dict[str, Path] = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
    groundtruth: GroundTruthCounts = field(default_factory=GroundTruthCounts)
    groundtruth_key: str = ""  # the content hash of every case's ground truth (empty for a self-check bundle)
    manual: list[ManualQuestion] = field(default_factory=list)  # what TAs grade by hand (not in a bundle)

    @property
    def max_score(self) -> float:
        """The automatic points (a TA's manual points come on top: :attr:`manual_points`)."""
        return sum(q.points for q in self.questions)

    @property
    def manual_points(self) -> float:
        return sum(m.points for m in self.manual)

    def public(self) -> GradingPlan:
        """The same plan without hidden cases (their number is kept per question)."""
        questions = [
            QuestionPlan(
                q.function,
                q.points,
                [c for c in q.cases if not c.hidden],
                q.description,
                q.hidden_cases + sum(c.hidden for c in q.cases),
            )
            for q in self.questions
        ]
        return GradingPlan(
            self.assignment, self.title, self.version, self.limits, questions, dict(self.assets), dict(self.provenance)
        )


def save_bundle(plan: GradingPlan, folder: Path) -> None:
    """Write the plan's cases as a test bundle; refuses a plan that still has hidden cases."""
    if any(c.hidden for q in plan.questions for c in q.cases):
        raise ReleaseError("refusing to write hidden cases into a bundle; call plan.public() first")
    json_bytes, tensor_bytes = encode_plan(plan)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / BUNDLE_JSON).write_bytes(json_bytes)
    (folder / BUNDLE_TENSORS).write_bytes(tensor_bytes)


def encode_plan(plan: GradingPlan) -> tuple[bytes, bytes]:
    """The plan as a bundle's two files' bytes (JSON, safetensors). Hidden cases are kept, marked ``"hidden"``:
    only :func:`save_bundle` refuses them (a release); a cluster's workers, the staff's machines, get them."""
    body = {
        "assignment": plan.assignment,
        "title": plan.title,
        "version": plan.version,
        "limits": plan.limits.model_dump(),
        "provenance": plan.provenance,
        "assets": sorted(plan.assets),
        "questions": [
            {
                "function": q.function,
                "points": q.points,
                "description": q.description,
                "hidden_cases": q.hidden_cases,
                "cases": [_case_body(c) for c in q.cases],
            }
            for q in plan.questions
        ],
    }
    return wire.dumps(body, plain={"assets": sorted(plan.assets)})


def _case_body(c: CasePlan) -> dict:
    body = {
        "name": c.name,
        "compare": c.compare.model_dump(),
        "weight": c.weight,
        "args": c.args,
        "expected": c.expected,
    }
    if c.hidden:  # only then: a public bundle's bytes stay as they were before hidden cases could be encoded
        body["hidden"] = True
    return body


def load_bundle(folder: Path, assets_folder: Path | None = None) -> GradingPlan:
    """Read a bundle written by :func:`save_bundle`; assets are looked up in ``assets_folder/<name>``."""
    try:
        json_bytes, tensor_bytes = (folder / BUNDLE_JSON).read_bytes(), (folder / BUNDLE_TENSORS).read_bytes()
    except FileNotFoundError as exc:
        raise ReleaseError(f"{folder}: no test bundle here ({exc.filename} is missing)") from None
    assets_folder = assets_folder or folder.parent / "assets"
    return decode_plan(json_bytes, tensor_bytes, lambda name: assets_folder / name, str(folder / BUNDLE_JSON))


def decode_plan(json_bytes: bytes, tensor_bytes: bytes, asset: Callable[[str], Path], where: str) -> GradingPlan:
    """The plan :func:`encode_plan` made these bytes from; ``asset(name)`` is where each asset is here."""
    try:
        body = wire.loads(json_bytes, tensor_bytes)
        questions = [
            QuestionPlan(
                q["function"],
                float(q["points"]),
                [
                    CasePlan(
                        c["name"],
                        _COMPARE.validate_python(c["compare"]),
                        c["args"],
                        c["expected"],
                        hidden=c.get("hidden", False) is True,
                        weight=float(c["weight"]),
                    )
                    for c in q["cases"]
                ],
                q["description"],
                int(q["hidden_cases"]),
            )
            for q in body["questions"]
        ]
        return GradingPlan(
            body["assignment"],
            body["title"],
            body["version"],
            Limits(**body["limits"]),
            questions,
            {name: asset(name) for name in body["assets"]},
            body["provenance"],
        )
    except (wire.WireError, KeyError, TypeError, ValueError, json.JSONDecodeError) as exc:
        raise ReleaseError(f"{where}: not a valid test bundle: {exc}") from None
