"""The spec's shorthands (grader.assignment.shorthand): named inputs and default comparisons expand to exactly
the cases written out in full; bad input tables and unknown names are one-line errors naming the field."""

from pathlib import Path

import pytest

from grader.assignment.spec import load_assignment
from grader.compare.rules import CloseCompare, ExactCompare
from grader.errors import SpecError

HEAD = """
id = "demo"
title = "Demo"
notebook = "demo.ipynb"
reference = "reference.sampling"
"""
QUESTION = """
[[questions]]
function = "greedy_next_token"
points = 1
{question_extra}
  [[questions.cases]]
  name = "one"
  args = {{ logits = {logits} }}
{case_extra}
"""


def load(
    tmp_path: Path, head: str = "", logits: str = "{ randn = [2, 5], seed = 0 }", question_extra="", case_extra=""
):
    text = HEAD + head + QUESTION.format(logits=logits, question_extra=question_extra, case_extra=case_extra)
    (tmp_path / "assignment.toml").write_text(text)
    (tmp_path / "demo.ipynb").write_text("{}")
    return load_assignment(tmp_path)


def error(tmp_path: Path, **parts) -> str:
    with pytest.raises(SpecError) as err:
        load(tmp_path, **parts)
    return str(err.value).removeprefix(f"{tmp_path / 'assignment.toml'}: invalid spec: ")


def case(assignment):
    return assignment.spec.questions[0].cases[0]


def test_the_default_compare_comes_from_the_question_then_the_assignment(tmp_path):
    exact = 'compare = { kind = "exact" }'
    close = 'compare = { kind = "close", atol = 0.5 }'
    assert isinstance(case(load(tmp_path)).compare, CloseCompare)  # no default anywhere: close, its defaults
    assert case(load(tmp_path, head=exact)).compare == ExactCompare()
    assert case(load(tmp_path, head=exact, question_extra=close)).compare == CloseCompare(atol=0.5)
    own = '  compare = { kind = "close", rtol = 0.25 }'
    assert case(load(tmp_path, head=exact, question_extra=close, case_extra=own)).compare == CloseCompare(rtol=0.25)


def test_named_inputs_expand_to_the_table_written_out(tmp_path):
    head = """
[inputs]
text = { text_file = "data/x.txt" }
merges = { call = "reference.tokenization:train_bpe", args = { text = { input = "text" }, vocab_size = 260 } }
rows = { randn = [2, 5], seed = 0 }
"""
    named = load(
        tmp_path, head=head, logits='{ input = "rows" }', case_extra='  reference_args = { m = [{ input = "merges" }] }'
    )
    spelled = {
        "call": "reference.tokenization:train_bpe",
        "args": {"text": {"text_file": "data/x.txt"}, "vocab_size": 260},
    }
    assert case(named).args == {"logits": {"randn": [2, 5], "seed": 0}}
    assert case(named).reference_args == {"m": [spelled]}
    written = load(tmp_path, logits="{ randn = [2, 5], seed = 0 }")
    assert case(named).args == case(written).args


def test_an_unknown_named_input_names_the_closest_one(tmp_path):
    head = "\n[inputs]\nrows = { randn = [2, 5], seed = 0 }\n"
    assert error(tmp_path, head=head, logits='{ input = "row" }') == (
        "field 'questions[0] (greedy_next_token).cases[0] (one).args.logits': "
        "unknown input 'row'; did you mean 'rows'? (define it in [inputs])"
    )


def test_a_named_input_cannot_refer_to_itself(tmp_path):
    head = '\n[inputs]\na = { tuple = [{ input = "b" }] }\nb = { tuple = [{ input = "a" }] }\n'
    assert error(tmp_path, head=head) == ("field 'inputs.b.tuple[0]': named input 'a' refers to itself (a -> b -> a)")


def test_a_misspelt_key_of_an_input_table_names_field_and_key(tmp_path):
    assert error(tmp_path, logits="{ randn = [2, 5], sead = 1 }") == (
        "field 'questions[0] (greedy_next_token).cases[0] (one).args.logits': "
        "unknown key 'sead' in a 'randn' input; did you mean 'seed'?"
    )


def test_a_missing_key_of_an_input_table_is_named(tmp_path):
    assert error(tmp_path, logits="{ randn = [2, 5] }") == (
        "field 'questions[0] (greedy_next_token).cases[0] (one).args.logits': a 'randn' input needs the key 'seed'"
    )
    nested = '{ call = "reference.attention:causal_mask", args = { n = { randint = [3], seed = 1 } } }'
    assert error(tmp_path, logits=nested) == (
        "field 'questions[0] (greedy_next_token).cases[0] (one).args.logits.args.n': "
        "a 'randint' input needs the key 'high'"
    )


def test_an_input_table_of_no_known_kind_suggests_one(tmp_path):
    message = error(tmp_path, logits="{ randm = [2, 5], seed = 1 }")
    assert message.startswith(
        "field 'questions[0] (greedy_next_token).cases[0] (one).args.logits': an input table needs"
    )
    assert message.endswith("got keys 'randm', 'seed'; did you mean 'randn'?")


def test_a_bad_named_input_is_reported_where_it_is_defined(tmp_path):
    head = "\n[inputs]\nrows = { randn = [2, 5], sead = 0 }\n"
    assert error(tmp_path, head=head, logits='{ input = "rows" }') == (
        "field 'inputs.rows': unknown key 'sead' in a 'randn' input; did you mean 'seed'?"
    )


def test_a_misspelt_named_input_reference_suggests_input(tmp_path):
    head = "\n[inputs]\nrows = { randn = [2, 5], seed = 0 }\n"
    assert error(tmp_path, head=head, logits='{ inputs = "rows" }').endswith("got keys 'inputs'; did you mean 'input'?")
