"""The self-check inside a notebook: a real kernel runs ``from grader import check; check(...)``."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from grader.assignment.release import release
from grader.assignment.spec import load_assignment
from tests.helpers import REPO

pytestmark = pytest.mark.slow
SAMPLING = REPO / "assignments" / "03-sampling"


def _code(notebook: Path) -> list[str]:
    return [c.source for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code"]


def _run(folder: Path, cells: list[str]) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    NotebookClient(
        nb, timeout=120, allow_errors=True, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    ).execute()
    return "\n".join(
        o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for c in nb.cells for o in c.outputs
    )


@pytest.fixture(scope="module")
def release_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("rel") / "03-sampling"
    release(load_assignment(SAMPLING), out)
    return out


def test_check_in_a_notebook_shows_public_results_and_the_hidden_count(release_dir):
    cells = _code(SAMPLING / "examples" / "correct.ipynb")
    output = _run(release_dir, [*cells, 'from grader import check\ncheck("top_k_filter")'])
    assert "public tests: 2 / 2 points" in output
    assert "top_k_filter: ties with the k-th value are kept" in output and "FAIL" not in output
    assert "3 hidden test(s) exist for these functions" in output


def test_check_sees_the_current_state_of_the_notebook(release_dir):
    cells = _code(SAMPLING / "examples" / "correct.ipynb")
    broken = "def top_k_filter(logits, k):\n    return logits"  # redefined after the correct one
    output = _run(release_dir, [*cells, broken, 'from grader import check\ncheck("top_k_filter")'])
    assert "FAIL" in output and "infinity" in output


def test_check_of_everything_runs_every_public_case(release_dir):
    output = _run(release_dir, [*_code(SAMPLING / "examples" / "correct.ipynb"), "import grader\ngrader.check()"])
    assert "public tests: 12 / 12 points" in output
    assert "hidden test(s) exist" in output and "FAIL" not in output


def test_check_is_a_no_op_while_grading(release_dir, monkeypatch):
    monkeypatch.setenv("LLM_GRADER_GRADING", "1")
    assert "does nothing while the notebook is being graded" in _run(release_dir, ["import grader\ngrader.check()"])
