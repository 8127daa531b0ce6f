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

Shorthands (a default ``compare`` for the assignment or a question, named ``[inputs]``) are written out
before validation (:mod:`grader.assignment.shorthand`). Errors name the file, the field and what was
expected, one line each, with the closest valid name for an unknown one (see :func:`load_assignment`).
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

import tomllib
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from grader.assignment.names import did_you_mean, field_path
from grader.assignment.shorthand import expand
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
    gpu: bool = Field(
        False,
        description=(
            "The kernels need a GPU: they see the machine's GPU devices; with --cluster, only workers offering the "
            "Dask resource GPU grade them."
        ),
    )


class Case(_Strict):
    """One call of the student's function on fixed inputs."""

    name: str = Field(min_length=1, description="Shown in feedback (hidden cases show only this name).")
    args: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments; see grader.assignment.inputs.")
    compare: Compare = Field(default_factory=CloseCompare)
    reference: str | None = Field(None, description="Reference callable for this case, if not the question's.")
    reference_args: dict[str, Any] | None = Field(None, description="Arguments for the reference, if not args.")
    hidden: bool = Field(False, description="Hidden cases are not released; feedback shows name and pass/fail only.")
    weight: float = Field(1.0, gt=0, description="Share of the question's points, relative to its other cases.")


class RubricItem(_Strict):
    """One line of a rubric: points given (or, negative, taken) when a TA ticks it, and what the student reads."""

    id: str = Field("", pattern=r"^[A-Za-z0-9_.-]*$", description="Stable name; default: its position, from 1.")
    points: float
    text: str = Field(min_length=1, description="Shown to the TA and, when given, to the student in feedback.")


def _repeated(names: list[str]) -> list[str]:
    """The names that occur more than once, sorted."""
    return sorted({n for n in names if names.count(n) > 1})


def _number_items(rubric: list[RubricItem]) -> list[RubricItem]:
    items = [item if item.id else item.model_copy(update={"id": str(n)}) for n, item in enumerate(rubric, 1)]
    ids = [item.id for item in items]
    repeated = _repeated(ids)
    if repeated:
        raise ValueError(f"rubric item ids must be unique; repeated: {repeated}")
    return items


class _ByHand(_Strict):
    """What a TA grades by hand: points and a rubric (item ids numbered from 1 where not given)."""

    points: float = Field(gt=0)
    rubric: list[RubricItem] = Field(default_factory=list)

    @field_validator("rubric")
    @classmethod
    def _item_ids(cls, rubric: list[RubricItem]) -> list[RubricItem]:
        return _number_items(rubric)


class ManualPart(_ByHand):
    """Points a TA gives by hand on a code question, e.g. "explains the choice of k"; the TA sees its code."""

    prompt: str = Field(min_length=1, description="What the TA grades, shown on the review page.")


class WrittenQuestion(_ByHand):
    """An answer a TA grades with a rubric: a Markdown explanation, or a code cell (its outputs, e.g. a plot).

    The answer cell is the one tagged ``answer:<id>``, or whose nbgrader ``grade_id`` is ``<id>``, or whose first
    line is ``<!-- answer: <id> -->`` (Markdown) or ``# answer: <id>`` (code); see
    :mod:`grader.assignment.answer_cells`. Release replaces its text with ``YOUR ANSWER HERE``."""

    id: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$", description="Names the answer cell and the question.")
    prompt: str = Field("", description="The question, shown on the review page (default: the id).")
    cell: Literal["markdown", "code"] = Field("markdown", description="The kind of answer cell.")


