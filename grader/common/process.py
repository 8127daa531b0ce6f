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


def child_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` for a child that must import this grader: as it is when the child's interpreter finds this grader
    anyway (it lives in a site-packages folder), else with this grader's import root first on ``PYTHONPATH``."""
    sites = {Path(p).resolve() for p in [*site.getsitepackages(), site.getusersitepackages()]}
    if IMPORT_ROOT in sites:
        return dict(env)
    return {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(IMPORT_ROOT), env.get("PYTHONPATH")]))}
