"""Starting a child Python process that imports this very grader (the zygote, the check server).

A child started as ``python -m grader...`` must run the same code as its parent, which talks to it. An
installed grader (a wheel, in site-packages) is found there by any Python of the environment; a grader
imported from elsewhere (a source folder, an editable install) is found through ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import site
from pathlib import Path

IMPORT_ROOT = Path(__file__).resolve().parents[2]  # the folder this ``grader`` package was imported from


def child_pythonpath(inherited: str | None = None) -> str | None:
    """The ``PYTHONPATH`` for a child that must import this grader: ``inherited`` alone when the child's
    interpreter finds this grader anyway (it lives in a site-packages folder), else this grader's import root
    first."""
    sites = {Path(p).resolve() for p in [*site.getsitepackages(), site.getusersitepackages()]}
    if IMPORT_ROOT in sites:
        return inherited or None
    return os.pathsep.join(filter(None, [str(IMPORT_ROOT), inherited]))
