"""Reading a submitted notebook: the one place that decides whether a file is a notebook the grader can run."""

from __future__ import annotations

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
