"""Shared fixtures: notebooks built from code strings, a tiny assignment with short time limits."""

import asyncio
import dataclasses
from pathlib import Path

import nbformat
import pytest

from grader.assignment.groundtruth import build_plan
from grader.assignment.spec import Limits, load_assignment

REPO = Path(__file__).resolve().parents[2]

GREEDY = "import torch\ndef greedy_next_token(logits):\n    return logits.argmax(dim=-1)\n"
SOFTMAX = (
    "import torch\ndef softmax_with_temperature(logits, temperature):\n"
    "    return torch.softmax(logits / temperature, dim=-1)\n"
)

MINI_SPEC = """
id = "mini"
title = "Mini"
notebook = "mini.ipynb"
reference = "reference.sampling"

[[questions]]
function = "greedy_next_token"
points = 1
  [[questions.cases]]
  name = "random"
  args = { logits = { randn = [3, 7], seed = 0 } }
  compare = { kind = "exact" }
  [[questions.cases]]
  name = "hidden tie"
  hidden = true
  args = { logits = { tensor = [[1.0, 3.0, 3.0]] } }
  compare = { kind = "exact" }

[[questions]]
function = "softmax_with_temperature"
points = 2
  [[questions.cases]]
  name = "t=2"
  args = { logits = { randn = [2, 5], seed = 1 }, temperature = 2.0 }
"""


def notebook(folder: Path, name: str, *cells: str) -> Path:
    """Write a notebook whose code cells are ``cells``; return its path."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="session")
def mini_assignment(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mini")
    (folder / "assignment.toml").write_text(MINI_SPEC)
    notebook(folder, "mini", "### BEGIN SOLUTION\n" + GREEDY + "### END SOLUTION", SOFTMAX)
    return load_assignment(folder)


@pytest.fixture(scope="session")
def mini_plan(mini_assignment):
    """The mini assignment's plan with short limits, so hangs cost seconds."""
    plan = build_plan(mini_assignment)
    return dataclasses.replace(plan, limits=Limits(cell_timeout_s=6, call_timeout_s=6, submission_timeout_s=120))


def grade(plan, path: Path, tmp_path: Path, launcher=None):
    from grader.grading.grade import grade_submission
    from grader.sandbox.launcher import LocalLauncher

    return asyncio.run(grade_submission(plan, path, path.stem, launcher or LocalLauncher(), tmp_path / "runs"))


def scores(result) -> dict[str, float]:
    return {q.name: round(q.score, 4) for q in result.questions}
