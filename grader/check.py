"""Self-check: a student's notebook against the public tests of its release, on their own machine.

``grader check my.ipynb`` finds the release's test bundle (``tests/`` next to the notebook or in a
parent folder, or ``--tests``), grades the saved notebook with exactly the engine final grading uses,
prints a table and writes the feedback report next to the notebook.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from grader.errors import ReleaseError
from grader.grade import grade_submission
from grader.kernel import Launcher, LocalLauncher
from grader.plan import BUNDLE_JSON, GradingPlan, load_bundle
from grader.report import render_reports
from grader.results import SubmissionResult


def find_bundle(notebook: Path) -> Path:
    """The ``tests`` folder of the release the notebook belongs to."""
    for folder in [notebook.resolve().parent, *notebook.resolve().parents][:4]:
        if (folder / "tests" / BUNDLE_JSON).is_file():
            return folder / "tests"
    raise ReleaseError(f"{notebook}: no public tests found (looked for tests/{BUNDLE_JSON} next to the notebook "
                       "and in its parent folders; pass --tests DIR)")


def load_check_plan(notebook: Path, tests: Path | None = None) -> GradingPlan:
    """The public-test plan for ``notebook``: from ``tests`` or the release folder it sits in."""
    return load_bundle(tests or find_bundle(notebook))


def check_notebook(notebook: Path, plan: GradingPlan | None = None, launcher: Launcher | None = None
                   ) -> tuple[SubmissionResult, GradingPlan, Path]:
    """Grade ``notebook`` on the public tests; return the result, the plan and the HTML report's path."""
    plan = plan or load_check_plan(notebook)
    with tempfile.TemporaryDirectory(prefix="grader-check-") as workroot:
        result = asyncio.run(grade_submission(plan, notebook, notebook.stem, launcher or LocalLauncher(),
                                              Path(workroot)))
    html, _ = render_reports(result, notebook.resolve().parent / ".feedback")
    return result, plan, html
