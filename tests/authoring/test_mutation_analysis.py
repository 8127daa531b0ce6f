"""``grader validate --mutants`` on a ``grader new`` assignment, through the CLI: a weak spec lets a real bug
survive (shown with its diff, exit 1), a case added to the spec kills it (exit 0), and a mutant that no input
can tell from the solution is marked "likely equivalent" instead of counted as a gap."""

import nbformat
import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.sandbox.isolation import sandbox_status

pytestmark = pytest.mark.slow
runner = CliRunner()
# One-dimensional rows only: keepdim=False and dim=0 give the same values there, a batch of rows would not.
WEAK_CASES = """
[[questions]]
function = "rms_norm"
points = 2

  [[questions.cases]]
  name = "one row"
  args = { x = { randn = [16], seed = 1 } }

  [[questions.cases]]
  name = "small values, where eps matters"
  hidden = true
  args = { x = { randn = [8], seed = 2, scale = 0.01 }, eps = 1e-3 }
"""
BATCH_CASE = """
  [[questions.cases]]
  name = "a batch of rows"
  args = { x = { randn = [4, 16], seed = 3 } }
"""


def mutants(folder):
    sandbox = [] if sandbox_status()[0] else ["--no-sandbox"]
    return runner.invoke(app, ["validate", str(folder), "--mutants", "-j", "2", *sandbox], env={"COLUMNS": "200"})


def weak_assignment(folder):
    runner.invoke(app, ["new", str(folder)])
    spec = folder / "assignment.toml"
    spec.write_text(spec.read_text().split("\n[[questions]]")[0] + WEAK_CASES)
    notebook = folder / "norms.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:  # clamp(min=0) changes nothing (a mean of squares is >= 0), so neither does min=-1
        cell.source = cell.source.replace("keepdim=True) + eps", "keepdim=True).clamp(min=0) + eps")
    nbformat.write(nb, notebook)


def test_a_survivor_is_found_then_killed_and_equivalents_are_marked(tmp_path):
    folder = tmp_path / "norms"
    weak_assignment(folder)
    weak = mutants(folder)
    assert weak.exit_code == 1, weak.output
    assert "SURVIVED" in weak.output and "keepdim=True -> False" in weak.output
    assert "+    return x / torch.sqrt(x.pow(2).mean(dim=-1, keepdim=False).clamp(min=0) + eps)" in weak.output
    assert "survived (likely equivalent)" in weak.output and "0 -> -1" in weak.output
    assert "mutation score" in weak.output and "analysis took" in weak.output
    assert "tolerances of the close cases" in weak.output and "rms_norm: one row" in weak.output

    spec = folder / "assignment.toml"
    spec.write_text(spec.read_text() + BATCH_CASE)
    strong = mutants(folder)
    assert strong.exit_code == 0, strong.output
    assert "SURVIVED" not in strong.output and "survived (likely equivalent)" in strong.output
    assert "mutation score 100.0%" in strong.output
