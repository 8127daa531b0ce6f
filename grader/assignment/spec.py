"""The assignment spec: what an instructor writes in ``assignments/<id>/assignment.toml``.

One question per function the students write; each question holds test cases. A case names its
arguments (plain values, seeded tensors, files, or handles such as the course model), the reference
callable that computes the expected value on the host, and how the student's value is compared.

    [[questions]]
    function = "top_k_filter"
    points = 2

      [[questions.cases]]
      name = "keeps ties with the k-th value"
      args = { logits = { tensor = [[1.0, 1.0, 1.0, 0.0]] }, k = 2 }
      compare = { kind = "close", atol = 0.0 }

Errors name the file, the field and what was expected (see :func:`load_assignment`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import tomllib
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from grader.compare.rules import CloseCompare, Compare
from grader.errors import SpecError

SPEC_FILE = "assignment.toml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limits(_Strict):
    """Resource and time limits for one submission. Every field has a default an instructor may override."""

    cell_timeout_s: float = Field(30.0, gt=0, description="Wall time per notebook cell.")
    call_timeout_s: float = Field(30.0, gt=0, description="Wall time per call of a graded function (all repeats).")
    submission_timeout_s: float = Field(600.0, gt=0, description="Wall time for the whole submission.")
    memory_mb: int = Field(4096, ge=256, description="Memory for all processes of the submission together.")
    max_processes: int = Field(64, ge=8, description="Processes and threads the submission may run at once.")
    cpu_time_s: int = Field(900, ge=10, description="CPU seconds per process (a backstop over the wall limits).")
    file_size_mb: int = Field(256, ge=1, description="Largest file the submission may write.")
    disk_mb: int = Field(
        512, ge=16, description="All the files the submission may write together (sandboxed; /tmp has its own 256 MB)."
    )
    open_files: int = Field(512, ge=64, description="Open file descriptors per process.")
    output_bytes: int = Field(1_000_000, ge=1000, description="Notebook output kept per submission; the rest is cut.")
    return_bytes: int = Field(64_000_000, ge=1000, description="Largest value a graded function may return.")


class Case(_Strict):
    """One call of the student's function on fixed inputs."""

    name: str = Field(min_length=1, description="Shown in feedback (hidden cases show only this name).")
    args: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments; see grader.assignment.inputs.")
    compare: Compare = Field(default_factory=CloseCompare)
    reference: str | None = Field(None, description="Reference callable for this case, if not the question's.")
    reference_args: dict[str, Any] | None = Field(None, description="Arguments for the reference, if not args.")
    hidden: bool = Field(False, description="Hidden cases are not released; feedback shows name and pass/fail only.")
    weight: float = Field(1.0, gt=0, description="Share of the question's points, relative to its other cases.")


class Question(_Strict):
    """A function the students write, its points and its cases."""

    function: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="Name the grader calls.")
    points: float = Field(gt=0)
    reference: str | None = Field(None, description="'module:function'; default: the assignment's module + function.")
    description: str = ""
    cases: list[Case] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_case_names(self) -> Question:
        names = [c.name for c in self.cases]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"case names must be unique within a question; repeated: {duplicates}")
        return self


class Asset(_Strict):
    """A read-only resource the kernel may load, e.g. the course model folder."""

    kind: Literal["course-lm", "folder"] = "course-lm"
    path: str | None = Field(None, description="For kind 'folder': a path relative to the assignment folder.")


class AssignmentSpec(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    title: str
    version: str = "1"
    notebook: str = Field(description="The instructor notebook, relative to the assignment folder.")
    reference: str = Field(description="Default module of reference callables, e.g. 'reference.sampling'.")
    limits: Limits = Field(default_factory=Limits)
    assets: dict[str, Asset] = Field(default_factory=dict)
    questions: list[Question] = Field(min_length=1)

    @field_validator("questions")
    @classmethod
    def _unique_functions(cls, questions: list[Question]) -> list[Question]:
        names = [q.function for q in questions]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"each function may have one question; repeated: {duplicates}")
        return questions

    @property
    def max_score(self) -> float:
        return sum(q.points for q in self.questions)

    def reference_for(self, question: Question, case: Case) -> str:
        """The 'module:function' that computes the expected value of ``case``."""
        name = case.reference or question.reference or question.function
        return name if ":" in name else f"{self.reference}:{name}"


class Assignment(BaseModel):
    """A validated spec and the folder it came from."""

    model_config = ConfigDict(frozen=True)
    folder: Path
    spec: AssignmentSpec

    @property
    def notebook_path(self) -> Path:
        return self.folder / self.spec.notebook


def load_assignment(folder: str | Path) -> Assignment:
    """Read and validate ``folder/assignment.toml``; raise :class:`SpecError` naming file, field and problem."""
    folder = Path(folder)
    path = folder / SPEC_FILE
    if not path.is_file():
        raise SpecError(f"{path}: no assignment spec here (expected a file named {SPEC_FILE})")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: not valid TOML: {exc}") from None
    try:
        spec = AssignmentSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(f"{path}: invalid spec:\n{_describe(exc, raw)}") from None
    if not (folder / spec.notebook).is_file():
        raise SpecError(f"{path}: field 'notebook': file {spec.notebook!r} not found in {folder}")
    return Assignment(folder=folder.resolve(), spec=spec)


def _describe(exc: ValidationError, raw: dict) -> str:
    """One line per error: a readable field path (question functions instead of list indices) and the problem."""
    lines = []
    for err in exc.errors(include_url=False):
        lines.append(f"  field '{_field_path(err['loc'], raw)}': {err['msg']}")
    return "\n".join(lines)


def _field_path(loc: tuple, raw: Any) -> str:
    parts, node = [], raw
    for key in loc:
        if isinstance(key, int) and isinstance(node, list) and key < len(node):
            node = node[key]
            label = node.get("function") or node.get("name") if isinstance(node, dict) else None
            parts[-1] = f"{parts[-1]}[{key}]" + (f" ({label})" if label else "") if parts else f"[{key}]"
            continue
        parts.append(str(key))
        node = node.get(key) if isinstance(node, dict) else None
    return ".".join(parts)
