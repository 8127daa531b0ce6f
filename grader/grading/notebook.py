"""Reading a submitted notebook: the one place that decides whether a file is a notebook the grader can run."""

from __future__ import annotations

from pathlib import Path

import nbformat


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
        raise NotebookUnreadable(f"{path.name}: not a readable notebook ({type(exc).__name__}: {exc})"[:500]) from None
    if "nbformat" not in nb:
        raise NotebookUnreadable(f"{path.name}: JSON, but not a notebook (it has no 'nbformat' field)")
    if nb.get("nbformat") != 4:
        raise NotebookUnreadable(f"{path.name}: nbformat {nb.get('nbformat')} is not supported; save it as version 4")
    if not isinstance(nb.get("cells"), list):
        raise NotebookUnreadable(f"{path.name}: has no list of cells")
    return nb
