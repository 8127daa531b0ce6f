"""What a worker must share with the orchestrator before it may grade: the grader's code, torch and
transformers, and each asset's content (the course model). Ground truth computed by one version is never
judged against another version's run: a worker whose facts differ is refused, with both sides named.

The code digest hashes the files' paths relative to their package and their bytes, so two checkouts of the
same commit agree wherever they are installed (:func:`grader.selfcheck.protocol.code_digest` also hashes the
interpreter's location: right for one machine, not for a cluster).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

import grader
from grader.assignment.casekey import folder_digest
from grader.common.templates import template_folder

PACKAGES = ("torch", "transformers")


def local_facts(assets: Mapping[str, Path]) -> dict[str, str]:
    """This process's facts: {what: value}, in the order they are reported."""
    facts = {"grader code": code_digest()}
    for package in PACKAGES:
        facts[package] = _version(package)
    for name, path in sorted(assets.items()):
        facts[f"asset {name}"] = folder_digest(path)[:16] if Path(path).exists() else "missing"
    return facts


def differences(worker: Mapping[str, str], orchestrator: Mapping[str, str]) -> list[str]:
    """Each fact that differs, as "torch 2.12.0 here, 2.13.0 on the orchestrator"."""
    return [
        f"{what} {worker.get(what, 'unknown')} here, {value} on the orchestrator"
        for what, value in orchestrator.items()
        if worker.get(what) != value
    ]


def code_digest() -> str:
    """sha256 (16 hex digits) over the grader's and the reference's Python files and the report templates."""
    import reference

    roots = [("grader", Path(grader.__file__).parent, "*.py"), ("reference", Path(reference.__file__).parent, "*.py")]
    return tree_digest([*roots, ("templates", template_folder(), "*.j2")])


def tree_digest(roots: list[tuple[str, Path, str]]) -> str:
    """sha256 (16 hex digits) over (label, folder, glob pattern) roots: each file's path below its folder, and bytes."""
    h = hashlib.sha256()
    for label, root, pattern in roots:
        for path in sorted(root.rglob(pattern)):
            h.update(f"{label}/{path.relative_to(root).as_posix()}\0".encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"
