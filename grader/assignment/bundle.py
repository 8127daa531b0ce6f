"""Where a release's public-test bundle is, and what it says without being decoded. Standard library only.

    <release>/tests/public.json          {"value": <the plan, grader.boundary.wire encoding>, "assets": [...]}
    <release>/tests/public.safetensors   the plan's tensors

Writing and reading the plan itself needs torch (:func:`grader.assignment.plan.save_bundle`, ``load_bundle``).
The asset names are also plain JSON beside the value (``assets``), so the check server can start a zygote for
them before it imports torch (:func:`asset_names`). A bundle from before that field just gives no hint.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from grader.errors import ReleaseError

BUNDLE_JSON = "public.json"
BUNDLE_TENSORS = "public.safetensors"
TESTS_DIR = "tests"
SEARCH_DEPTH = 4  # a notebook may sit this many folders below its release (itself included)


def find_from(folder: Path) -> Path:
    """The ``tests`` folder of the release that ``folder`` is in (or one of its parents is)."""
    for candidate in [folder, *folder.parents][:SEARCH_DEPTH]:
        if (candidate / TESTS_DIR / BUNDLE_JSON).is_file():
            return candidate / TESTS_DIR
    raise ReleaseError(
        f"no public tests found in {folder}/{TESTS_DIR} or its parents; open the notebook in its release folder"
    )


def find_for(notebook: Path) -> Path:
    """The ``tests`` folder of the release ``notebook`` belongs to."""
    try:
        return find_from(notebook.resolve().parent)
    except ReleaseError:
        raise ReleaseError(
            f"{notebook}: no public tests found (looked for {TESTS_DIR}/{BUNDLE_JSON} next to the notebook "
            "and in its parent folders; pass --tests DIR)"
        ) from None


def asset_names(folder: Path) -> list[str] | None:
    """The assets the bundle in ``folder`` needs, read from its plain JSON; None if it does not say."""
    try:
        names = json.loads((folder / BUNDLE_JSON).read_bytes()).get("assets")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        return None
    return names


def digest(folder: Path) -> str | None:
    """A hash of the bundle's bytes (both files), or None if it cannot be read."""
    h = hashlib.sha256()
    try:
        for name in (BUNDLE_JSON, BUNDLE_TENSORS):
            data = (folder / name).read_bytes()
            h.update(len(data).to_bytes(8, "little") + data)
    except OSError:
        return None
    return h.hexdigest()
