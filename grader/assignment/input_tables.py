"""The inline tables a case's arguments may use (``{ randn = [2, 3], seed = 1 }``): their kinds and keys.

Checked when the spec is read (:func:`problems`), before any input is built, so a typo names its field:
``unknown key 'sead' in a 'randn' input; did you mean 'seed'?``. :mod:`grader.assignment.inputs` builds the
values; this table is what it accepts. Imports no torch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from grader.assignment.names import did_you_mean

# kind -> (required keys, optional keys); the kind's own key is always required
INPUT_KEYS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    kind: (frozenset(required.split()), frozenset(optional.split()))
    for kind, required, optional in [
        ("tensor", "tensor", "dtype"),
        ("randn", "randn seed", "scale shift dtype"),
        ("randint", "randint high seed", "low dtype"),
        ("file", "file key", ""),
        ("encode", "encode tokenizer", ""),
        ("token_id", "token_id tokenizer", ""),
        ("model", "model", ""),
        ("tokenizer", "tokenizer", ""),
        ("embedder", "embedder texts", ""),
        ("generator", "generator", ""),
        ("text_file", "text_file", ""),
        ("call", "call", "args"),
        ("tuple", "tuple", ""),
        ("literal", "literal", ""),
    ]
}


def kind_of(table: dict) -> str | None:
    """The one kind key of ``table``; ``tokenizer`` is also an option of ``encode`` and ``token_id``."""
    kinds = [k for k in table if k in INPUT_KEYS]
    if len(kinds) > 1 and "tokenizer" in kinds:
        kinds.remove("tokenizer")
    return kinds[0] if len(kinds) == 1 else None


def table_problem(table: dict) -> str | None:
    """What is wrong with one inline table (its nested inputs aside), in words; None when it is fine."""
    kind = kind_of(table)
    if kind is None:
        unknown = [k for k in table if k not in INPUT_KEYS]
        hint = did_you_mean(unknown[0], [*INPUT_KEYS, "input"]) if unknown else ""  # input: a named input
        keys = ", ".join(repr(k) for k in table) or "none"
        return f"an input table needs exactly one kind of {', '.join(sorted(INPUT_KEYS))}; got keys {keys}{hint}"
    required, optional = INPUT_KEYS[kind]
    allowed = required | optional
    for key in table:
        if key not in allowed:
            return f"unknown key {key!r} in a {kind!r} input{did_you_mean(key, allowed)}"
    missing = sorted(required - set(table))
    if missing:
        return f"a {kind!r} input needs the key {missing[0]!r}"
    return None


def problems(value: Any, loc: tuple = ()) -> Iterator[tuple[tuple, str]]:
    """``(loc, problem)`` for every bad inline table in an argument value, at any depth (lists, tuples, the
    arguments of ``call``); ``literal`` values are taken as they are."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield from problems(item, (*loc, i))
        return
    if not isinstance(value, dict):
        return
    problem = table_problem(value)
    if problem:
        yield loc, problem
        return
    kind = kind_of(value)
    if kind == "tuple":
        yield from problems(value["tuple"], (*loc, "tuple"))
    elif kind == "call" and isinstance(value.get("args", {}), dict):
        for name, arg in value.get("args", {}).items():
            yield from problems(arg, (*loc, "args", name))
