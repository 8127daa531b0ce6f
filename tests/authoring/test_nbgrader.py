"""nbgrader's notebooks: a notebook in the format of nbgrader's documentation notebook ``ps1/problem1.ipynb``
releases with none of its solutions left (marker regions, metadata-only solution cells, hidden tests), and
``grader import-nbgrader`` makes an assignment folder of it whose manually graded cells are written questions."""

import json

import nbformat
import pytest
import tomllib
from typer.testing import CliRunner

from grader.assignment.groundtruth import build_plan
from grader.assignment.release import CODE_STUB, nbgrader_role, release
from grader.assignment.spec import load_assignment
from grader.authoring.nbgrader_import import import_nbgrader
from grader.authoring.validate import audit_release
from grader.cli import app
from grader.errors import SpecError

runner = CliRunner()

SQUARES_SOLUTION = [
    'if n < 1:\n        raise ValueError("n must be greater than or equal to 1")',
    "return [i ** 2 for i in range(1, n + 1)]",
]
HIDDEN_TEST = "assert squares(11) == [1, 4, 9, 16, 25, 36, 49, 64, 81, 100, 121]"
MARKDOWN_ANSWER = "the instructor's answer text: $\\sum_{i=1}^n i^2 = n(n+1)(2n+1)/6$, by induction on n"
SUM_OF_SQUARES = (
    "def sum_of_squares(n):\n"
    '    """Compute the sum of the squares of numbers from 1 to n."""\n'
    "    return sum(squares(n))"
)
PYRAMIDAL = 'def pyramidal_number(n):\n    """Returns the n^th pyramidal number"""\n    return sum_of_squares(n)'


def _cell(kind: str, source: str, cell_id: str, **nbgrader):
    cell = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
    cell.id = cell_id
    if nbgrader:
        meta = {"grade": False, "solution": False, "locked": False, "schema_version": 3}
        cell.metadata["nbgrader"] = {**meta, **nbgrader}
    return cell


