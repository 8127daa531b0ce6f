"""What grading a submission produces: typed results, saved as Gradescope-shaped ``results/<id>.json``.

Gradescope's ``results.json`` fields (``score``, ``max_score``, ``output``, ``tests[]`` with ``name``,
``score``, ``max_score``, ``status``, ``output``, ``visibility``) are kept exactly, so the file can be
uploaded there as is; ``questions`` (per graded function) and ``execution`` are additions.
``execution.timings`` says where a graded submission's time went (see :data:`PHASES`); results saved
before it existed load with no timings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from grader.common.files import write_text

FailureKind = Literal[
    "wrong", "missing", "exception", "timeout", "too_large", "unencodable", "invalid_output", "not_callable", "dead",
    "not_run",
]  # fmt: skip
TestKind = Literal["passed"] | FailureKind
CellStatus = Literal["ok", "error", "timeout", "dead", "skipped"]
SubmissionStatus = Literal["graded", "invalid", "error"]

# Why a test did not pass, shown to the student in words; hidden tests show only these.
FAILURE_KINDS: dict[FailureKind, str] = {
    "wrong": "returned a wrong value",
    "missing": "the function is not defined",
    "exception": "raised an exception",
    "timeout": "did not finish in time",
    "too_large": "returned a value that is too large",
    "unencodable": "returned a value of an unsupported type",
    "invalid_output": "its result could not be read",
    "not_callable": "the name is not a function",
    "dead": "the kernel died during the call",
    "not_run": "could not be run",
}

# Where one submission's grading time went, in seconds (``execution.timings``): disjoint phases of
# grade_submission, measured with time.perf_counter, and ``total``, its whole duration (the phases add up
# to at most ``total``; the rest is reading the notebook and the run folder's set-up and removal).
PHASES = {
    "kernel_start": "starting the kernel, until it answers (kernel_info)",
    "cells": "the notebook's code cells, one after the other (recoveries from hangs and crashes included)",
    "harness_install": "defining the grading harness in the kernel",
    "calls": "calls of the student's functions: writing the inputs, the call in the kernel, reading the result",
    "compare": "comparing each result with the expected value, on the host",
    "kernel_stop": "shutting the kernel down and cleaning up after it",
}


class TestResult(BaseModel):
    name: str
    question: str
    score: float
    max_score: float
    status: Literal["passed", "failed"]
    kind: TestKind = Field(description="'passed' or a key of FAILURE_KINDS.")
    output: str = ""
    hidden: bool = False
    inputs: str = Field("", description="A failed public case's inputs as code, or the line that loads them.")

    def gradescope(self) -> dict:
        return {
            "name": self.name,
            "score": self.score,
            "max_score": self.max_score,
            "status": self.status,
            "output": self.output,
            "visibility": "after_published" if self.hidden else "visible",
            "kind": self.kind,
            "inputs": self.inputs,
        }


class ManualResult(BaseModel):
    """A TA's grading of one manually graded question (see :mod:`grader.batch.reviews`)."""

    prompt: str
    reviewed: bool = Field(description="False: not reviewed yet (its points count as 0 meanwhile).")
    given: list[tuple[str, float]] = Field(default_factory=list, description="(rubric text, points) ticked.")
    comment: str = ""
    adjustment: float = 0.0


class QuestionResult(BaseModel):
    name: str
    score: float
    max_score: float
    tests: list[TestResult]
    manual: ManualResult | None = Field(None, description="Set for a question a TA grades by hand.")


class CellSummary(BaseModel):
    index: int = Field(description="The cell's position in the notebook, Markdown cells included, from 0.")
    status: CellStatus
    message: str = ""
    label: str = Field("", description='How the student finds it: code cell K ("its first line").')


