"""Reading a submitted notebook: the one place that decides whether a file is a notebook the grader can run."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat

from grader.common.text import one_line


class NotebookUnreadable(ValueError):
    """The submission is not a notebook the grader can run; the message says why."""


def read_notebook(path: Path, max_bytes: int = 200_000_000):
    """Parse and validate a submitted notebook (nbformat 4); raise :class:`NotebookUnreadable`."""
    if path.suffix != ".ipynb":
        raise NotebookUnreadable(f"{path.name}: not a notebook (expected a .ipynb file)")
    size = path.stat().st_size
    if size == 0:
        raise NotebookUnreadable(f"{path.name}: the file is empty (not a readable notebook)")
    if size > max_bytes:
        raise NotebookUnreadable(f"{path.name}: {size} bytes, more than {max_bytes}")
    try:
        nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    except Exception as exc:  # nbformat raises JSON, unicode and its own reader errors
        why = one_line(f"{type(exc).__name__}: {exc}", 400)
        raise NotebookUnreadable(f"{path.name}: not a readable notebook ({why})") from None
    if "nbformat" not in nb:
        raise NotebookUnreadable(f"{path.name}: JSON, but not a notebook (it has no 'nbformat' field)")
    if nb.get("nbformat") != 4:
        raise NotebookUnreadable(
            f"{path.name}: nbformat {one_line(repr(nb.get('nbformat')), 40)} is not supported; save it as version 4"
        )
    if not isinstance(nb.get("cells"), list):
        raise NotebookUnreadable(f"{path.name}: has no list of cells")
    for number, cell in enumerate(nb.cells, 1):
        problem = _cell_problem(cell)
        if problem:
            raise NotebookUnreadable(f"{path.name}: cell {number} {problem}")
    return nb


def _cell_problem(cell) -> str:
    """Why ``cell`` is not a cell the grader can run or skip ("" if it is one)."""
    if not isinstance(cell, dict):
        return "is not a JSON object"
    if not isinstance(cell.get("cell_type"), str):
        return "has no cell_type string"
    if not isinstance(cell.get("source"), str):  # nbformat joins a list of lines into one string
        return "has no source text"
    return ""


def code_cell_labels(nb) -> dict[int, str]:
    """How a student finds each code cell: ``code cell K ("its first line")``, keyed by its index in ``nb.cells``.

    K counts code cells only, from 1, as Jupyter numbers them after "Restart and run all" (Markdown cells
    have no number); the first non-blank line tells two cells apart when the student has rerun some."""
    labels, count = {}, 0
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        count += 1
        labels[index] = code_cell_label(count, cell.get("source", ""))
    return labels


def code_cell_label(number: int, source: str) -> str:
    """``code cell 5 ("def top_k_filter(logits, k):")``: the first non-blank line, cut at 60 characters."""
    first = next((line.strip() for line in source.splitlines() if line.strip()), "")
    if len(first) > 60:
        first = first[:57] + "..."
    return f'code cell {number} ("{first}")' if first else f"code cell {number}"


def graded_calls(nb, functions: list[str]) -> dict[str, list[str]]:
    """Which of the graded ``functions`` each one calls by name in the notebook's code (its last definition,
    parsed, never run): a function that fails only because one it calls fails is told so. Cells that do not
    parse are skipped."""
    definitions: dict[str, ast.FunctionDef] = {}
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        try:
            tree = ast.parse(cell.get("source", ""))
        except (SyntaxError, ValueError):  # e.g. IPython magics, or the student's syntax error
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in functions:
                definitions[node.name] = node
    calls = {}
    for name, node in definitions.items():
        called = {n.func.id for n in ast.walk(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        calls[name] = [f for f in functions if f in called and f != name]
    return calls
