"""Gradescope's ``results.json``, one per student, exactly as the gradebook stores it."""

from __future__ import annotations

import json
from pathlib import Path

from grader.batch.gradebook import Gradebook
from grader.common.files import atomic_write


def write_gradescope(gb: Gradebook, folder: Path) -> list[str]:
    """``<id>/results.json`` per student, as stored in the gradebook."""
    for r in gb.rows():
        (folder / r.student_id).mkdir(parents=True, exist_ok=True)
        with atomic_write(folder / r.student_id / "results.json") as f:
            json.dump(r.result, f, indent=2)
    return []