class SubmissionResult(BaseModel):
    student_id: str
    assignment: str
    status: SubmissionStatus = Field(
        description="'graded'; 'invalid' when the file is not a usable notebook; 'error' when grading failed."
    )
    score: float
    max_score: float
    message: str = ""
    questions: list[QuestionResult] = Field(default_factory=list)
    cells: list[CellSummary] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    isolation: str = ""
    seconds: float = 0.0
    timings: dict[str, float] = Field(
        default_factory=dict, description="Seconds per phase of PHASES, and 'total' (see PHASES)."
    )
    provenance: dict = Field(default_factory=dict)
    calls: dict[str, list[str]] = Field(
        default_factory=dict, description="The graded functions each graded function calls in the notebook."
    )

    @property
    def tests(self) -> list[TestResult]:
        return [t for q in self.questions for t in q.tests]

    def gradescope(self) -> dict:
        """The ``results.json`` shape, plus ``questions`` and ``execution``."""
        return {
            "score": round(self.score, 4),
            "max_score": self.max_score,
            "output": self.message,
            "tests": [t.gradescope() for t in self.tests] + [_manual_test(q) for q in self.questions if q.manual],
            "questions": [_question_json(q) for q in self.questions],
            "student_id": self.student_id,
            "assignment": self.assignment,
            "status": self.status,
            "execution": {
                "cells": [c.model_dump() for c in self.cells],
                "notes": self.notes,
                "isolation": self.isolation,
                "seconds": round(self.seconds, 3),
                "timings": {k: round(v, 4) for k, v in self.timings.items()},
                "calls": self.calls,
            },
            "provenance": self.provenance,
        }

    def save(self, folder: Path) -> Path:
        """Write ``folder/<student_id>.json`` atomically: a crash never leaves half a results file."""
        folder.mkdir(parents=True, exist_ok=True)
        return write_text(folder / f"{self.student_id}.json", json.dumps(self.gradescope(), indent=2))

    @classmethod
    def load(cls, path: Path) -> SubmissionResult:
        return cls.from_gradescope(json.loads(path.read_text()))

    @classmethod
    def from_gradescope(cls, data: dict) -> SubmissionResult:
        """The result that :meth:`gradescope` made ``data`` from."""
        questions = [
            QuestionResult(
                name=q["name"],
                score=q["score"],
                max_score=q["max_score"],
                tests=[_test_from_gradescope(t, q["name"]) for t in q["tests"]],
                manual=ManualResult(**q["manual"]) if q.get("manual") else None,
            )
            for q in data["questions"]
        ]
        execution = data.get("execution", {})
        return cls(
            student_id=data["student_id"],
            assignment=data["assignment"],
            status=data["status"],
            score=data["score"],
            max_score=data["max_score"],
            message=data.get("output", ""),
            questions=questions,
            cells=[CellSummary(**c) for c in execution.get("cells", [])],
            notes=execution.get("notes", []),
            isolation=execution.get("isolation", ""),
            seconds=execution.get("seconds", 0.0),
            timings=execution.get("timings", {}),
            calls=execution.get("calls", {}),
            provenance=data.get("provenance", {}),
        )


def _question_json(q: QuestionResult) -> dict:
    out = {
        "name": q.name,
        "score": round(q.score, 4),
        "max_score": q.max_score,
        "tests": [t.gradescope() for t in q.tests],
    }
    if q.manual:
        out["manual"] = q.manual.model_dump()
    return out


def _manual_test(q: QuestionResult) -> dict:
    """A manually graded question as a Gradescope test: the ticked rubric items and the comment as its output."""
    lines = [f"{points:+g}: {text}" for text, points in q.manual.given]
    if q.manual.adjustment:
        lines.append(f"{q.manual.adjustment:+g}: adjustment")
    if q.manual.comment:
        lines.append(q.manual.comment)
    return {
        "name": f"{q.name} (graded by hand)" + ("" if q.manual.reviewed else ": not reviewed yet"),
        "score": round(q.score, 4),
        "max_score": q.max_score,
        "status": "passed" if q.manual.reviewed and q.score >= q.max_score else "failed",
        "output": "\n".join(lines),
        "visibility": "visible",
        "kind": "manual",
        "inputs": "",
    }


def _test_from_gradescope(t: dict, question: str) -> TestResult:
    return TestResult(
        name=t["name"],
        question=question,
        score=t["score"],
        max_score=t["max_score"],
        status=t["status"],
        kind=t.get("kind", "passed" if t["status"] == "passed" else "wrong"),
        output=t.get("output", ""),
        hidden=t.get("visibility") == "after_published",
        inputs=t.get("inputs", ""),
    )
