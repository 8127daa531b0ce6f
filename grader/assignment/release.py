"""Building the student release of an assignment: the template notebook, public tests, assets.

    DIR/<notebook>.ipynb      solutions replaced by ``# YOUR CODE HERE`` + ``raise NotImplementedError()``,
                              hidden-test regions removed, outputs cleared, stamped with id and version
    DIR/tests/public.json     public cases with expected values computed now by the reference
    DIR/tests/public.safetensors
    DIR/assets/<name>/        read-only assets the notebook and the checks need (e.g. the course model)
    DIR/README.md             for students: installing the grader, checking their work, public and hidden tests

The template notebook opens with a cell that says how to check in two lines.

Markers (nbgrader's, matched anywhere in a comment line): ``### BEGIN SOLUTION`` / ``### END SOLUTION``
and ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``; in Markdown cells a solution region becomes
``YOUR ANSWER HERE``. Otter's ``# BEGIN SOLUTION`` is the same marker. Unbalanced markers are an error.

nbgrader's cell metadata (``{"nbgrader": {"solution": ..., "grade": ..., "locked": ..., "task": ...}}``) is
honoured as ``nbgrader generate_assignment`` honours it: a solution cell without markers is replaced whole
(``# YOUR CODE HERE`` + ``raise NotImplementedError()``, or ``YOUR ANSWER HERE`` in Markdown); test cells
(``grade`` without ``solution``) keep their visible tests; task and read-only cells are released as written,
and can be neither edited nor deleted; solution cells cannot be deleted. The metadata itself is not released.

The answer cell of each ``[[written]]`` question (:mod:`grader.assignment.answer_cells`), and each of
nbgrader's manually graded cells, is marked as the answer (:func:`grader.assignment.answer_cells.mark`);
without solution markers its text becomes ``YOUR ANSWER HERE`` (``# YOUR ANSWER HERE`` in a code cell), an
``answer:`` marker line kept. A written question without an answer cell, or with several, is an error.
Cell ids are kept: grading finds an answer cell by its id when a student removed its mark.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Literal

import jinja2
import nbformat

from grader.assignment.answer_cells import answer_cells, mark, marker_id
from grader.assignment.groundtruth import build_plan
from grader.assignment.plan import GradingPlan, save_bundle
from grader.assignment.spec import Assignment, AssignmentSpec
from grader.common.templates import template_folder
from grader.errors import ReleaseError

BEGIN = re.compile(r"^(\s*)#+\s*BEGIN SOLUTION\b.*$")
END = re.compile(r"^\s*#+\s*END SOLUTION\b.*$")
MD_BEGIN = re.compile(r"^\s*(#+\s*|<!--\s*)?BEGIN SOLUTION\b.*$")
MD_END = re.compile(r"^\s*(#+\s*|<!--\s*)?END SOLUTION\b.*$")
HIDDEN_BEGIN = re.compile(r"^\s*#+\s*BEGIN HIDDEN TESTS\b")
HIDDEN_END = re.compile(r"^\s*#+\s*END HIDDEN TESTS\b")
METADATA_KEY = "llm_grader"
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
TEXT_STUB = "YOUR ANSWER HERE"
NbgraderRole = Literal["solution", "manual", "tests", "task", "locked"]


def strip_solutions(source: str, markdown: bool, where: str) -> str:
    """Replace every solution region of one cell's source (see module docstring)."""
    begin, end = (MD_BEGIN, MD_END) if markdown else (BEGIN, END)
    out, inside, indent = [], False, ""
    for line in source.splitlines():
        if not inside and (m := begin.match(line)):
            inside, indent = True, ("" if markdown else m.group(1))
            out += (
                ["YOUR ANSWER HERE"]
                if markdown
                else [f"{indent}# YOUR CODE HERE", f"{indent}raise NotImplementedError()"]
            )
        elif inside and end.match(line):
            inside = False
        elif begin.match(line) or end.match(line):
            raise ReleaseError(f"{where}: unbalanced solution markers (line {line.strip()!r})")
        elif not inside:
            out.append(line)
    if inside:
        raise ReleaseError(f"{where}: a BEGIN SOLUTION has no END SOLUTION")
    return "\n".join(out)


def strip_hidden_tests(source: str, where: str) -> str:
    out, inside = [], False
    for line in source.splitlines():
        if HIDDEN_BEGIN.match(line):
            inside = True
        elif HIDDEN_END.match(line):
            if not inside:
                raise ReleaseError(f"{where}: END HIDDEN TESTS without BEGIN")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ReleaseError(f"{where}: a BEGIN HIDDEN TESTS has no END HIDDEN TESTS")
    return "\n".join(out)


def student_notebook(assignment: Assignment):
    """The instructor notebook with solutions and hidden tests removed, outputs cleared, stamped."""
    path = assignment.notebook_path
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # JSON, unicode and schema errors alike
        raise ReleaseError(f"{path}: not a readable notebook ({type(exc).__name__}: {exc})"[:500]) from None
    release_cells(nb, assignment.spec, path)
    nb.metadata[METADATA_KEY] = {"assignment": assignment.spec.id, "version": assignment.spec.version}
    check = _check_cell(Path(assignment.spec.notebook).name)
    if (nb.nbformat, nb.nbformat_minor) < (4, 5):  # cell ids came with nbformat 4.5
        del check["id"]
    nb.cells.insert(0, check)
    return nb


