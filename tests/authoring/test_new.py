"""``grader new`` writes an assignment that ``grader validate`` passes as written and ``grader release`` releases;
without its solution markers, validate reports the shipped solution and release refuses (run through the CLI)."""

import nbformat
import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.sandbox.isolation import sandbox_status

pytestmark = pytest.mark.slow
runner = CliRunner()
SHIPPED = (
    "{notebook}: function 'rms_norm' passes all its cases in the released template, so its solution would ship "
    "to students: put it between ### BEGIN SOLUTION and ### END SOLUTION"
)


def validate(folder):
    return runner.invoke(app, ["validate", str(folder), "-j", "2"] + ([] if sandbox_status()[0] else ["--no-sandbox"]))


def test_a_new_assignment_validates_and_releases(tmp_path):
    folder = tmp_path / "course" / "05-norms"
    made = runner.invoke(app, ["new", str(folder)])
    assert made.exit_code == 0 and f"next: grader validate {folder}" in made.output, made.output
    checked = validate(folder)
    assert checked.exit_code == 0, checked.output
    assert "FAILED" not in checked.output and checked.output.count(" ok ") == 6 + 2, checked.output  # + tolerances
    assert "tolerances of the close cases" in checked.output and "fragile" not in checked.output
    assert "3 graded as expected" in checked.output
    released = runner.invoke(app, ["release", str(folder), "--out", str(tmp_path / "release")])
    assert released.exit_code == 0, released.output
    assert {p.name for p in (tmp_path / "release").iterdir()} == {"05-norms.ipynb", "README.md", "tests"}


def test_a_solution_without_markers_is_reported_and_not_released(tmp_path):
    folder = tmp_path / "05-norms"
    runner.invoke(app, ["new", str(folder)])
    notebook = folder / "05-norms.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        cell.source = "\n".join(line for line in cell.source.splitlines() if "SOLUTION" not in line)
    nbformat.write(nb, notebook)
    checked = validate(folder)
    assert checked.exit_code == 1 and checked.output.count("FAILED") == 3, checked.output  # template, ships, examples
    refused = runner.invoke(app, ["release", str(folder), "--out", str(tmp_path / "release")])
    assert refused.exit_code == 1
    assert refused.output.strip().replace("\n", "") == "error: " + SHIPPED.format(notebook="05-norms.ipynb")
    assert not (tmp_path / "release").exists() and [p.name for p in tmp_path.iterdir()] == ["05-norms"]
