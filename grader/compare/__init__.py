"""Comparing a student's value with the reference's, on the host. Every rule returns a :class:`Verdict`.

- ``exact``: same types and structure, tensors with the same shape, dtype and elements.
- ``close``: like exact, but floating tensors and floats within ``atol + rtol * |expected|``; infinities
  must sit in the same places with the same sign. Messages name the shape/dtype mismatch, NaN/inf, or
  the worst element with its difference.
- ``distribution``: for samplers. The student's function was called ``draws`` times; the draws are
  tested against the reference probabilities (see :func:`distribution`).

Student values arrive already decoded by :mod:`grader.boundary.wire`: plain data only, so no student ``__eq__``
ever runs here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from grader.assignment.spec import CloseCompare, DistributionCompare, PromptCompare, RagCompare


@dataclass(frozen=True)
class Verdict:
    passed: bool
    message: str = ""


PASS = Verdict(True)


def compare(rule, expected, actual, observed: dict | None = None, args: dict | None = None, resolve=None) -> Verdict:
    """Judge ``actual`` against ``expected``. Only the ``rag`` rule uses what the call ``observed``, the case's
    ``args`` and ``resolve`` (handle -> the host's model or tokenizer)."""
    if isinstance(rule, DistributionCompare):
        return distribution(expected, actual, rule.draws, rule.alpha)
    if isinstance(rule, RagCompare):
        from grader.compare.rag import judge

        return judge(expected, actual, observed, args or {}, resolve)
    if isinstance(rule, PromptCompare):
        from grader.compare.rag import judge_prompt

        return judge_prompt(expected, actual)
    return _compare(expected, actual, rule if isinstance(rule, CloseCompare) else None, "result")


def _compare(expected, actual, close: CloseCompare | None, path: str) -> Verdict:
    if isinstance(expected, torch.Tensor):
        if not isinstance(actual, torch.Tensor):
            return Verdict(False, f"{path}: expected a torch.Tensor, got {_type(actual)}")
        return _tensors(expected, actual, close, path)
    if isinstance(expected, float) and close is not None and _is_number(actual):
        if math.isclose(actual, expected, rel_tol=close.rtol, abs_tol=close.atol) or (
            math.isnan(expected) and math.isnan(actual)
        ):
            return PASS
        return Verdict(False, f"{path}: expected {expected!r}, got {actual!r}")
    if type(expected) is not type(actual):
        return Verdict(False, f"{path}: expected a {_type(expected)}, got {_type(actual)}")
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


def distribution(probs: torch.Tensor, draws, n_draws: int, alpha: float) -> Verdict:
    """Test ``n_draws`` calls' results, each ids of shape ``(B,)``, against ``probs`` of shape ``(B, V)``.

    Per row: any draw of a token with probability 0 fails at once (it was filtered out). Otherwise a
    chi-square goodness-of-fit test over the tokens, pooling tokens whose expected count is below 5,
    at level ``alpha / B`` (Bonferroni), so a correct sampler fails a case with probability <= ``alpha``.
    """
    B, V = probs.shape
    if not isinstance(draws, list) or len(draws) != n_draws:
        return Verdict(False, f"expected {n_draws} results from {n_draws} calls, got {_type(draws)}")
    for i, ids in enumerate(draws):
        if not isinstance(ids, torch.Tensor) or tuple(ids.shape) != (B,):
            got = f"shape {tuple(ids.shape)}" if isinstance(ids, torch.Tensor) else _type(ids)
            return Verdict(False, f"call {i}: expected a tensor of shape ({B},), got {got}")
        if ids.dtype != torch.int64:
            return Verdict(False, f"call {i}: expected dtype torch.int64, got {ids.dtype}")
    ids = torch.stack(draws)  # (n_draws, B)
    if ids.min() < 0 or ids.max() >= V:
        return Verdict(False, f"drew token ids outside 0..{V - 1}")
    counts = torch.zeros(B, V, dtype=torch.float64)
    counts.scatter_add_(1, ids.T, torch.ones(B, n_draws, dtype=torch.float64))
    for row in range(B):
        verdict = _row_fits(probs[row].double().cpu(), counts[row], alpha / B, row)
        if not verdict.passed:
            return verdict
    return PASS


def _row_fits(p: torch.Tensor, counts: torch.Tensor, level: float, row: int) -> Verdict:
    n = counts.sum()
    impossible = (p == 0) & (counts > 0)
    if impossible.any():
        token = int(impossible.nonzero()[0])
        return Verdict(
            False,
            f"row {row}: drew token {token} {int(counts[token])} times, but its probability is 0 "
            "(it should have been filtered out)",
        )
    expected = p * n
    big = expected >= 5
    observed_bins = torch.cat([counts[big], counts[~big].sum().reshape(1)])
    expected_bins = torch.cat([expected[big], expected[~big].sum().reshape(1)])
    keep = expected_bins > 0
    observed_bins, expected_bins = observed_bins[keep], expected_bins[keep]
    dof = len(expected_bins) - 1
    if dof < 1:
        return PASS
    stat = float(((observed_bins - expected_bins) ** 2 / expected_bins).sum())
    p_value = float(torch.special.gammaincc(torch.tensor(dof / 2, dtype=torch.float64), torch.tensor(stat / 2)))
    if p_value >= level:
        return PASS
    freq = counts / n
    worst = int((freq - p).abs().argmax())
    return Verdict(
        False,
        f"row {row}: the draws do not follow the expected distribution (chi-square p = {p_value:.2g}); "
        f"e.g. token {worst} was drawn {float(freq[worst]):.1%} of the time, expected {float(p[worst]):.1%}",
    )


def _first_failure(verdicts) -> Verdict:
    for verdict in verdicts:
        if not verdict.passed:
            return verdict
    return PASS


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _type(x) -> str:
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
