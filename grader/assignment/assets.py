"""Where an assignment's assets are on the host: the folders a kernel may read (the course model, data).

Imports no torch unless the course model must be built: ``grader grade`` starts its zygote with these paths
before it imports its own grading stack.
"""

from __future__ import annotations

from pathlib import Path

from grader.assignment.spec import Asset, Assignment


def asset_paths(assignment: Assignment) -> dict[str, Path]:
    """Host folders of the assignment's assets (the course model is built on first use). Imports no torch
    unless the model must be built: ``grader grade`` starts its zygote with these before its own imports."""
    return {name: _asset_path(assignment.folder, asset) for name, asset in assignment.spec.assets.items()}


def _asset_path(folder: Path, asset: Asset) -> Path:
    if asset.kind == "course-lm":
        from reference.models import course_lm_path

        return course_lm_path()
    return (folder / (asset.path or "")).resolve()