def problem1() -> nbformat.NotebookNode:
    """nbgrader's ``ps1/problem1.ipynb``, cell roles and metadata as in nbgrader's docs."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        _cell(
            "markdown",
            "For this problem set, we'll be using the Jupyter notebook.",
            "intro",
            grade_id="jupyter",
            locked=True,
        ),
        _cell(
            "markdown",
            "---\n## Part A (2 points)\n\nWrite a function that returns a list of squares $x_i=i^2$.",
            "part-a",
        ),
        _cell(
            "code",
            'def squares(n):\n    """Compute the squares of numbers from 1 to n."""\n    ### BEGIN SOLUTION\n    '
            + "\n    ".join(SQUARES_SOLUTION)
            + "\n    ### END SOLUTION",
            "squares",
            grade_id="squares",
            solution=True,
        ),
        _cell(
            "code",
            f'"""Check that squares returns the correct output"""\nassert squares(1) == [1]\n'
            f"### BEGIN HIDDEN TESTS\n{HIDDEN_TEST}\n### END HIDDEN TESTS",
            "correct-squares",
            grade_id="correct_squares",
            grade=True,
            locked=True,
            points=1,
        ),
        _cell(
            "markdown",
            "---\n## Part B (2 points)\n\nWrite out the sum of squares in closed form.\nExplain why.",
            "part-b",
        ),
        _cell(
            "markdown",
            MARKDOWN_ANSWER,
            "equation",
            grade_id="sum_of_squares_equation",
            grade=True,
            solution=True,
            points=2,
        ),
        _cell("markdown", "## Part C\n\nUsing `squares`, write `sum_of_squares`.", "part-c"),
        _cell("code", SUM_OF_SQUARES, "sum-of-squares", grade_id="sum_of_squares", solution=True),
        _cell(
            "code",
            "assert sum_of_squares(10) == 385",
            "correct-sum",
            grade_id="correct_sum",
            grade=True,
            locked=True,
            points=1,
        ),
        _cell("markdown", "## Part D\n\nFind a use case for `sum_of_squares`.", "part-d"),
        _cell("code", PYRAMIDAL, "application", grade_id="application", grade=True, solution=True, points=2),
        _cell(
            "markdown",
            "---\n## Part E (2 points)\n\nState the formula of an arithmetic sum and verify it numerically.",
            "task-e",
            grade_id="cell-938593c4a215c6cc",
            locked=True,
            task=True,
            points=2,
        ),
    ]
    return nb


SOLUTION_LINES = [
    *(line.strip() for text in SQUARES_SOLUTION for line in text.splitlines()),
    HIDDEN_TEST,
    MARKDOWN_ANSWER,
    *(line.strip() for line in SUM_OF_SQUARES.splitlines()),
    *(line.strip() for line in PYRAMIDAL.splitlines()),
]


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    path = tmp_path_factory.mktemp("source") / "problem1.ipynb"
    nbformat.write(problem1(), path)
    return path


@pytest.fixture(scope="module")
def imported(source, tmp_path_factory):
    folder = tmp_path_factory.mktemp("imported") / "ps1"
    assert import_nbgrader(source, folder) == (folder / "assignment.toml", None)
    return load_assignment(folder)


@pytest.fixture(scope="module")
def released(imported, tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "ps1"
    plan = build_plan(imported)
    release(imported, out, plan)
    return out, plan


def _released_cells(released) -> dict[str, nbformat.NotebookNode]:
    nb = nbformat.read(released[0] / "problem1.ipynb", as_version=4)
    return {cell.id: cell for cell in nb.cells}


def test_the_release_holds_no_solution_text(released):
    raw = (released[0] / "problem1.ipynb").read_text()
    for line in SOLUTION_LINES:
        assert line not in raw and json.dumps(line)[1:-1] not in raw, line


def test_solution_cells_become_nbgrader_stubs(released):
    cells = _released_cells(released)
    assert "    # YOUR CODE HERE\n    raise NotImplementedError()" in cells["squares"].source
    assert cells["squares"].source.startswith("def squares(n):")
    assert cells["sum-of-squares"].source == CODE_STUB  # no markers: replaced whole, as nbgrader does
    assert cells["equation"].source == "YOUR ANSWER HERE"
    assert cells["application"].source == CODE_STUB


def test_test_cells_keep_visible_tests_without_hidden_ones(released):
    cells = _released_cells(released)
    assert "assert squares(1) == [1]" in cells["correct-squares"].source
    assert "HIDDEN" not in cells["correct-squares"].source
    assert cells["correct-sum"].source == "assert sum_of_squares(10) == 385"


def test_read_only_and_task_cells_are_kept_and_locked(released):
    cells = _released_cells(released)
    assert cells["intro"].source == problem1().cells[0].source
    assert cells["task-e"].source == problem1().cells[-1].source
    for name in ("intro", "task-e", "correct-squares", "correct-sum"):
        assert cells[name].metadata["editable"] is False and cells[name].metadata["deletable"] is False, name
    assert cells["squares"].metadata["deletable"] is False and "editable" not in cells["squares"].metadata


def test_manually_graded_cells_are_marked_as_answers_and_ids_kept(released):
    cells = _released_cells(released)
    assert cells["equation"].metadata["llm_grader"] == {"answer": "sum_of_squares_equation"}
    assert "answer:application" in cells["application"].metadata["tags"]
    assert cells["task-e"].metadata["llm_grader"] == {"answer": "cell-938593c4a215c6cc"}
    assert list(cells)[1:] == [cell.id for cell in problem1().cells]
    assert not any("nbgrader" in cell.metadata for cell in cells.values())


def test_the_leak_audit_passes_the_release_and_finds_a_planted_answer(released, imported, tmp_path):
    out, plan = released
    assert audit_release(out, imported, plan) == []
    leaky = tmp_path / "leaky"
    release(imported, leaky, plan)
    (leaky / "notes.md").write_text(f"{MARKDOWN_ANSWER}\n{PYRAMIDAL}\n{HIDDEN_TEST}")
    leaks = audit_release(leaky, imported, plan)
    for line in (MARKDOWN_ANSWER, "return sum_of_squares(n)", HIDDEN_TEST):
        assert f"solution line {line!r}" in leaks


def test_import_makes_written_questions_of_the_manually_graded_cells(imported):
    spec = imported.spec
    assert (spec.id, spec.title, spec.notebook, spec.questions, spec.reference) == (
        "problem1",
        "problem1",
        "problem1.ipynb",
        [],
        "",
    )
    written = {w.id: (w.points, w.cell) for w in spec.written}
    assert written == {
        "sum_of_squares_equation": (2, "markdown"),
        "application": (2, "code"),
        "cell-938593c4a215c6cc": (2, "markdown"),
    }
    prompts = {w.id: w.prompt for w in spec.written}
    assert prompts["sum_of_squares_equation"] == "Write out the sum of squares in closed form. Explain why."
    assert prompts["application"] == "Find a use case for `sum_of_squares`."
    assert prompts["cell-938593c4a215c6cc"].startswith("State the formula of an arithmetic sum")
    assert all([(r.points, r.text) for r in w.rubric] == [(w.points, "Full marks")] for w in spec.written)


def test_import_lists_the_autograder_tests_for_the_instructor(imported, source):
    text = (imported.folder / "assignment.toml").read_text()
    assert "# correct_squares (1 point):" in text and "# correct_sum (1 point):" in text
    assert f"#     {HIDDEN_TEST}" in text and "#     assert sum_of_squares(10) == 385" in text
    assert "questions" not in tomllib.loads(text)
    assert (imported.folder / "problem1.ipynb").read_bytes() == source.read_bytes()


def test_hostile_text_in_the_notebook_stays_inside_its_toml_strings(tmp_path):
    nb = problem1()
    nb.cells[4].source = 'Part B\n\n"""\nid = "x" \\ \x00\x7f\r\n[[questions]]\ud800'
    nb.cells[8].source = "assert True\r[[questions]]\nfunction = 'evil'"
    path = tmp_path / "hostile.ipynb"
    path.write_text(json.dumps(nb))
    spec = load_assignment(import_nbgrader(path, tmp_path / "out")[0].parent).spec
    assert spec.questions == [] and spec.written[0].prompt.startswith('Part B """ id = "x" \\ \x00\x7f [[questions]]')


