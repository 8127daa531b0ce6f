"""The table from each comparison rule to its judge, and :func:`compare`, which picks the judge of a rule.

Kept out of the package's ``__init__`` so that reading a spec (which needs only :mod:`grader.compare.rules`)
does not import torch, which the judges need: a refused or empty ``grader grade`` never waits for it.
"""

from __future__ import annotations

from collections.abc import Callable

from grader.compare import distribution, rag, values
from grader.compare.rules import CloseCompare, DistributionCompare, ExactCompare, PromptCompare, RagCompare, Rule
from grader.compare.verdict import CallContext, Verdict

Judge = Callable[[Rule, object, object, CallContext], Verdict]

JUDGES: dict[type[Rule], Judge] = {
    ExactCompare: values.judge_exact,
    CloseCompare: values.judge_close,
    DistributionCompare: distribution.judge,
    RagCompare: rag.judge,
    PromptCompare: rag.judge_prompt,
}


def compare(
    rule: Rule, expected, actual, observed: dict | None = None, args: dict | None = None, resolve=None
) -> Verdict:
    """Judge ``actual`` against ``expected`` by ``rule``. Only behaviour judges (``rag``) use what the call
    ``observed``, the case's ``args`` and ``resolve`` (handle -> the host's model or tokenizer)."""
    return JUDGES[type(rule)](rule, expected, actual, CallContext(observed, args or {}, resolve))
