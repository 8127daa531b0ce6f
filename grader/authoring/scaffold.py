"""``grader new``: a working minimal assignment in a folder of its own, anywhere (a course repository).

It holds ``assignment.toml`` (one question, one public and one hidden case, a default comparison, a named
input), the instructor notebook (the solution between markers, a self-check cell), ``reference.py`` (the
reference, imported from this folder on the host only) and ``examples/`` (a correct and a buggy
submission with their points in ``expected.toml``). ``grader validate`` passes on it as written. The files
are the package data ``grader/templates/new/`` (the repository's ``templates/new/``), so a wheel carries them.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from grader.common.templates import template_folder
from grader.errors import GraderError

SCAFFOLD = "new"
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")  # AssignmentSpec.id


def new_assignment(folder: Path) -> list[Path]:
    """Write the scaffold into ``folder`` (absent or empty; its name is the assignment id); return the files."""
    folder = Path(folder).resolve()  # `grader new .` in an empty folder named like the id
    if not ID_PATTERN.match(folder.name):
        raise GraderError(f"{folder}: the folder's name is the assignment id: letters, digits, '_', '.', '-' only")
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise GraderError(f"{folder}: already exists and is not empty; `grader new` writes only new folders")
    source = template_folder() / SCAFFOLD
    notebook = f"{folder.name}.ipynb"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source / "examples", folder / "examples")
    shutil.copy(source / "reference.py", folder / "reference.py")
    shutil.copy(source / "notebook.ipynb", folder / notebook)
    env = Environment(loader=FileSystemLoader(source), undefined=StrictUndefined, keep_trailing_newline=True)
    spec = env.get_template("assignment.toml.j2").render(id=folder.name, notebook=notebook)
    (folder / "assignment.toml").write_text(spec, encoding="utf-8")
    return sorted(p for p in folder.rglob("*") if p.is_file())
