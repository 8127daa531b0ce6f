"""The spec's shorthands, written out before it is validated: named inputs and default comparisons.

    compare = { kind = "exact" }              # the assignment's default comparison ...

    [inputs]                                  # inputs defined once ...
    story = { text_file = "data/corpus.txt" }
    merges = { call = "reference.tokenization:train_bpe", args = { text = { input = "story" }, vocab_size = 306 } }

    [[questions]]
    function = "encode"
    compare = { kind = "exact" }              # ... or the question's; a case's own `compare` wins
      [[questions.cases]]
      args = { text = "abc", merges = { input = "merges" } }   # ... referred to by name

After :func:`expand`, every case holds its own ``compare`` and its arguments spelled out in full, exactly as
if written by hand: the ground-truth cache keys (:mod:`grader.assignment.gtcache`), the plan and everything
downstream see no difference. Every argument's inline tables are checked here too
(:mod:`grader.assignment.input_tables`), so each error names its field.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import TypeAdapter, ValidationError

from grader.assignment.input_tables import problems
from grader.assignment.names import did_you_mean, field_path
from grader.compare.rules import Compare
from grader.errors import SpecError

_COMPARE = TypeAdapter(Compare)
ARG_FIELDS = ("args", "reference_args")


def expand(raw: dict, origin: str) -> dict:
    """``raw`` (the parsed TOML) with named inputs substituted and default comparisons filled into the cases;
    a :class:`SpecError` (``origin: invalid spec: field '...': ...``) for an unknown name or a bad input table."""
    raw = copy.deepcopy(raw)
    named = raw.get("inputs", {})
    if not isinstance(named, dict):
        return raw  # the model says what is wrong with it
    named = {name: _substitute(value, named, ("inputs", name), raw, origin, (name,)) for name, value in named.items()}
    for name, value in named.items():
        _check({name: value}, ("inputs",), raw, origin)
    for q, question in _items(raw, "questions"):
        default = _valid_compare(question.get("compare")) or _valid_compare(raw.get("compare"))
        for c, case in _items(question, "cases"):
            if default is not None and "compare" not in case:
                case["compare"] = copy.deepcopy(default)
            for arg_field in ARG_FIELDS:
                loc = ("questions", q, "cases", c, arg_field)
                if isinstance(case.get(arg_field), dict):
                    case[arg_field] = {
                        k: _substitute(v, named, (*loc, k), raw, origin, ()) for k, v in case[arg_field].items()
                    }
                    _check(case[arg_field], loc, raw, origin)
    return raw


def _items(node: dict, key: str):
    items = node.get(key) if isinstance(node, dict) else None
    return [(i, item) for i, item in enumerate(items) if isinstance(item, dict)] if isinstance(items, list) else []


def _valid_compare(value: Any) -> Any:
    """``value`` when it is a valid comparison; None otherwise (the model reports a bad one once, at its field)."""
    if value is None:
        return None
    try:
        _COMPARE.validate_python(value)
    except ValidationError:
        return None
    return value


def _substitute(value: Any, named: dict, loc: tuple, raw: dict, origin: str, seen: tuple) -> Any:
    """``value`` with every ``{ input = "name" }`` replaced by that named input (itself expanded), at any depth."""
    if isinstance(value, list):
        return [_substitute(v, named, (*loc, i), raw, origin, seen) for i, v in enumerate(value)]
    if not isinstance(value, dict) or "literal" in value:
        return value
    if "input" not in value:
        return {k: _substitute(v, named, (*loc, k), raw, origin, seen) for k, v in value.items()}
    name = value["input"]
    if len(value) != 1 or not isinstance(name, str):
        _fail(origin, loc, raw, 'a named input is referred to as { input = "name" } and nothing else')
    if name not in named:
        _fail(origin, loc, raw, f"unknown input {name!r}{did_you_mean(name, named)} (define it in [inputs])")
    if name in seen:
        _fail(origin, loc, raw, f"named input {name!r} refers to itself ({' -> '.join((*seen, name))})")
    return _substitute(copy.deepcopy(named[name]), named, ("inputs", name), raw, origin, (*seen, name))


def _check(args: dict, loc: tuple, raw: dict, origin: str) -> None:
    """Fail on the first bad inline table among the values of ``args`` (arguments by name, at ``loc``)."""
    for name, value in args.items():
        for where, problem in problems(value, (name,)):
            _fail(origin, (*loc, *where), raw, problem)


def _fail(origin: str, loc: tuple, raw: dict, problem: str):
    raise SpecError(f"{origin}: invalid spec: field '{field_path(loc, raw)}': {problem}")
