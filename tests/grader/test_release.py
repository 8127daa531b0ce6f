"""The release: a template notebook and public tests, and nothing an instructor must keep to themselves."""

from pathlib import Path

import nbformat
import pytest
import torch

from grader.errors import ReleaseError
from grader.groundtruth import build_plan
from grader.plan import load_bundle
from grader.release import release, strip_hidden_tests, strip_solutions
from grader.spec import load_assignment

REPO = Path(__file__).resolve().parents[2]
SAMPLING = REPO / "assignments" / "03-sampling"


def test_solution_regions_become_the_nbgrader_stub_with_indentation_kept():
    source = "def f(x):\n    '''doc'''\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n"
    assert strip_solutions(source, False, "cell") == (
        "def f(x):\n    '''doc'''\n    # YOUR CODE HERE\n    raise NotImplementedError()")


def test_markdown_solutions_become_your_answer_here():
    assert strip_solutions("Q?\n### BEGIN SOLUTION\nsecret\n### END SOLUTION", True, "c") == "Q?\nYOUR ANSWER HERE"


@pytest.mark.parametrize("source", ["### BEGIN SOLUTION\nx = 1", "x = 1\n### END SOLUTION",
                                    "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION"])
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


def _release_text(folder: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in folder.rglob("*") if p.is_file())


def _solution_lines(notebook: Path) -> list[str]:
    lines, inside = [], False
    for cell in nbformat.read(notebook, as_version=4).cells:
        for line in cell.source.splitlines():
            if "BEGIN SOLUTION" in line:
                inside = True
            elif "END SOLUTION" in line:
                inside = False
            elif inside and len(line.strip()) > 12 and not line.strip().startswith("#"):
                lines.append(line.strip())
    return lines


def test_release_contains_no_solution_code(released):
    solution = _solution_lines(SAMPLING / "sampling.ipynb")
    assert len(solution) > 10  # the check below is not vacuous
    text = _release_text(released)
    assert [line for line in solution if line in text] == []


def test_release_contains_no_reference_code(released):
    text = _release_text(released)
    instructor = nbformat.read(SAMPLING / "sampling.ipynb", as_version=4)
    shared_by_contract = {line.strip() for c in instructor.cells for line in c.source.splitlines()}
    shared_by_contract -= set(_solution_lines(SAMPLING / "sampling.ipynb"))  # signatures, docstrings
    reference_lines = {line.strip() for p in (REPO / "reference").rglob("*.py")
                       for line in p.read_text().splitlines() if len(line.strip()) > 30}
    reference_lines -= shared_by_contract
    assert len(reference_lines) > 50
    assert [line for line in reference_lines if line in text] == []
    assert not list(released.rglob("*.py"))


def test_release_contains_no_hidden_case(released, sampling_plan):
    bundle = load_bundle(released / "tests")
    hidden = [c for q in sampling_plan.questions for c in q.cases if c.hidden]
    public = {c.name for q in bundle.questions for c in q.cases}
    assert hidden and public
    assert not {c.name for c in hidden} & public
    assert not [c.name for c in hidden if c.name in _release_text(released)]
    released_tensors = [t for q in bundle.questions for c in q.cases for t in _tensors((c.args, c.expected))]
    for case in hidden:
        for t in _tensors((case.args, case.expected)):
            if t.numel() > 4:  # tiny tensors (one token id) may coincide by chance
                assert not any(r.shape == t.shape and torch.equal(r, t) for r in released_tensors), case.name


def _tensors(value):
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _tensors(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _tensors(v)


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
