"""What the ground truth is computed from, found without importing torch: the code every case depends on, the
module a reference target names, and the stat signature that tells a file unchanged without reading it.

Shared by :mod:`grader.assignment.gtcache` (which hashes these) and :mod:`grader.assignment.gtkey` (which checks
that none of them changed since the assignment's ground truth was last hashed).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

CACHE_DIR = ".groundtruth"
GRADER_CODE = (
    "assignment/groundtruth.py",
    "assignment/inputs.py",
    "assignment/input_tables.py",
    "assignment/references.py",
    "boundary/kernel_side.py",
    "boundary/wire.py",
    "assignment/gtcache.py",
)
_HERE = Path(__file__).resolve().parents[1]  # grader/


def cache_folder(out: Path) -> Path:
    """Where ``grader grade`` keeps the ground truth of the output folder ``out``."""
    return Path(out) / CACHE_DIR


def code_files() -> list[tuple[str, Path]]:
    """The code every case depends on, as (name, path): the reference package's ``.py`` files, recursively,
    and :data:`GRADER_CODE`, sorted by path."""
    import reference

    root = Path(reference.__file__).resolve().parent
    files = [(f"reference/{p.relative_to(root).as_posix()}", p) for p in sorted(root.rglob("*.py"))]
    return files + [(f"grader/{name}", _HERE / name) for name in GRADER_CODE]


def module_origin(module: str) -> Path | None:
    """The source file of ``module`` (or of its package's ``__init__``), found without importing it (its parent
    packages are imported); None if it is not found."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not os.path.isfile(spec.origin):
        return None
    return Path(spec.origin)


def stat_signature(path: Path) -> tuple[int, int, int, int, int]:
    """What says a file is unchanged without reading it: size, modification and change times, inode, device."""
    st = os.stat(path)
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)
