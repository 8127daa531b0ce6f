"""How big a sampler bug each ``distribution`` case detects: the chi-square test's power, computed analytically.

The rule (:mod:`grader.compare.distribution`) tests each row of ``B`` with Pearson's chi-square over the
tokens (those with an expected count below 5 pooled) at level ``alpha / B``. Under a sampler whose
probabilities are ``q`` instead of ``p``, Pearson's statistic over ``n`` draws is approximately
noncentral chi-square with ``k - 1`` degrees of freedom and noncentrality ``n * sum((q - p)**2 / p)``
(the standard local-alternative approximation). By Cauchy-Schwarz that noncentrality is at least
``4 * n * tv**2`` for a distortion of total variation distance ``tv``, with equality for the hardest
distortion to see (mass moved in proportion to ``p``). So every distortion of a row with
``tv >= sqrt(lambda / (4 n))`` is detected with probability >= 0.99, where ``lambda`` is the noncentrality at
which the test's power is 0.99. A case's number is the largest over its rows (the least sensitive row).
Drawing a token of probability 0 fails at once whatever its frequency; that is not counted here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from grader.assignment.plan import GradingPlan
from grader.compare.rules import DistributionCompare

POWER = 0.99


@dataclass(frozen=True)
class CasePower:
    function: str
    case: str
    draws: int
    alpha: float
    tv: float  # every distortion of at least this total variation distance is detected w.p. >= POWER


def distribution_power(plan: GradingPlan) -> list[CasePower]:
    """The detectable distortion of every ``distribution`` case of the plan."""
    rows = []
    for question in plan.questions:
        for case in question.cases:
            rule = case.compare
            if isinstance(rule, DistributionCompare) and isinstance(case.expected, torch.Tensor):
                probs = case.expected.double().reshape(-1, case.expected.shape[-1])
                level = rule.alpha / probs.shape[0]
                tv = max(detectable_tv(row, rule.draws, level) for row in probs)
                rows.append(CasePower(question.function, case.name, rule.draws, rule.alpha, tv))
    return rows


def detectable_tv(p: torch.Tensor, draws: int, level: float, power: float = POWER) -> float:
    """The smallest total variation distance that one row's test at ``level`` detects with ``power``."""
    expected = p[p > 0] * draws
    big = expected >= 5
    bins = int(big.sum()) + (1 if bool((~big).any()) else 0)
    dof = bins - 1
    if dof < 1:
        return float("nan")  # one bin: only the probability-0 rule applies
    critical = _bisect(lambda x: level - _chi2_sf(x, dof), 0.0, 1e4)
    noncentrality = _bisect(lambda lam: _ncx2_sf(critical, dof, lam) - power, 0.0, 1e5)
    return math.sqrt(noncentrality / (4 * draws))


def _chi2_sf(x: float, dof: int) -> float:
    return float(torch.special.gammaincc(torch.tensor(dof / 2, dtype=torch.float64), torch.tensor(x / 2)))


def _ncx2_sf(x: float, dof: int, noncentrality: float) -> float:
    """Survival function of the noncentral chi-square: a Poisson(lambda/2) mixture of central ones."""
    half = noncentrality / 2
    top = int(half + 12 * math.sqrt(half + 1) + 30)
    j = torch.arange(top, dtype=torch.float64)
    weights = torch.exp(-half + j * math.log(half) - torch.lgamma(j + 1)) if half > 0 else (j == 0).double()
    tails = torch.special.gammaincc(dof / 2 + j, torch.full_like(j, x / 2))
    return float((weights * tails).sum())


def _bisect(f, low: float, high: float, steps: int = 100) -> float:
    """The root of an increasing ``f`` between ``low`` and ``high``."""
    for _ in range(steps):
        middle = (low + high) / 2
        if f(middle) < 0:
            low = middle
        else:
            high = middle
    return (low + high) / 2
