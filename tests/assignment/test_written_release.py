"""The release of written questions: each answer cell loses its solution (regions, or its whole text), keeps
its ``answer:`` marker line and its cell id, and is marked; a question without an answer cell, or with two,
stops the release with one line naming the notebook and the question."""

import json

import nbformat
import pytest

from grader.assignment.groundtruth import build_plan
from grader.assignment.release import release
from grader.assignment.spec import load_assignment
from grader.errors import ReleaseError

SPEC = """
id = "w"
title = "Written"
notebook = "w.ipynb"

[[written]]
id = "why-scale"
points = 2
prompt = "Why divide by sqrt(d_k)?"
  [[written.rubric]]
  points = 2
  text = "Correct"

[[written]]
id = "plot"
points = 1
cell = "code"

[[written]]
id = "explain-k"
points = 1
cell = "code"
"""
SECRET_MD = "The variance of q.k grows with d_k, so the softmax saturates."
SECRET_PLOT = "plt.plot(losses)  # the instructor's plot"
SECRET_K = "k = 5  # five, because the instructor says so"


def written_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    plot = nbformat.v4.new_code_cell(f"import matplotlib.pyplot as plt\n{SECRET_PLOT}")
    plot.metadata["tags"] = ["answer:plot"]
    plot.outputs = [nbformat.v4.new_output("stream", text="a figure\n")]
    nb.cells = [
        nbformat.v4.new_markdown_cell("## Scaling\n\nWhy divide the scores by sqrt(d_k)?"),
        nbformat.v4.new_markdown_cell(
            "<!-- answer: why-scale -->\nWrite two sentences.\n<!-- BEGIN SOLUTION -->\n"
            f"{SECRET_MD}\n<!-- END SOLUTION -->"
        ),
        plot,
        nbformat.v4.new_code_cell(f"# answer: explain-k\n{SECRET_K}"),
    ]
    for index, cell in enumerate(nb.cells):
        cell.id = f"cell-{index}"
    return nb


def written_assignment(folder, nb=None, spec=SPEC):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "assignment.toml").write_text(spec)
    nbformat.write(nb or written_notebook(), folder / "w.ipynb")
    return load_assignment(folder)


@pytest.fixture
def released(tmp_path):
    assignment = written_assignment(tmp_path / "w")
    release(assignment, tmp_path / "release", build_plan(assignment))
    return nbformat.read(tmp_path / "release" / "w.ipynb", as_version=4)


def test_a_markdown_answer_with_markers_keeps_its_text_outside_them(released):
    cell = next(c for c in released.cells if c.id == "cell-1")
    assert cell.source == "<!-- answer: why-scale -->\nWrite two sentences.\nYOUR ANSWER HERE"
    assert cell.metadata["llm_grader"] == {"answer": "why-scale"} and "answer:why-scale" in cell.metadata["tags"]


def test_a_code_answer_without_markers_is_replaced_whole_and_its_outputs_cleared(released):
    cell = next(c for c in released.cells if c.id == "cell-2")
    assert cell.source == "# YOUR ANSWER HERE" and cell.outputs == []
    assert cell.metadata["llm_grader"] == {"answer": "plot"} and cell.metadata["tags"] == ["answer:plot"]


def test_the_answer_marker_line_is_kept(released):
    cell = next(c for c in released.cells if c.id == "cell-3")
    assert cell.source == "# answer: explain-k\n# YOUR ANSWER HERE"
    assert cell.metadata["llm_grader"] == {"answer": "explain-k"}


def test_no_written_solution_reaches_the_release_and_ids_are_kept(released):
    text = nbformat.writes(released)
    assert not [s for s in (SECRET_MD, SECRET_PLOT, SECRET_K) if s in text]
    assert [c.id for c in released.cells] == ["grader-check", "cell-0", "cell-1", "cell-2", "cell-3"]


def test_a_written_question_without_an_answer_cell_stops_the_release(tmp_path):
    nb = written_notebook()
    nb.cells[3].source = SECRET_K  # the marker is gone
    assignment = written_assignment(tmp_path / "w", nb)
    with pytest.raises(ReleaseError) as caught:
        release(assignment, tmp_path / "release", build_plan(assignment))
    message = str(caught.value)
    assert "w.ipynb" in message and "'explain-k'" in message and "no answer cell" in message and "\n" not in message
    assert not (tmp_path / "release").exists()


def test_a_written_question_with_two_answer_cells_stops_the_release(tmp_path):
    nb = written_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell("<!-- answer: why-scale -->\nagain"))
    assignment = written_assignment(tmp_path / "w", nb)
    with pytest.raises(ReleaseError, match=r"w\.ipynb: written question 'why-scale' has 2 answer cells \(2, 5\)"):
        release(assignment, tmp_path / "release", build_plan(assignment))


def test_a_notebook_older_than_cell_ids_releases_as_a_valid_notebook(tmp_path):
    old = json.loads(nbformat.writes(written_notebook()))
    old["nbformat_minor"] = 4
    for cell in old["cells"]:
        del cell["id"]
    assignment = written_assignment(tmp_path / "w")
    (tmp_path / "w" / "w.ipynb").write_text(json.dumps(old))
    release(assignment, tmp_path / "release", build_plan(assignment))
    released = nbformat.read(tmp_path / "release" / "w.ipynb", as_version=4)
    nbformat.validate(released)  # no cell id in a 4.4 notebook, not even on the check cell
    assert released.cells[2].source == "<!-- answer: why-scale -->\nWrite two sentences.\nYOUR ANSWER HERE"
