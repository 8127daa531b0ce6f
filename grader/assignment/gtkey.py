"""The content hash of an assignment's whole ground truth, remembered between runs of ``grader grade``.

:func:`grader.assignment.casekey.hash_groundtruth` combines every case's key. Hashing the code, files and
models needs no torch; the environment the keys hold (torch's version, the device, the determinism settings) does,
and importing torch would be most of what a rerun with nothing to grade, or a refusal, costs. So the environment
is remembered in ``OUT/.groundtruth/environment.json`` while the machine stays the same (the last item below), and
the hash in ``OUT/.groundtruth/groundtruth-<folder>.json`` (one per assignment folder graded into ``OUT``) with a
witness of everything it was computed from, read without torch:

- the spec file, every code file of the keys (:func:`~grader.assignment.gtsources.code_files`), where each module
  a case names is found and its file, each input file and each file and folder of each asset folder, by stat
  signature (the test :func:`~grader.assignment.casekey.file_digest` trusts within a process);
- where the reference would run: the environment and Python version, the host, torch's installed build (its
  ``version.py``), the versions of torch, transformers and tokenizers, the GPUs the driver lists and the
  variables that hide them.

While the witness stays the same, the remembered hash is returned; on any difference (or a memo that cannot be
read) it is computed again, with torch only if the machine changed, and remembered. ``grader grade`` builds its
plan before grading anything, which computes the hash anew, and refuses to grade (forgetting the memos) if the two
differ.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path

from grader.assignment.casekey import hash_groundtruth
from grader.assignment.gtsources import code_files, module_origin, stat_signature
from grader.assignment.spec import SPEC_FILE, Assignment
from grader.common.files import write_text
from grader.common.gpu import GPU_VARIABLES

MEMO = "groundtruth-{}.json"  # {}: a hash of the assignment folder's path
ENVIRONMENT = "environment.json"
FORMAT = "grader-groundtruth-key/1"
GPUS = Path("/proc/driver/nvidia/gpus")


def groundtruth_key(assignment: Assignment, folder: Path | None = None) -> str:
    """The assignment's ground-truth hash; with ``folder`` (the output folder's cache), remembered there."""
    memo = None if folder is None else memo_path(folder, assignment)
    if memo is not None and (key := recall(memo, assignment)) is not None:
        return key
    key, read = hash_groundtruth(assignment, environment(folder))
    if memo is not None:
        stored = {k: sorted(str(v) for v in values) for k, values in read.items()}
        body = {"key": key, "read": stored, "witness": witness(assignment, stored)}
        memo.parent.mkdir(parents=True, exist_ok=True)
        write_text(memo, json.dumps(body, indent=1))
    return key


def environment(folder: Path | None) -> dict:
    """:func:`grader.assignment.gtcache.reference_environment`, remembered in ``folder`` while the machine's
    witness (:func:`_environment`) stays the same: torch is imported only when it changed."""
    memo = None if folder is None else Path(folder) / ENVIRONMENT
    witness = json.loads(json.dumps(_environment()))
    try:
        body = json.loads(memo.read_text(encoding="utf-8")) if memo else None
        if body and body["witness"] == witness and isinstance(body["environment"], dict):
            return body["environment"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    from grader.assignment.gtcache import reference_environment  # imports torch

    found = reference_environment()
    if memo is not None:
        memo.parent.mkdir(parents=True, exist_ok=True)
        write_text(memo, json.dumps({"witness": witness, "environment": found}, indent=1))
    return found


def memo_path(folder: Path, assignment: Assignment) -> Path:
    """Where ``folder`` remembers the hash of ``assignment`` (trying another assignment keeps this one's)."""
    where = hashlib.sha256(str(assignment.folder.resolve()).encode()).hexdigest()[:16]
    return Path(folder) / MEMO.format(where)


def recall(memo: Path, assignment: Assignment) -> str | None:
    """The remembered hash, if the memo is readable and nothing it was computed from changed since."""
    try:
        body = json.loads(memo.read_text(encoding="utf-8"))
        fresh = witness(assignment, body["read"])
        return body["key"] if body["witness"] == fresh and isinstance(body["key"], str) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def forget(folder: Path) -> None:
    """Drop the memos of ``folder`` (a hash proved wrong): the next run computes it, environment included."""
    for memo in [*Path(folder).glob(MEMO.format("*")), Path(folder) / ENVIRONMENT]:
        memo.unlink(missing_ok=True)


def witness(assignment: Assignment, read: dict[str, list[str]]) -> dict:
    """What the hash was computed from, as plain JSON data (see the module's docstring)."""
    origins = {m: module_origin(m) for m in read["modules"]}
    body = {
        "format": FORMAT,
        "spec": [str(assignment.folder.resolve()), _signature(assignment.folder / SPEC_FILE)],
        "code": {name: _signature(path) for name, path in code_files()},
        "modules": {m: [str(o), _signature(o)] if o else None for m, o in origins.items()},
        "files": {name: _signature(Path(name)) for name in read["files"]},
        "folders": {name: _folder_signature(Path(name)) for name in read["folders"]},
        "environment": _environment(),
    }
    return json.loads(json.dumps(body))  # tuples as lists, as the memo reads back


def _signature(path: Path) -> list[int] | None:
    try:
        return list(stat_signature(path))
    except OSError:
        return None


def _folder_signature(folder: Path) -> list | None:
    """Each file and folder under ``folder`` with its stat signature (a folder's changes when entries come or go)."""
    if not folder.is_dir():
        return _signature(folder)
    entries = [[".", _signature(folder)]]
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for name in [*dirs, *sorted(names)]:
            path = Path(root) / name
            entries.append([path.relative_to(folder).as_posix(), _signature(path)])
    return entries


def _environment() -> dict:
    """Where the reference would run, found without importing torch (what the keys' environment depends on):
    the witness of the remembered environment, and part of each hash's."""
    torch_spec = importlib.util.find_spec("torch")
    torch_dir = Path(torch_spec.origin).parent if torch_spec and torch_spec.origin else None
    return {
        "python": [sys.prefix, platform.python_version()],
        "host": platform.node(),
        "processor": platform.processor(),
        "torch_build": _signature(torch_dir / "version.py") if torch_dir else None,
        "versions": {name: _version(name) for name in ("torch", "transformers", "tokenizers")},
        "gpus": sorted(os.listdir(GPUS)) if GPUS.is_dir() else None,
        "gpu_variables": {name: os.environ.get(name) for name in GPU_VARIABLES},
    }


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None
