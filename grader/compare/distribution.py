"""The ``distribution`` rule, for samplers: many draws tested against the reference's exact probabilities."""

from __future__ import annotations

import torch

from grader.compare.rules import DistributionCompare
from grader.compare.values import type_name
from grader.compare.verdict import PASS, CallContext, Verdict


def judge(rule: DistributionCompare, probs: torch.Tensor, draws, context: CallContext) -> Verdict:
    """The student's function was called ``rule.draws`` times; ``draws`` holds its results in order."""
    return distribution(probs, draws, rule.draws, rule.alpha)


def distribution(probs: torch.Tensor, draws, n_draws: int, alpha: float) -> Verdict:
    """Test ``n_draws`` calls' results, each ids of shape ``(B,)``, against ``probs`` of shape ``(B, V)``.

    Per row: any draw of a token with probability 0 fails at once (it was filtered out). Otherwise a
    chi-square goodness-of-fit test over the tokens, pooling tokens whose expected count is below 5,
    at level ``alpha / B`` (Bonferroni), so a correct sampler fails a case with probability <= ``alpha``.
    """
    B, V = probs.shape
    if not isinstance(draws, list) or len(draws) != n_draws:
        return Verdict(False, f"expected {n_draws} results from {n_draws} calls, got {type_name(draws)}")
    for i, ids in enumerate(draws):
        if not isinstance(ids, torch.Tensor) or tuple(ids.shape) != (B,):
            got = f"shape {tuple(ids.shape)}" if isinstance(ids, torch.Tensor) else type_name(ids)
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
