"""The architecture holds (ARCHITECTURE.md): layers without back-edges or cycles, small modules and functions, a
package list that matches the tree, and docstrings that cite only what is in the repository."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import tomllib

from tests.helpers import REPO

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
CODE = ("grader", "reference")


def python_files() -> list[Path]:
    return sorted(p for root in CODE for p in (REPO / root).rglob("*.py"))


def test_import_linter_contracts_are_kept():
    """pyproject.toml's [tool.importlinter] contracts: the layers, no cycles, the standalone reference, the
    code sent into the kernel, the standard-library check client."""
    script = Path(sys.executable).with_name("lint-imports")
    command = [str(script)] if script.exists() else [shutil.which("lint-imports") or "lint-imports"]
    done = subprocess.run([*command, "--no-cache"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_grader_holds_only_subpackages_and_the_cli():
    loose = {p.name for p in (REPO / "grader").iterdir() if p.is_file()}
    assert loose <= {"__init__.py", "cli.py", "errors.py", "py.typed"}, sorted(loose)
    for folder in (REPO / "grader").iterdir():
        if folder.is_dir() and folder.name != "__pycache__":
            assert (folder / "__init__.py").is_file(), f"{folder} is not a package"


def test_modules_and_functions_stay_small():
    too_long = []
    for path in python_files():
        source = path.read_text()
        if len(source.splitlines()) > MAX_MODULE_LINES:
            too_long.append(
                f"{path.relative_to(REPO)}: {len(source.splitlines())} lines (split it: one job per module)"
            )
        for node in ast.walk(ast.parse(source)):
            length = (
                node.end_lineno - node.lineno + 1 if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) else 0
            )
            if length > MAX_FUNCTION_LINES:
                too_long.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name}: {length} lines")
    assert not too_long, "\n".join(too_long)


def test_every_package_is_in_the_wheel():
    """pyproject lists the packages (find cannot map templates/ to grader.templates): the list is the tree."""
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(REPO).parts) for root in CODE for init in (REPO / root).rglob("__init__.py")
    }
    assert listed == found | {"grader.templates"}


def test_docstrings_cite_only_files_in_the_repository():
    outside = [p for p in [*python_files(), REPO / "README.md"] if "shared/research" in p.read_text()]
    assert not outside, outside
