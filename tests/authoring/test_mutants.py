"""The mutation operators on small solution snippets: each site's mutants, as the edited source lines, only
inside the solution markers of a graded function; the detectable distortion of a chi-square test."""

import math
import textwrap

import nbformat
import torch

from grader.authoring.behaviour import same
from grader.authoring.mutants import apply, cell_edits, notebook_mutants
from grader.authoring.power import detectable_tv


def mutated(body: str, function: str = "f") -> list[tuple[str, str, str]]:
    """(operator, change, the changed solution line) of every mutant of ``body`` placed between markers."""
    lines = body.strip("\n").splitlines()
    source = "\n".join(["def f(x, k, p):", "    ### BEGIN SOLUTION", *lines, "    ### END SOLUTION"])
    found = []
    for _, edit in cell_edits(source, {function}):
        after = apply(source, edit).splitlines()
        found.append((edit.operator, edit.change, textwrap.dedent("\n".join(after[2:-1])).strip()))
    return found


def test_arithmetic_and_augmented_assignment():
    assert mutated("    return x * k // 2") == [
        ("arith", "* -> /", "return x / k // 2"),
        ("arith", "// -> /", "return x * k / 2"),
        ("constant", "2 -> 1", "return x * k // 1"),
        ("constant", "2 -> 3", "return x * k // 3"),
    ]
    assert ("arith", "** -> *", "x *= 2") in mutated("    x **= 2")


def test_comparisons_boundaries_and_directions():
    changes = {(c, line) for _, c, line in mutated("    return x[x >= p]")}
    assert changes == {(">= -> >", "return x[x > p]"), (">= -> <=", "return x[x <= p]")}
    assert {c for _, c, _ in mutated("    return k is not None")} == {"is not -> is"}


def test_axis_flags_and_calls():
    found = mutated("    return torch.sort(x, dim=-1, descending=True).values.argmax()")
    assert ("axis", "-1 -> -2", "return torch.sort(x, dim=-2, descending=True).values.argmax()") in found
    assert ("axis", "-1 -> -0", "return torch.sort(x, dim=-0, descending=True).values.argmax()") in found
    assert (
        "flag",
        "descending=True -> False",
        "return torch.sort(x, dim=-1, descending=False).values.argmax()",
    ) in found
    assert ("call", "values -> indices", "return torch.sort(x, dim=-1, descending=True).indices.argmax()") in found
    assert ("call", "argmax -> argmin", "return torch.sort(x, dim=-1, descending=True).values.argmin()") in found


def test_arguments_boolean_and_dropped_statements():
    found = mutated("    x = x.transpose(-2, -1)\n    if not k and p:\n        x = -x\n    return x")
    lines = {(op, line) for op, _, line in found}
    assert not any(op == "arguments" for op, _ in lines)  # transpose(-1, -2) is the same call
    swapped = {(op, line) for op, _, line in mutated("    return torch.cat(x, k)")}
    assert ("arguments", "return torch.cat(k, x)") in swapped
    assert ("boolean", "x = x.transpose(-2, -1)\nif not k or p:\n    x = -x\nreturn x") in lines
    assert ("boolean", "x = x.transpose(-2, -1)\nif (k) and p:\n    x = -x\nreturn x") in lines
    assert ("statement", "x = x.transpose(-2, -1)\nif not k and p:\n    pass\nreturn x") in lines
    assert ("statement", "pass\nif not k and p:\n    x = -x\nreturn x") in lines
    assert not any(line.endswith("pass") and "return" not in line for _, line in lines)  # return is never dropped


def test_only_solution_code_of_graded_functions_is_mutated(tmp_path):
    solution = "def f(x):\n    y = x + 1\n    ### BEGIN SOLUTION\n    return y * 2\n    ### END SOLUTION\n"
    helper = "def g(x):\n    ### BEGIN SOLUTION\n    return x - 1\n    ### END SOLUTION\n"
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(solution), nbformat.v4.new_code_cell(helper)])
    path = tmp_path / "n.ipynb"
    nbformat.write(notebook, path)
    mutants = notebook_mutants(path, ["f"])
    assert [m.change for m in mutants] == ["* -> /", "2 -> 1", "2 -> 3"]
    assert mutants[0].diff == "-    return y * 2\n+    return y / 2" and mutants[0].id == "M1" and mutants[0].cell == 0
    assert all("y = x + 1" in m.source for m in mutants)  # the line above the markers is never mutated


def test_behaviour_is_the_same_only_to_rounding():
    a = torch.tensor([1.0, float("-inf")])
    assert same(a, a.clone()) and same(a, a + 1e-9) and not same(a, a + 1e-3)
    assert not same(a, a.double()) and not same(torch.tensor([1, 2]), torch.tensor([1, 3]))
    assert same([a, 1], [a.clone(), 1]) and not same((a,), [a])


def test_detectable_distortion_of_a_fair_coin():
    # Two bins: the test is a two-sided z-test; power 0.99 at level 0.05 needs n * (2 tv)^2 = (1.96 + 2.33)^2
    tv = detectable_tv(torch.tensor([0.5, 0.5], dtype=torch.float64), 2000, 0.05)
    assert math.isclose(tv, (1.959964 + 2.326348) / (2 * math.sqrt(2000)), rel_tol=0.01)
    assert detectable_tv(torch.tensor([0.5, 0.5], dtype=torch.float64), 8000, 0.05) < tv
