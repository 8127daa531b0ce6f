"""The assignment spec: valid specs load; bad ones name the file, the field and what was expected."""

from pathlib import Path

import pytest

from grader.assignment.spec import load_assignment
from grader.compare.rules import CloseCompare, DistributionCompare
from grader.errors import SpecError
from tests.helpers import REPO

MINIMAL = """
id = "demo"
title = "Demo"
notebook = "demo.ipynb"
reference = "reference.sampling"

[[questions]]
function = "greedy_next_token"
points = 1

  [[questions.cases]]
  name = "one"
  args = { logits = { randn = [2, 5], seed = 0 } }
  compare = { kind = "exact" }
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "assignment.toml").write_text(text)
    (tmp_path / "demo.ipynb").write_text("{}")
    return tmp_path


def test_the_sampling_assignment_loads():
    a = load_assignment(REPO / "assignments" / "03-sampling")
    assert a.spec.max_score == sum(q.points for q in a.spec.questions)
    assert {q.function for q in a.spec.questions} == {
        "softmax_with_temperature",
        "greedy_next_token",
        "top_k_filter",
        "top_p_filter",
        "sample_next_token",
        "generate",
        "beam_search",
    }


def test_defaults_fill_in_compare_and_limits(tmp_path):
    a = load_assignment(write(tmp_path, MINIMAL.replace('compare = { kind = "exact" }', "")))
    case = a.spec.questions[0].cases[0]
    assert isinstance(case.compare, CloseCompare) and not case.hidden
    assert a.spec.limits.cell_timeout_s > 0


def test_missing_spec_file_is_named(tmp_path):
    with pytest.raises(SpecError, match="assignment.toml"):
        load_assignment(tmp_path)


def test_toml_syntax_error_names_the_file(tmp_path):
    with pytest.raises(SpecError, match=r"assignment\.toml: not valid TOML"):
        load_assignment(write(tmp_path, "id = \n"))


def test_wrong_field_type_names_question_and_field(tmp_path):
    with pytest.raises(SpecError) as err:
        load_assignment(write(tmp_path, MINIMAL.replace("points = 1", 'points = "many"')))
    assert "questions[0] (greedy_next_token).points" in str(err.value)
    assert "assignment.toml" in str(err.value)


def test_unknown_compare_kind_is_rejected_with_the_choices(tmp_path):
    with pytest.raises(SpecError) as err:
        load_assignment(write(tmp_path, MINIMAL.replace('kind = "exact"', 'kind = "fuzzy"')))
    message = str(err.value)
    assert "cases[0] (one).compare" in message and "exact" in message and "distribution" in message


def test_unknown_field_is_an_error_not_silently_ignored(tmp_path):
    with pytest.raises(SpecError, match="pointz"):
        load_assignment(write(tmp_path, MINIMAL.replace("points = 1", "points = 1\npointz = 2")))


def test_duplicate_functions_and_case_names_are_rejected(tmp_path):
    doubled = MINIMAL + MINIMAL[MINIMAL.index("[[questions]]") :]
    with pytest.raises(SpecError, match="repeated"):
        load_assignment(write(tmp_path, doubled))


def test_missing_notebook_is_named(tmp_path):
    (tmp_path / "assignment.toml").write_text(MINIMAL)
    with pytest.raises(SpecError, match="demo.ipynb"):
        load_assignment(tmp_path)


def test_distribution_compare_bounds_are_checked(tmp_path):
    bad = MINIMAL.replace('compare = { kind = "exact" }', 'compare = { kind = "distribution", alpha = 0.5 }')
    with pytest.raises(SpecError, match="alpha"):
        load_assignment(write(tmp_path, bad))
    assert DistributionCompare().alpha <= 1e-6


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(SpecError) as err:
        load_assignment(write(tmp_path, text))
    return str(err.value)


def test_an_unknown_field_names_the_closest_valid_one(tmp_path):
    message = error_of(tmp_path, MINIMAL.replace('name = "one"', 'name = "one"\n  hiden = true'))
    assert message == (
        f"{tmp_path / 'assignment.toml'}: invalid spec: field 'questions[0] (greedy_next_token).cases[0] (one)': "
        "unknown field 'hiden'; did you mean 'hidden'?"
    )


def test_unknown_fields_at_every_level_get_a_suggestion(tmp_path):
    spec = tmp_path / "assignment.toml"
    assert error_of(tmp_path, MINIMAL.replace("title =", "titel =")) == (
        f"{spec}: invalid spec: field 'title': Field required\n"
        f"{spec}: invalid spec: top level: unknown field 'titel'; did you mean 'title'?"
    )
    close = MINIMAL.replace('{ kind = "exact" }', '{ kind = "close", atoll = 0.1 }')
    assert error_of(tmp_path, close) == (
        f"{spec}: invalid spec: field 'questions[0] (greedy_next_token).cases[0] (one).compare.close': "
        "unknown field 'atoll'; did you mean 'atol'?"
    )
    assert error_of(tmp_path, MINIMAL.replace("points = 1", "points = 1\nreferense = 'x'")).endswith(
        "field 'questions[0] (greedy_next_token)': unknown field 'referense'; did you mean 'reference'?"
    )
    assert error_of(tmp_path, MINIMAL + "\n[limits]\ncell_timeout = 3\n").endswith(
        "field 'limits': unknown field 'cell_timeout'; did you mean 'cell_timeout_s'?"
    )
    assert error_of(tmp_path, MINIMAL.replace("points = 1", "points = 1\nxyzzy = 2")).endswith(
        "field 'questions[0] (greedy_next_token)': unknown field 'xyzzy'"
    )