def test_import_from_the_command_line_then_a_second_import_is_refused_in_one_line(source, tmp_path):
    result = runner.invoke(app, ["import-nbgrader", str(source), "--out", str(tmp_path / "ps1")])
    assert result.exit_code == 0 and "grader release" in result.output, result.output
    again = runner.invoke(app, ["import-nbgrader", str(source), "--out", str(tmp_path / "ps1")])
    assert again.exit_code == 1 and "must be empty" in again.output and len(again.output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        ("{ not json", "broken.ipynb", "not a readable notebook"),
        ("x = 1", "script.py", "not a notebook"),
        (
            nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])),
            "plain.ipynb",
            "no nbgrader",
        ),
    ],
)
def test_what_import_refuses(tmp_path, content, name, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(SpecError, match=message):
        import_nbgrader(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    result = runner.invoke(app, ["import-nbgrader", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1 and result.output.startswith("error:") and str(path) in result.output.replace("\n", "")


@pytest.mark.slow
def test_grader_release_releases_the_imported_folder_as_it_is(source, tmp_path):
    """``grader release`` checks the template in a real kernel: an assignment with written questions only."""
    assert runner.invoke(app, ["import-nbgrader", str(source), "--out", str(tmp_path / "ps1")]).exit_code == 0
    result = runner.invoke(app, ["release", str(tmp_path / "ps1"), "--out", str(tmp_path / "release")])
    assert result.exit_code == 0, result.output
    raw = (tmp_path / "release" / "problem1.ipynb").read_text()
    assert not [line for line in SOLUTION_LINES if line in raw or json.dumps(line)[1:-1] in raw]


def test_a_notebook_older_than_cell_ids_gets_them_in_the_copy_and_the_release_keeps_them(tmp_path):
    """nbgrader's docs notebook is nbformat 4.0: no cell ids, which grading needs to find an unmarked answer."""
    old = json.loads(nbformat.writes(problem1()))
    old["nbformat_minor"] = 0
    for cell in old["cells"]:
        del cell["id"]
    (tmp_path / "problem1.ipynb").write_text(json.dumps(old))
    assignment = load_assignment(import_nbgrader(tmp_path / "problem1.ipynb", tmp_path / "ps1")[0].parent)
    copy = nbformat.read(assignment.notebook_path, as_version=4)
    ids = [cell.id for cell in copy.cells]
    assert copy.nbformat_minor == 5 and len(set(ids)) == len(old["cells"])
    assert [cell.source for cell in copy.cells] == [cell.source for cell in problem1().cells]
    release(assignment, tmp_path / "release", build_plan(assignment))
    released = nbformat.read(tmp_path / "release" / "problem1.ipynb", as_version=4)
    assert [cell.id for cell in released.cells][1:] == ids


def test_grade_ids_that_make_no_spec_are_refused_in_one_line(tmp_path):
    nb = problem1()
    nb.cells[5].metadata["nbgrader"]["grade_id"] = "1-starts-with-a-digit"
    nb.cells[10].metadata["nbgrader"]["grade_id"] = "1-starts-with-a-digit"
    nbformat.write(nb, tmp_path / "bad.ipynb")
    with pytest.raises(SpecError, match=r"bad\.ipynb: its nbgrader metadata makes no valid assignment: written\.0\.id"):
        import_nbgrader(tmp_path / "bad.ipynb", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_notebook_with_autograded_parts_only_is_imported_with_a_note(tmp_path):
    nb = problem1()
    nb.cells = [cell for cell in nb.cells if nbgrader_role(cell) not in ("manual", "task")]
    nbformat.write(nb, tmp_path / "auto.ipynb")
    result = runner.invoke(app, ["import-nbgrader", str(tmp_path / "auto.ipynb"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0 and "note: no manually graded cell" in result.output
    text = (tmp_path / "out" / "assignment.toml").read_text()
    assert "# correct_squares (1 point):" in text and "[[written]]" not in text


def test_the_imported_task_is_answered_in_the_cells_after_it(imported):
    from grader.assignment.manual import manual_questions

    tasks = {m.name: m.task for m in manual_questions(imported)}
    assert tasks == {"sum_of_squares_equation": False, "application": False, "cell-938593c4a215c6cc": True}
