"""The release: a template notebook and public tests, and nothing an instructor must keep to themselves."""

import shutil

import nbformat
import pytest

from grader.assignment.groundtruth import build_plan
from grader.assignment.plan import load_bundle
from grader.assignment.release import release, strip_hidden_tests, strip_solutions
from grader.assignment.spec import load_assignment
from grader.authoring.validate import _notebook_lines, audit_release
from grader.errors import ReleaseError
from tests.helpers import REPO

SAMPLING = REPO / "assignments" / "03-sampling"


def test_solution_regions_become_the_nbgrader_stub_with_indentation_kept():
    source = "def f(x):\n    '''doc'''\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n"
    assert strip_solutions(source, False, "cell") == (
        "def f(x):\n    '''doc'''\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    )


def test_markdown_solutions_become_your_answer_here():
    assert strip_solutions("Q?\n### BEGIN SOLUTION\nsecret\n### END SOLUTION", True, "c") == "Q?\nYOUR ANSWER HERE"


@pytest.mark.parametrize(
    "source",
    [
        "### BEGIN SOLUTION\nx = 1",
        "x = 1\n### END SOLUTION",
        "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION",
    ],
)
def test_unbalanced_markers_are_an_error_naming_the_cell(source):
    with pytest.raises(ReleaseError, match="nb.ipynb, cell 3"):
        strip_solutions(source, False, "nb.ipynb, cell 3")


def test_hidden_test_regions_are_removed():
    assert strip_hidden_tests("a\n### BEGIN HIDDEN TESTS\nassert secret\n### END HIDDEN TESTS\nb", "c") == "a\nb"


@pytest.fixture(scope="module")
def sampling_plan():
    return build_plan(load_assignment(SAMPLING))


@pytest.fixture(scope="module")
def released(sampling_plan, tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "03-sampling"
    release(load_assignment(SAMPLING), out, sampling_plan)
    return out


def test_release_leaks_nothing(released, sampling_plan):
    assert audit_release(released, load_assignment(SAMPLING), sampling_plan) == []


def test_the_leak_audit_is_not_vacuous(released, sampling_plan, tmp_path):
    """Planted leaks of each kind are found: a solution line, reference source, a hidden case."""
    leaky = tmp_path / "leaky"
    shutil.copytree(released, leaky)
    solution_line = sorted(_notebook_lines(load_assignment(SAMPLING))[0])[0]
    reference_line = next(
        line.strip()
        for line in (REPO / "reference" / "sampling.py").read_text().splitlines()
        if len(line.strip()) > 40 and "sorted_logits" in line
    )
    hidden = next(c for q in sampling_plan.questions for c in q.cases if c.hidden)
    (leaky / "notes.txt").write_text("\n".join([solution_line, reference_line, hidden.name]))
    leaks = audit_release(leaky, load_assignment(SAMPLING), sampling_plan)
    assert any(line.startswith("solution line") for line in leaks)
    assert any(line.startswith("reference source line") for line in leaks)
    assert any(hidden.name in line for line in leaks)


def test_hidden_case_counts_are_kept_for_the_self_check(released):
    bundle = load_bundle(released / "tests")
    assert sum(q.hidden_cases for q in bundle.questions) > 0


def test_template_keeps_signatures_and_is_stamped(released):
    nb = nbformat.read(released / "sampling.ipynb", as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "def top_p_filter(" in code and code.count("raise NotImplementedError()") >= 7
    assert nb.metadata["llm_grader"] == {"assignment": "03-sampling", "version": "1"}
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


def test_release_refuses_a_non_empty_folder(tmp_path, sampling_plan):
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(ReleaseError, match="must be empty"):
        release(load_assignment(SAMPLING), tmp_path, sampling_plan)


def test_a_solution_line_quoted_in_markdown_is_a_leak(tmp_path, sampling_plan):
    """Markdown is released as is: quoting solution code there leaks it, even with quotes or backslashes."""
    folder = tmp_path / "assignment"
    shutil.copytree(SAMPLING, folder, ignore=shutil.ignore_patterns("examples"))
    nb = nbformat.read(folder / "sampling.ipynb", as_version=4)
    solution = sorted(_notebook_lines(load_assignment(SAMPLING))[0])
    quoted = next(line for line in solution if '"' in line or "\\" in line or "(" in line)
    nb.cells.append(nbformat.v4.new_markdown_cell(f"Hint:\n\n    {quoted}\n"))
    nbformat.write(nb, folder / "sampling.ipynb")
    assignment = load_assignment(folder)
    out = tmp_path / "release"
    release(assignment, out, sampling_plan)
    assert any(quoted in leak for leak in audit_release(out, assignment, sampling_plan))


def test_the_release_tells_students_how_to_check(released, sampling_plan):
    """A student README (install, check from the terminal and the notebook, public vs hidden), and a first
    cell in the template that says the same in two lines."""
    readme = (released / "README.md").read_text()
    assert "pip install" in readme and "grader check sampling.ipynb" in readme
    assert 'from grader import check\ncheck("softmax_with_temperature")' in readme
    hidden = sum(c.hidden for q in sampling_plan.questions for c in q.cases)
    assert f"{hidden} hidden tests run at grading" in readme and "not your grade" in readme
    assert ".feedback/sampling.html" in readme and "assets/course-lm" in readme
    first = nbformat.read(released / "sampling.ipynb", as_version=4).cells[0]
    assert first.cell_type == "markdown" and first.source.count("\n") == 1
    assert "grader check sampling.ipynb" in first.source and "check()" in first.source


@pytest.mark.slow
def test_the_template_finds_the_course_model_from_the_release_and_from_elsewhere(released, tmp_path, monkeypatch):
    """The template's model cell, run in a real kernel: from the release folder, from a folder inside it, and
    from an unrelated working folder when Jupyter says where the notebook is (``JPY_SESSION_NAME``)."""
    from nbclient import NotebookClient

    cell = next(
        c.source
        for c in nbformat.read(released / "sampling.ipynb", as_version=4).cells
        if c.cell_type == "code" and "MODEL_DIR" in c.source
    )
    lookup = cell[: cell.index("if os.path.isdir(MODEL_DIR)")].replace("from transformers import", "# ")
    lookup += "print('MODEL', os.path.isdir(MODEL_DIR), MODEL_DIR)"
    monkeypatch.delenv("COURSE_LM", raising=False)
    (released / "work").mkdir(exist_ok=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for cwd, session in ((released, None), (released / "work", None), (elsewhere, released / "sampling.ipynb")):
        if session is None:
            monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
        else:
            monkeypatch.setenv("JPY_SESSION_NAME", str(session))
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(lookup)])
        NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
        printed = nb.cells[0].outputs[0]["text"]
        assert printed.startswith("MODEL True") and str(released / "assets" / "course-lm") in printed, (cwd, printed)
