"""``grader import-nbgrader``: an assignment folder from a notebook written for nbgrader.

    DIR/<notebook>.ipynb   a copy of the notebook, as it is (its nbgrader metadata is what release reads),
                           with cell ids added if it has none (nbformat < 4.5)
    DIR/assignment.toml    id (the file name), title (the first ``# heading``, else the file name); each
                           manually graded cell (nbgrader's "manually graded answer" and "manually graded
                           task") as a ``[[written]]`` question: its grade id, points, cell kind, the prompt
                           above it and a one-item rubric "Full marks" a TA starts from; each autograder test
                           cell as a TOML comment

nbgrader's tests are code run in the student's kernel (``assert squares(2) == [1, 4]``); ours are cases whose
expected values a reference computes on the host. So the tests are listed for the instructor to turn into
``[[questions]]`` cases, not converted. ``grader release DIR`` releases the folder as it is.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import tomllib
from nbformat.v4.nbbase import random_cell_id
from pydantic import ValidationError

from grader.assignment.release import nbgrader_role
from grader.assignment.spec import SPEC_FILE, AssignmentSpec
from grader.errors import SpecError

CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
HEADING = re.compile(r"^\s*#{1,6}\s+(?P<text>.+?)\s*#*\s*$")
MAX_PROMPT = 1000


def import_nbgrader(notebook: Path, out: Path) -> tuple[Path, str | None]:
    """Write the assignment folder ``out`` (empty or absent) for ``notebook``; return its ``assignment.toml``
    and a note when that spec has nothing to grade yet (a notebook with autograder tests only: the instructor
    turns them into ``[[questions]]`` first).

    A :class:`SpecError` (one line, nothing written) for a file that is not a notebook, a notebook without
    nbgrader metadata, a folder that is not empty, or metadata that makes no valid spec."""
    notebook, out = Path(notebook), Path(out)
    nb = _read(notebook)
    if not any(isinstance(c.get("metadata", {}).get("nbgrader"), dict) for c in nb.cells):
        raise SpecError(f"{notebook}: no nbgrader cell metadata (no cell is marked by nbgrader's Create Assignment)")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise SpecError(f"{out}: the assignment folder must be empty or absent")
    text = spec_text(nb, notebook.name)
    raw, note = tomllib.loads(text), None
    if raw.get("written"):
        _check(raw, notebook)
    else:
        note = f"no manually graded cell: nothing to grade until the tests listed in {SPEC_FILE} are [[questions]]"
    out.mkdir(parents=True, exist_ok=True)
    if all(isinstance(cell.get("id"), str) for cell in nb.cells):
        shutil.copyfile(notebook, out / notebook.name)
    else:
        nbformat.write(with_cell_ids(nb), out / notebook.name)
    (out / SPEC_FILE).write_text(text, encoding="utf-8")
    return out / SPEC_FILE, note


def _check(raw: dict, notebook: Path) -> None:
    try:
        AssignmentSpec.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in err["loc"]) or "top level"
        raise SpecError(f"{notebook}: its nbgrader metadata makes no valid assignment: {where}: {err['msg']}") from None


def with_cell_ids(nb):
    """``nb`` as nbformat 4.5, each cell with an id (grading finds an answer cell by its id when a student
    removed its mark; nbgrader's notebooks are often older than 4.5, which has no ids)."""
    nb.nbformat, nb.nbformat_minor = 4, max(5, nb.nbformat_minor)
    taken = {cell.get("id") for cell in nb.cells}
    for cell in nb.cells:
        if not isinstance(cell.get("id"), str):
            cell["id"] = next(i for i in iter(random_cell_id, None) if i not in taken)
            taken.add(cell["id"])
    return nb


def _read(notebook: Path):
    if notebook.suffix != ".ipynb" or not notebook.is_file():
        raise SpecError(f"{notebook}: not a notebook (expected an existing .ipynb file)")
    try:
        return nbformat.read(notebook, as_version=4)
    except Exception as exc:  # JSON, unicode and schema errors alike
        raise SpecError(f"{notebook}: not a readable notebook ({type(exc).__name__}: {exc})"[:300]) from None


def spec_text(nb, name: str) -> str:
    """The ``assignment.toml`` for notebook ``nb`` (file name ``name``)."""
    stem = Path(name).stem
    ident = re.sub(r"[^A-Za-z0-9_.-]", "-", stem).lstrip("_.-") or "assignment"
    lines = [
        f"# Made by grader import-nbgrader from {name}: check the prompts and write the rubrics.",
        f"id = {toml_string(ident)}",
        f"title = {toml_string(_title(nb) or stem)}",
        f"notebook = {toml_string(name)}",
        '# reference = "reference.py"   # the module of reference functions, needed with [[questions]]',
    ]
    for index, cell in enumerate(nb.cells):
        role = nbgrader_role(cell)
        if role in ("manual", "task"):
            lines += _written(nb, index, role)
    tests = [cell for cell in nb.cells if nbgrader_role(cell) == "tests"]
    if tests:
        lines += ["", "# nbgrader's autograder tests: turn each into [[questions]] cases (a function, its inputs, a"]
        lines += ["# reference that computes the expected value); see README.md, 'The assignment format'."]
    for cell in tests:
        meta = cell.metadata.nbgrader
        points = _points(meta)
        lines += ["#", f"# {_comment(meta.get('grade_id', '?'))} ({points:g} point{'' if points == 1 else 's'}):"]
        lines += [f"#     {_comment(line)}" for line in cell.source.splitlines()]
    return "\n".join(lines) + "\n"


def _written(nb, index: int, role: str) -> list[str]:
    """The ``[[written]]`` entry of manually graded cell ``index`` (a comment when it gives no points)."""
    cell = nb.cells[index]
    meta, points = cell.metadata.nbgrader, _points(cell.metadata.nbgrader)
    grade_id = str(meta.get("grade_id", ""))
    if points <= 0:
        return ["", f"# {_comment(grade_id)}: a manually graded cell without points, left out"]
    prompt = _paragraph(cell.source) if role == "task" else _prompt_above(nb, index)
    return [
        "",
        "[[written]]",
        f"id = {toml_string(grade_id)}",
        f"points = {points:g}",
        f"prompt = {toml_string(prompt)}",
        f"cell = {toml_string('code' if cell.cell_type == 'code' else 'markdown')}",
        "  [[written.rubric]]",
        f"  points = {points:g}",
        '  text = "Full marks"',
    ]


def _points(meta: dict) -> float:
    points = meta.get("points", 0)
    return float(points) if isinstance(points, (int, float)) and not isinstance(points, bool) else 0.0


def _prompt_above(nb, index: int) -> str:
    """The text of the nearest Markdown cell above cell ``index`` that is not itself an answer."""
    for cell in reversed(nb.cells[:index]):
        if cell.cell_type == "markdown" and nbgrader_role(cell) not in ("solution", "manual"):
            if text := _paragraph(cell.source):
                return text
    return ""


def _paragraph(markdown: str) -> str:
    """``markdown`` as one paragraph: rules and headings dropped (a heading is kept if it is all there is)."""
    lines = [line.strip() for line in markdown.splitlines()]
    body = [line for line in lines if line and not HEADING.match(line) and not re.fullmatch(r"[-*_\s]{3,}", line)]
    headings = [m.group("text") for line in lines if (m := HEADING.match(line))]
    return " ".join(body or headings)[:MAX_PROMPT]


def _title(nb) -> str | None:
    """The notebook's first top-level heading (``# Title``), if it has one."""
    for cell in nb.cells:
        if cell.cell_type == "markdown" and nbgrader_role(cell) not in ("solution", "manual"):
            for line in cell.source.splitlines():
                if (match := HEADING.match(line)) and line.lstrip().startswith("# "):
                    return match.group("text")
    return None


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string (quotes, backslashes and control characters escaped)."""
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates from JSON cannot be written
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", escaped) + '"'


def _comment(text: str) -> str:
    """``text`` safe inside a TOML comment: no control character (a newline would end the comment)."""
    return CONTROL.sub("?", str(text).encode("utf-8", "replace").decode("utf-8"))
