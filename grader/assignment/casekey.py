"""The key of a ground-truth case: a content hash of everything its inputs and expected value depend on.

What a key covers is described in :mod:`grader.assignment.gtcache`, which stores entries under these keys. The
keys are computed here without torch: the one part that needs it, where and how the reference runs (the
``environment``), is given by the caller (:func:`grader.assignment.gtcache.reference_environment`, or the copy
:mod:`grader.assignment.gtkey` remembered), so a rerun can tell a changed ground truth without importing torch.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

from grader.assignment.assets import asset_paths
from grader.assignment.gtsources import code_files, module_origin, stat_signature
from grader.assignment.spec import Assignment, Case

FORMAT = "grader-groundtruth/1"
ASSET_KEYS = ("model", "tokenizer", "embedder")
_FILE_DIGESTS: dict[str, tuple[tuple, str]] = {}  # path -> (stat signature, sha256): a file is hashed once


class CaseKeys:
    """Keys of the cases of one assignment folder, its assets and an environment; ``read`` collects what they
    hashed (modules, files, asset folders)."""

    def __init__(self, assignment_folder: Path, assets: dict[str, Path], environment: dict):
        self.assignment_folder, self.assets, self.environment = assignment_folder, assets, environment
        self.read: dict[str, set] = {"modules": set(), "files": set(), "folders": set()}
        self._code = _code_digest()

    def key(self, case: Case, target: str) -> str | None:
        """The content hash of ``case`` run by ``target``; None when its code cannot be found (no caching)."""
        found = _scan([case.args, case.reference_args])
        modules = {}
        for module in sorted({target.partition(":")[0], *(t.partition(":")[0] for t in found["calls"])}):
            path = module_file(module, self.assignment_folder)
            modules[module] = _module_digest(module) if path is None else _file_or_none(path)
            if modules[module] is None:
                return None
            self.read["modules" if path is None else "files"].add(module if path is None else path)
        self.read["files"].update(self.assignment_folder / name for name in found["files"])
        self.read["folders"].update(self.assets[n] for n in found["assets"] if n in self.assets)
        material = {
            "format": FORMAT,
            "target": target,
            "compare": case.compare.kind,
            "args": case.args,
            "reference_args": case.reference_args,
            "code": self._code,
            "modules": modules,
            "files": {name: _file_or_none(self.assignment_folder / name) for name in sorted(found["files"])},
            "assets": {n: folder_digest(self.assets[n]) for n in sorted(found["assets"]) if n in self.assets},
            "environment": self.environment,
        }
        text = json.dumps(material, default=repr, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(text.encode()).hexdigest()


def hash_groundtruth(assignment: Assignment, environment: dict) -> tuple[str, dict[str, set]]:
    """The content hash of the assignment's whole ground truth, computing no case: every case's key, combined (the
    same value as ``build_plan(assignment).groundtruth_key`` where ``environment`` is the reference's), and what
    the keys read. :func:`grader.assignment.gtkey.groundtruth_key` remembers it between runs."""
    spec = assignment.spec
    keys = CaseKeys(assignment.folder, asset_paths(assignment), environment)
    key = combined_key(
        (q.function, c.name, keys.key(c, spec.reference_for(q, c)), spec.reference_for(q, c))
        for q in spec.questions
        for c in q.cases
    )
    return key, keys.read


def combined_key(cases: Iterable[tuple[str, str, str | None, str]]) -> str:
    """One hash over the keys of every case, given as (function, case name, key, reference target): what
    identifies the ground truth of a whole assignment. A case without a key (its code was not found) counts by
    its target only."""
    h = hashlib.sha256(FORMAT.encode())
    for function, name, key, target in cases:
        h.update(json.dumps([function, name, key or f"uncached {target}"]).encode() + b"\n")
    return h.hexdigest()[:32]


def _scan(nodes) -> dict[str, set[str]]:
    """Asset names, files and reference calls a case's argument specs mention (at any depth)."""
    found: dict[str, set[str]] = {"assets": set(), "files": set(), "calls": set()}
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            stack.extend(node.values())
            found["assets"].update(node[k] for k in ASSET_KEYS if isinstance(node.get(k), str))
            found["files"].update(node[k] for k in ("file", "text_file") if isinstance(node.get(k), str))
            if isinstance(node.get("call"), str):
                found["calls"].add(node["call"])
    return found


def _code_digest() -> str:
    h = hashlib.sha256()
    for name, path in code_files():
        h.update(f"{name}\0{file_digest(path)}\n".encode())
    return h.hexdigest()


def module_file(module: str, folder: Path) -> Path | None:
    """The file of a reference module given by path (``reference.py``, ``refs/norms.py``), resolved in the
    assignment ``folder``; None for an importable module name (``reference.sampling``)."""
    if not (module.endswith(".py") or "/" in module):
        return None
    return (Path(folder) / module).resolve()


def _module_digest(module: str) -> str | None:
    """The digest of a module's source file (or of its package's ``__init__``); None if it is not found."""
    origin = module_origin(module)
    return None if origin is None else file_digest(origin)


def _file_or_none(path: Path) -> str | None:
    try:
        return file_digest(path)
    except OSError:
        return None  # a missing file: the case fails when it is computed, and nothing is stored


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes, hashed once per process while its size, times and inode stay the same."""
    path = Path(path).resolve()
    signature = stat_signature(path)
    known = _FILE_DIGESTS.get(str(path))
    if known and known[0] == signature:
        return known[1]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    _FILE_DIGESTS[str(path)] = (signature, h.hexdigest())
    return h.hexdigest()


def folder_digest(folder: Path) -> str:
    """sha256 over the relative paths and contents of the files under ``folder`` (or of ``folder`` itself
    when it is a file); symlinked folders are not followed. A missing folder has its own digest."""
    folder = Path(folder)
    if folder.is_file():
        return file_digest(folder)
    h = hashlib.sha256()
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for name in sorted(names):
            path = Path(root) / name
            if path.is_file():
                h.update(f"{path.relative_to(folder).as_posix()}\0{file_digest(path)}\n".encode())
    return h.hexdigest()
