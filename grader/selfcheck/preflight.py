"""Is the path a student gave ``grader check`` a notebook at all? Standard library only, so that a typo is
refused at once, before a check server starts or torch is imported."""

from __future__ import annotations

import json
from pathlib import Path


def notebook_problem(path: Path) -> str | None:
    """One line saying why ``path`` cannot be checked (missing, a folder, unreadable, not a notebook), or None.
    The full validation is :func:`grader.grading.notebook.read_notebook`, where the check reads it."""
    if not path.exists():
        return f"{path}: no such file"
    if path.is_dir():
        return f"{path}: is a folder, not a notebook (give the .ipynb file)"
    if path.suffix != ".ipynb":
        return f"{path}: not a notebook (expected a .ipynb file)"
    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        return f"{path}: cannot be read ({exc.strerror or exc})"
    except ValueError:
        return f"{path}: not a readable notebook (not valid JSON: a corrupt or half-saved file?)"
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        return f"{path}: not a readable notebook (it has no list of cells)"
    return None
