"""The questions a TA grades by hand: each ``[[written]]`` question and each code question's ``manual`` part.

Both become a :class:`ManualQuestion`, named as the review page and the gradebook name them: a written
question by its id, the manual part of function ``f`` by ``"f:manual"``. Reading the instructor notebook here
gives each written question's answer cell id, the fallback of :mod:`grader.assignment.answer_cells` when a
student removed the cell's mark. Nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import nbformat

from grader.assignment.answer_cells import answer_cells
from grader.assignment.spec import Assignment, RubricItem

ManualKind = Literal["markdown", "code", "function"]


@dataclass(frozen=True)
class ManualQuestion:
    name: str  # a written question's id, or "<function>:manual"
    kind: ManualKind  # "function": the TA sees the cell(s) defining the function
    points: float
    prompt: str
    rubric: tuple[RubricItem, ...]
    cell_id: str | None = None  # the instructor notebook's answer cell (written questions)
    task: bool = False  # an nbgrader task: the answer is the cells the student adds after the task's cell
    release_ids: frozenset[str] = frozenset()  # every cell id of the instructor notebook (tells added cells apart)

    @property
    def function(self) -> str | None:
        """The graded function a manual part belongs to (None for a written question)."""
        return self.name.removesuffix(":manual") if self.kind == "function" else None


def manual_name(function: str) -> str:
    return f"{function}:manual"


def manual_questions(assignment: Assignment) -> list[ManualQuestion]:
    """Every manually graded question of ``assignment``, written questions first, in spec order."""
    spec = assignment.spec
    cells = _answer_cells(assignment, [w.id for w in spec.written]) if spec.written else {}
    ids = frozenset(c["id"] for c in cells.pop("", []) if isinstance(c.get("id"), str))
    out = []
    for w in spec.written:
        cell = cells.get(w.id)
        task = bool(cell and isinstance(cell.metadata.get("nbgrader"), dict) and cell.metadata.nbgrader.get("task"))
        cell_id = cell.get("id") if cell else None
        out.append(ManualQuestion(w.id, w.cell, w.points, w.prompt or w.id, tuple(w.rubric), cell_id, task, ids))
    out += [
        ManualQuestion(manual_name(q.function), "function", q.manual.points, q.manual.prompt, tuple(q.manual.rubric))
        for q in spec.questions
        if q.manual
    ]
    return out


def _answer_cells(assignment: Assignment, ids: list[str]) -> dict:
    """Written question id -> its answer cell in the instructor notebook (when there is exactly one), and under
    "" every cell of it."""
    nb = nbformat.read(assignment.notebook_path, as_version=4)
    out: dict = {"": list(nb.cells)}
    for name, indices in answer_cells(nb, ids).items():
        if len(indices) == 1:
            out[name] = nb.cells[indices[0]]
    return out