class Question(_Strict):
    """A function the students write, its points and its cases."""

    function: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="Name the grader calls.")
    points: float = Field(gt=0)
    reference: str | None = Field(None, description="'module:function'; default: the assignment's module + function.")
    description: str = ""
    compare: Compare | None = Field(None, description="Default comparison of this question's cases.")
    cases: list[Case] = Field(min_length=1)
    manual: ManualPart | None = Field(None, description="Points a TA gives on top of the tests, with a rubric.")

    @model_validator(mode="after")
    def _unique_case_names(self) -> Question:
        names = [c.name for c in self.cases]
        duplicates = _repeated(names)
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
    reference: str = Field(
        "",
        description="Default module of reference callables: a file of the assignment folder ('reference.py') "
        "or an importable module ('reference.sampling').",
    )
    compare: Compare | None = Field(None, description="Default comparison of every case (a question's wins).")
    inputs: dict[str, Any] = Field(default_factory=dict, description="Named inputs: { input = 'name' } in args.")
    limits: Limits = Field(default_factory=Limits)
    assets: dict[str, Asset] = Field(default_factory=dict)
    questions: list[Question] = Field(default_factory=list)
    written: list[WrittenQuestion] = Field(default_factory=list, description="Answers TAs grade with a rubric.")

    @model_validator(mode="after")
    def _something_to_grade(self) -> AssignmentSpec:
        if not self.questions and not self.written:
            raise ValueError("an assignment needs at least one [[questions]] or [[written]] entry")
        if self.questions and not self.reference:
            raise ValueError("field 'reference' is required when there are [[questions]]")
        names = [q.function for q in self.questions] + [w.id for w in self.written]
        repeated = _repeated(names)
        if repeated:
            raise ValueError(f"each function and written question needs its own name; repeated: {repeated}")
        return self

    @field_validator("questions")
    @classmethod
    def _unique_functions(cls, questions: list[Question]) -> list[Question]:
        names = [q.function for q in questions]
        duplicates = _repeated(names)
        if duplicates:
            raise ValueError(f"each function may have one question; repeated: {duplicates}")
        return questions

    @property
    def max_score(self) -> float:
        """Automatic and manual points together."""
        return sum(q.points for q in self.questions) + self.manual_points

    @property
    def manual_points(self) -> float:
        return sum(w.points for w in self.written) + sum(q.manual.points for q in self.questions if q.manual)

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
    raw = expand(raw, str(path))
    try:
        spec = AssignmentSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(_describe(exc, raw, str(path))) from None
    if not (folder / spec.notebook).is_file():
        raise SpecError(f"{path}: field 'notebook': file {spec.notebook!r} not found in {folder}")
    return Assignment(folder=folder.resolve(), spec=spec)


def _describe(exc: ValidationError, raw: dict, origin: str) -> str:
    """One line per error: the file, a readable field path (question functions instead of list indices) and the
    problem; an unknown field gets the closest valid name."""
    lines = []
    for err in exc.errors(include_url=False):
        loc, message = tuple(err["loc"]), err["msg"]
        if err["type"] == "extra_forbidden":
            loc, name = loc[:-1], str(loc[-1])
            message = f"unknown field {name!r}{did_you_mean(name, _fields_at(loc))}"
        where = f"field '{field_path(loc, raw)}'" if loc else "top level"
        lines.append(f"{origin}: invalid spec: {where}: {message}")
    return "\n".join(lines)


def _fields_at(loc: tuple) -> list[str]:
    """The valid field names of the model at ``loc`` (a pydantic error location) of an assignment spec."""
    node: Any = AssignmentSpec
    for key in loc:
        node = _step(node, key)
    return list(node.model_fields) if isinstance(node, type) and issubclass(node, BaseModel) else []


def _step(node: Any, key) -> Any:
    """The type one key of a pydantic error location leads to below ``node``: a field, a list item, a dict
    value, or the member of a union its discriminator tag (``kind``) picks."""
    node = _unwrap(node)
    origin, args = typing.get_origin(node), typing.get_args(node)
    if isinstance(node, type) and issubclass(node, BaseModel):
        field = node.model_fields.get(str(key))
        return field.annotation if field else None
    if origin is list:
        return args[0]
    if origin is dict:
        return args[1]
    if origin in (Union, types.UnionType):
        members = [m for m in _members(node) if m is not type(None)]
        if len(members) == 1:
            return _step(members[0], key)
        tagged = [m for m in members if _tag(m) == key]
        return tagged[0] if tagged else None
    return None


def _tag(model: Any):
    field = getattr(model, "model_fields", {}).get("kind")
    return field.default if field else None


def _unwrap(node: Any) -> Any:
    while typing.get_origin(node) is typing.Annotated:
        node = typing.get_args(node)[0]
    return node


def _members(union: Any) -> list:
    """The members of a union, nested unions and ``Annotated`` wrappers flattened."""
    out = []
    for member in map(_unwrap, typing.get_args(union)):
        out += _members(member) if typing.get_origin(member) in (Union, types.UnionType) else [member]
    return out
