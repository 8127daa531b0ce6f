"""Where the report templates are: the package ``grader.templates``, installed from the repository's ``templates/``
(``package-dir`` in pyproject.toml), so a checkout, an editable install and a wheel all find them the same way."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path


@cache
def template_folder() -> Path:
    """The folder holding the ``*.j2`` templates."""
    spec = importlib.util.find_spec("grader.templates")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the package grader.templates is not installed (reinstall the grader)")
    return Path(list(spec.submodule_search_locations)[0])
