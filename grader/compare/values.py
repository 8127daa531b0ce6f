"""The ``exact`` and ``close`` rules: a student's value against the expected one, element by element.

- ``exact``: same types and structure, tensors with the same shape, dtype and elements.
- ``close``: like exact, but floating tensors and floats within ``atol + rtol * |expected|``; infinities
  must sit in the same places with the same sign. Messages name the shape/dtype mismatch, NaN/inf, or
  the worst element with its difference.

Student values arrive already decoded by :mod:`grader.boundary.wire`: plain data only, so no student
``__eq__`` ever runs here.
"""

from __future__ import annotations

import math

import torch

from grader.compare.rules import CloseCompare, ExactCompare
from grader.compare.verdict import PASS, CallContext, Verdict


def judge_exact(rule: ExactCompare, expected, actual, context: CallContext) -> Verdict:
    """``exact``: the call's context plays no part."""
    return _compare(expected, actual, None, "result")


def judge_close(rule: CloseCompare, expected, actual, context: CallContext) -> Verdict:
    """``close``: the call's context plays no part."""
    return _compare(expected, actual, rule, "result")


def _compare(expected, actual, close: CloseCompare | None, path: str) -> Verdict:
    if isinstance(expected, torch.Tensor):
        if not isinstance(actual, torch.Tensor):
            return Verdict(False, f"{path}: expected a torch.Tensor, got {type_name(actual)}")
        return _tensors(expected, actual, close, path)
    if isinstance(expected, float) and close is not None and _is_number(actual):
        if math.isclose(actual, expected, rel_tol=close.rtol, abs_tol=close.atol) or (
            math.isnan(expected) and math.isnan(actual)
        ):
            return PASS
        return Verdict(False, f"{path}: expected {expected!r}, got {actual!r}")
    if type(expected) is not type(actual):
        return Verdict(False, f"{path}: expected a {type_name(expected)}, got {type_name(actual)}")
    if isinstance(expected, (list, tuple)):
        if len(expected) != len(actual):
            return Verdict(False, f"{path}: expected {len(expected)} items, got {len(actual)}")
        pairs = enumerate(zip(expected, actual, strict=True))
        return _first_failure(_compare(e, a, close, f"{path}[{i}]") for i, (e, a) in pairs)
    if isinstance(expected, dict):
        return _dicts(expected, actual, close, path)
    if expected == actual or (isinstance(expected, float) and math.isnan(expected) and math.isnan(actual)):
        return PASS
    return Verdict(False, f"{path}: expected {_short(expected)}, got {_short(actual)}")


def _dicts(expected: dict, actual: dict, close, path: str) -> Verdict:
    missing = [k for k in expected if k not in actual]
    extra = [k for k in actual if k not in expected]
    if missing or extra:
        parts = ([f"missing keys {_short(missing)}"] if missing else []) + (
            [f"extra keys {_short(extra)}"] if extra else []
        )
        return Verdict(False, f"{path}: " + "; ".join(parts))
    verdict = _first_failure(_compare(v, actual[k], close, f"{path}[{k!r}]") for k, v in expected.items())
    if verdict.passed and list(expected) != list(actual):
        return Verdict(False, f"{path}: right keys and values, wrong key order (expected {_short(list(expected))})")
    return verdict


def _tensors(expected: torch.Tensor, actual: torch.Tensor, close, path: str) -> Verdict:
    if tuple(actual.shape) != tuple(expected.shape):
        return Verdict(False, f"{path}: expected shape {tuple(expected.shape)}, got {tuple(actual.shape)}")
    floating = expected.is_floating_point()
    if actual.dtype != expected.dtype and (close is None or close.check_dtype or not floating):
        return Verdict(False, f"{path}: expected dtype {expected.dtype}, got {actual.dtype}")
    if close is None or not floating:
        if torch.equal(expected, actual.to(expected.dtype)):
            return PASS
        bad = (expected != actual.to(expected.dtype)).nonzero()[0].tolist()
        return Verdict(
            False, f"{path}: differs at {_pos(bad)}: expected {_item(expected, bad)}, got {_item(actual, bad)}"
        )
    return _close_tensors(expected.double(), actual.double(), close, path)


def _close_tensors(expected: torch.Tensor, actual: torch.Tensor, close: CloseCompare, path: str) -> Verdict:
    if torch.isnan(actual).any() and not torch.isnan(expected).any():
        bad = torch.isnan(actual).nonzero()[0].tolist()
        return Verdict(False, f"{path}: NaN at {_pos(bad)} (expected {_item(expected, bad)})")
    inf_mismatch = (torch.isinf(expected) | torch.isinf(actual)) & (expected != actual)
    if inf_mismatch.any():
        bad = inf_mismatch.nonzero()[0].tolist()
        count = int(inf_mismatch.sum())
        return Verdict(
            False,
            f"{path}: {count} element(s) differ in infinity, first at {_pos(bad)}: "
            f"expected {_item(expected, bad)}, got {_item(actual, bad)}",
        )
    finite = torch.isfinite(expected)
    diff = torch.where(finite, (actual - expected).abs(), torch.zeros_like(expected))
    allowed = close.atol + close.rtol * expected.abs()
    excess = torch.where(finite, diff - allowed, torch.full_like(diff, -1.0))
    if expected.numel() == 0 or excess.max() <= 0:
        return PASS
    flat = int(excess.argmax())
    bad = list(torch.unravel_index(torch.tensor(flat), expected.shape)) if expected.dim() else []
    bad = [int(i) for i in bad]
    return Verdict(
        False,
        f"{path}: {int((excess > 0).sum())} of {expected.numel()} elements not close "
        f"(rtol={close.rtol:g}, atol={close.atol:g}); worst at {_pos(bad)}: expected "
        f"{_item(expected, bad)}, got {_item(actual, bad)} (difference {float(diff.flatten()[flat]):.3g})",
    )


def _first_failure(verdicts) -> Verdict:
    for verdict in verdicts:
        if not verdict.passed:
            return verdict
    return PASS


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def type_name(x) -> str:
    """How a value is named in messages: a tensor with its shape, else its type."""
    if isinstance(x, torch.Tensor):
        return f"torch.Tensor of shape {tuple(x.shape)}"
    return type(x).__name__


def _pos(index: list[int]) -> str:
    return "index " + (str(tuple(index)) if len(index) != 1 else str(index[0]))


def _item(t: torch.Tensor, index: list[int]):
    value = t[tuple(index)].item() if index else t.item()
    return f"{value:.6g}" if isinstance(value, float) else value


def _short(x, limit: int = 200) -> str:
    text = repr(x)
    return text if len(text) <= limit else text[: limit - 3] + "..."
