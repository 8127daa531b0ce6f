"""What many tests share: notebooks built from code strings, the tiny ``mini`` assignment, grading one notebook.

Imported by tests (``from tests.helpers import ...``); the fixtures built on them are in ``tests/conftest.py``.
"""

import asyncio
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]

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


def grade(plan, path: Path, tmp_path: Path, launcher=None):
    from grader.grading.grade import grade_submission
    from grader.sandbox.launcher import LocalLauncher

    return asyncio.run(grade_submission(plan, path, path.stem, launcher or LocalLauncher(), tmp_path / "runs"))


def scores(result) -> dict[str, float]:
    return {q.name: round(q.score, 4) for q in result.questions}


def wait_for(condition, timeout: float) -> bool:
    """Poll ``condition()`` until it holds or ``timeout`` seconds pass; whether it held (tests wait on what they
    need to see, never for a fixed time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()
