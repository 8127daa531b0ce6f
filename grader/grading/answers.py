"""A submission's answers to the questions a TA grades, read from the notebook file on the host.

Nothing runs here: the answer is the cell's text as submitted (and, for a code answer, the images and text of
the outputs it was saved with). Everything is untrusted data, bounded here (:data:`MAX_TEXT`, :data:`MAX_IMAGES`,
:data:`MAX_IMAGE_BYTES`) and escaped or sanitized wherever it is shown. Each answer carries a status that tells
the TA what was found (see :class:`Answer`); a notebook that cannot be read gives every question "missing".
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from grader.assignment.answer_cells import answer_cells, answer_id, cells_by_id, marker_id
from grader.assignment.manual import ManualQuestion
from grader.grading.notebook import NotebookUnreadable, read_notebook

AnswerStatus = Literal["ok", "blank", "missing", "unmarked", "duplicated", "too_large"]
MAX_TEXT = 100_000  # characters of an answer's text (and of its text outputs) kept
MAX_IMAGES = 4  # images kept per answer
MAX_IMAGE_BYTES = 2_000_000  # base64 characters per image
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif")  # never SVG: it can carry script
BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
TEMPLATE_TEXTS = {"YOUR ANSWER HERE", "# YOUR ANSWER HERE", "# YOUR CODE HERE\nraise NotImplementedError()"}


@dataclass
class Answer:
    question: str
    kind: str  # "markdown", "code" or "function"
    text: str = ""
    images: list[str] = field(default_factory=list)  # data: URIs of IMAGE_TYPES only
    outputs: str = ""  # a code answer's text outputs
    status: AnswerStatus = "ok"
    note: str = ""  # one line for the TA when the status is not "ok"

    @property
    def digest(self) -> str:
        """What identifies this answer's content: a review counts for this digest only."""
        body = json.dumps([self.text, self.images, self.outputs])
        return hashlib.sha256(body.encode()).hexdigest()[:16]

    def to_json(self) -> dict:
        return asdict(self)


def collect_answers(notebook: Path, questions: list[ManualQuestion]) -> list[Answer]:
    """One :class:`Answer` per question, in order; never raises for anything in the notebook."""
    if not questions:
        return []
    try:
        nb = read_notebook(notebook)
    except (NotebookUnreadable, OSError) as exc:
        why = f"no answer: the submission is not a readable notebook ({str(exc)[:200]})"
        return [Answer(q.name, q.kind, status="missing", note=why) for q in questions]
    found = answer_cells(nb, [q.name for q in questions if q.kind != "function"])
    by_id = cells_by_id(nb)
    return [_answer(nb, q, found.get(q.name, []), by_id) for q in questions]


def _answer(nb, question: ManualQuestion, indices: list[int], by_id: dict[str, int]) -> Answer:
    if question.kind == "function":
        return _function_answer(nb, question)
    status, note = "ok", ""
    if not indices and question.cell_id in by_id:
        indices = [by_id[question.cell_id]]
        status, note = "unmarked", "found by its cell id: the answer cell's tag or metadata was removed"
    if not indices:
        return Answer(
            question.name,
            question.kind,
            status="missing",
            note=f"no answer cell: the cell tagged 'answer:{question.name}' was deleted or lost its tag",
        )
    if len(indices) > 1:
        status, note = "duplicated", f"{len(indices)} cells are marked as this answer: all are shown, in order"
    if question.task:
        indices = _added_after(nb, indices[-1], question.release_ids)
        if not indices:
            return Answer(question.name, question.kind, status="blank", note="no cell added after the task")
    cells = [nb.cells[i] for i in indices]
    answer = Answer(question.name, question.kind, status=status, note=note)
    answer.text = "\n\n".join(_without_marker(c.get("source", "")) for c in cells)
    for cell in cells:
        _add_outputs(answer, cell.get("outputs") if cell.get("cell_type") == "code" else None)
    return _bounded(answer)


def _added_after(nb, task: int, release_ids: frozenset[str]) -> list[int]:
    """The cells the student added right after the task cell at ``task``: up to the next cell of the release
    (by its id; without ids, up to the next cell that carries an answer mark or is read-only)."""
    out = []
    for index in range(task + 1, len(nb.cells)):
        cell = nb.cells[index]
        cell_id = cell.get("id")
        if cell_id in release_ids or answer_id(cell) or cell.get("metadata", {}).get("editable") is False:
            break
        out.append(index)
    return out


def _without_marker(source: str) -> str:
    """The cell's text without its ``answer:`` marker line (the TA reads the answer, not the mark)."""
    lines = source.splitlines()
    first = next((n for n, line in enumerate(lines) if line.strip()), None)
    if first is not None and marker_id(lines[first]):
        del lines[first]
    return "\n".join(lines).strip("\n")


def _function_answer(nb, question: ManualQuestion) -> Answer:
    """A manual part of a code question: the last code cell that defines the function."""
    source = None
    for cell in nb.cells:
        if cell.get("cell_type") == "code" and _defines(cell.get("source", ""), question.function):
            source = cell.get("source", "")
    if source is None:
        note = f"no cell defines {question.function}()"
        return Answer(question.name, question.kind, status="missing", note=note)
    return _bounded(Answer(question.name, question.kind, text=source))


def _defines(source: str, function: str) -> bool:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return f"def {function}(" in source
    return any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == function for n in tree.body)


def _add_outputs(answer: Answer, outputs) -> None:
    for output in outputs if isinstance(outputs, list) else []:
        if not isinstance(output, dict):
            continue
        data = output.get("data") if isinstance(output.get("data"), dict) else {}
        for mime in IMAGE_TYPES:
            image = "".join(data[mime].split()) if isinstance(data.get(mime), str) else None
            if image is not None and len(answer.images) < MAX_IMAGES:
                if len(image) > MAX_IMAGE_BYTES:
                    answer.status, answer.note = "too_large", "an image over 2 MB was left out"
                elif BASE64.fullmatch(image):  # anything else is not an image: it never reaches a page
                    answer.images.append(f"data:{mime};base64,{image}")
        text = output.get("text") if output.get("output_type") == "stream" else data.get("text/plain")
        if isinstance(text, str) and len(answer.outputs) < MAX_TEXT:
            answer.outputs += text if text.endswith("\n") else text + "\n"


def _bounded(answer: Answer) -> Answer:
    """Cut what is too long (saying so), and call an answer that is still the template's text blank."""
    if len(answer.text) > MAX_TEXT or len(answer.outputs) > MAX_TEXT:
        size = len(answer.text)
        answer.text, answer.outputs = answer.text[:MAX_TEXT], answer.outputs[:MAX_TEXT]
        answer.status, answer.note = "too_large", f"{size:,} characters: only the first {MAX_TEXT:,} are shown"
    elif answer.status == "ok" and _is_template(answer.text) and not answer.images:
        answer.status, answer.note = "blank", "the answer cell still holds the template's text"
    return answer


def _is_template(text: str) -> bool:
    body = text.strip()
    return not body or body in TEMPLATE_TEXTS
