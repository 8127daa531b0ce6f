"""An assignment's own reference file (``reference = "reference.py"``): imported by path on the host, hashed into
the ground-truth cache key, and a reference that raises is one line naming the file, question, case, exception."""

import sys
from pathlib import Path

import pytest
import torch

from grader.assignment.assets import asset_paths
from grader.assignment.groundtruth import build_plan
from grader.assignment.gtcache import GroundTruthCache
from grader.assignment.spec import load_assignment
from grader.errors import SpecError

SPEC = """
id = "norms"
title = "Norms"
notebook = "norms.ipynb"
reference = "norms_ref.py"

[[questions]]
function = "layer_norm"
points = 1
  [[questions.cases]]
  name = "random rows"
  args = { x = { randn = [3, 4], seed = 0 }, epsilon = 1e-5 }
  [[questions.cases]]
  name = "from a helper"
  args = { x = { call = "helpers/inputs.py:ramp", args = { n = 4 } }, epsilon = 1e-5 }
"""
REFERENCE = """import torch


def layer_norm(x, epsilon):
    mean = x.mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(x.var(-1, unbiased=False, keepdim=True) + epsilon)
"""


@pytest.fixture
def course(tmp_path) -> Path:
    folder = tmp_path / "norms"
    (folder / "helpers").mkdir(parents=True)
    (folder / "assignment.toml").write_text(SPEC)
    (folder / "norms.ipynb").write_text("{}")
    (folder / "norms_ref.py").write_text(REFERENCE)
    (folder / "helpers" / "inputs.py").write_text(
        "import torch\n\ndef ramp(n):\n    return torch.arange(n * 2.0).view(2, n)\n"
    )
    return folder


def test_a_reference_file_next_to_the_spec_computes_the_expected_values(course):
    plan = build_plan(load_assignment(course))
    expected = [c.expected for c in plan.questions[0].cases]
    x = torch.arange(8.0).view(2, 4)
    assert torch.allclose(expected[1], torch.nn.functional.layer_norm(x, (4,), eps=1e-5), atol=1e-6)
    assert str(course) not in sys.path and "norms_ref" not in sys.modules  # imported by path, under its own name


def test_the_cache_key_covers_the_reference_file(course):
    assignment = load_assignment(course)
    cache = GroundTruthCache(course / "cache", assignment.folder, asset_paths(assignment))
    question = assignment.spec.questions[0]
    keys = [cache.key(c, assignment.spec.reference_for(question, c)) for c in question.cases]
    assert None not in keys
    (course / "norms_ref.py").write_text(REFERENCE + "\n# edited\n")
    cache = GroundTruthCache(course / "cache", assignment.folder, asset_paths(assignment))
    edited = [cache.key(c, assignment.spec.reference_for(question, c)) for c in question.cases]
    assert edited[0] != keys[0] and edited[1] != keys[1]
    (course / "helpers" / "inputs.py").write_text("import torch\n\ndef ramp(n):\n    return torch.ones(2, n)\n")
    cache = GroundTruthCache(course / "cache", assignment.folder, asset_paths(assignment))
    assert cache.key(question.cases[1], assignment.spec.reference_for(question, question.cases[1])) != edited[1]


def test_a_reference_that_raises_names_file_question_case_and_exception(course):
    (course / "norms_ref.py").write_text(REFERENCE.replace("epsilon", "eps"))
    with pytest.raises(SpecError) as err:
        build_plan(load_assignment(course))
    assert str(err.value) == (
        f"{course.resolve() / 'assignment.toml'}: question 'layer_norm', case 'random rows': reference "
        "norms_ref.py:layer_norm raised TypeError: layer_norm() got an unexpected keyword argument 'epsilon'"
    )


def test_an_exception_inside_the_reference_names_its_line(course):
    (course / "norms_ref.py").write_text(REFERENCE.replace("x.mean(-1,", "x.mean(5,"))
    with pytest.raises(SpecError) as err:
        build_plan(load_assignment(course))
    assert str(err.value) == (
        f"{course.resolve() / 'assignment.toml'}: question 'layer_norm', case 'random rows': reference "
        "norms_ref.py:layer_norm raised IndexError: Dimension out of range (expected to be in range of [-2, 1], "
        "but got 5) (norms_ref.py, line 5)"
    )


def test_a_missing_reference_file_or_function_is_named(course):
    (course / "norms_ref.py").unlink()
    with pytest.raises(SpecError, match=r"case 'random rows': reference 'norms_ref.py:layer_norm' not found: "):
        build_plan(load_assignment(course))
    (course / "norms_ref.py").write_text("def other():\n    pass\n")
    with pytest.raises(SpecError, match=r"not found: AttributeError: .* has no attribute 'layer_norm'"):
        build_plan(load_assignment(course))