def release_cells(nb, spec: AssignmentSpec, path: Path) -> None:
    """Turn each cell of the instructor notebook ``nb`` into the student's, in place; cell ids are kept."""
    written = written_answer_cells(nb, spec, path)
    for index, cell in enumerate(nb.cells):
        where = f"{path}, cell {index + 1}"
        role = nbgrader_role(cell)
        answer = written.get(index) or (cell.metadata.nbgrader.get("grade_id") if role == "manual" else None)
        if cell.cell_type in ("code", "markdown"):
            cell.source = student_source(
                cell.source, cell.cell_type == "markdown", role, bool(written.get(index)), where
            )
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        _lock(cell, role, bool(answer))
        if isinstance(answer, str) and answer:
            mark(cell, answer)
        cell.metadata.pop("nbgrader", None)


def written_answer_cells(nb, spec: AssignmentSpec, path: Path) -> dict[int, str]:
    """Cell index -> the written question it answers; a :class:`ReleaseError` when a question has no answer cell
    or several (see :mod:`grader.assignment.answer_cells`)."""
    out = {}
    for question, indices in answer_cells(nb, [w.id for w in spec.written]).items():
        if not indices:
            raise ReleaseError(
                f"{path}: written question {question!r} has no answer cell (tag a cell 'answer:{question}', "
                f"or start it with '<!-- answer: {question} -->' or '# answer: {question}')"
            )
        if len(indices) > 1:
            cells = ", ".join(str(i + 1) for i in indices)
            raise ReleaseError(
                f"{path}: written question {question!r} has {len(indices)} answer cells ({cells}): keep one"
            )
        out[indices[0]] = question
    return out


def nbgrader_role(cell) -> NbgraderRole | None:
    """What nbgrader's cell metadata makes of ``cell`` (None: an ordinary cell)."""
    meta = cell.get("metadata", {}).get("nbgrader")
    if not isinstance(meta, dict):
        return None
    if meta.get("solution"):
        return "manual" if meta.get("grade") else "solution"
    if meta.get("grade"):
        return "tests"
    if meta.get("task"):
        return "task"
    return "locked" if meta.get("locked") else None


def student_source(source: str, markdown: bool, role: NbgraderRole | None, written: bool, where: str) -> str:
    """One cell's released text: hidden tests and solution regions removed; a solution cell without markers (by
    nbgrader's metadata, or the answer cell of a written question) replaced whole, as nbgrader does."""
    if role == "task":  # the task's own text is its prompt: nbgrader releases it as written
        return source
    source = strip_hidden_tests(source, where)
    begin, end = (MD_BEGIN, MD_END) if markdown else (BEGIN, END)
    if any(begin.match(line) or end.match(line) for line in source.splitlines()):
        return strip_solutions(source, markdown, where)
    if role in ("solution", "manual"):
        return TEXT_STUB if markdown else CODE_STUB
    if written:
        marker = next((line for line in source.splitlines() if line.strip()), "")
        stub = TEXT_STUB if markdown else "# YOUR ANSWER HERE"
        return f"{marker}\n{stub}" if marker_id(marker) else stub
    return source


def _lock(cell, role: NbgraderRole | None, answer: bool) -> None:
    """Read-only cells (and nbgrader's test and task cells) can be neither edited nor deleted; answer cells
    cannot be deleted (nbgrader's ``LockCells``)."""
    if role in ("tests", "task", "locked"):
        cell.metadata["editable"] = False
        cell.metadata["deletable"] = False
    elif role in ("solution", "manual") or answer:
        cell.metadata["deletable"] = False


def _check_cell(notebook: str):
    cell = nbformat.v4.new_markdown_cell(
        f"**Check your work** (see `README.md`): `grader check {notebook}` in a terminal in this folder, or\n"
        "`from grader import check; check()` in a cell. Public tests only: hidden tests run at grading."
    )
    cell.id = "grader-check"
    return cell


def student_readme(assignment: Assignment, plan: GradingPlan) -> str:
    """The release's README.md (``templates/release_readme.md.j2``)."""
    notebook = Path(assignment.spec.notebook).name
    first = plan.questions[0] if plan.questions else None
    text = (template_folder() / "release_readme.md.j2").read_text(encoding="utf-8")
    return jinja2.Template(text, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True).render(
        id=assignment.spec.id,
        title=assignment.spec.title,
        notebook=notebook,
        stem=Path(notebook).stem,
        assets=sorted(plan.assets),
        first_function=first.function if first else "my_function",
        first_test=f"{first.function}: {first.cases[0].name}" if first and first.cases else "function: case",
        call_timeout=f"{plan.limits.call_timeout_s:g}",
        public=sum(len(q.cases) for q in plan.questions),
        hidden=sum(q.hidden_cases for q in plan.questions),
        functions=bool(plan.questions),
        written=[(w.id, w.points) for w in assignment.spec.written],
        manual=[(q.function, q.manual.points) for q in assignment.spec.questions if q.manual],
    )


def release(assignment: Assignment, out: Path, plan: GradingPlan | None = None) -> Path:
    """Write the release into ``out`` (which must be empty or absent) and return the notebook's path."""
    if out.exists() and any(out.iterdir()):
        raise ReleaseError(f"{out}: the release folder must be empty or absent")
    nb = student_notebook(assignment)
    plan = (plan or build_plan(assignment)).public()
    out.mkdir(parents=True, exist_ok=True)
    notebook_out = out / Path(assignment.spec.notebook).name
    nbformat.write(nb, notebook_out)
    save_bundle(plan, out / "tests")
    for name, folder in plan.assets.items():
        shutil.copytree(folder, out / "assets" / name)
    (out / "README.md").write_text(student_readme(assignment, plan), encoding="utf-8")
    return notebook_out
