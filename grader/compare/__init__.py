"""Comparing a student's value with the expected one, on the host: one judge per rule of the spec.

=============  ==============================  ===================================================
rule           judge                           passes when
=============  ==============================  ===================================================
exact          :func:`values.judge_exact`      same types, structure, shapes, dtypes and elements
close          :func:`values.judge_close`      the same within ``atol + rtol * |expected|``
distribution   :func:`distribution.judge`      many draws fit the reference's probabilities
rag            :func:`rag.judge`               the prompt holds the retrieved documents; greedy answer
prompt         :func:`rag.judge_prompt`        every context, in order, before the question
=============  ==============================  ===================================================

The rules' options are in :mod:`grader.compare.rules`. Every judge takes ``(rule, expected, actual,
context)`` and returns a :class:`~grader.compare.verdict.Verdict`; it never raises for anything a student's
value is. Student values arrive decoded by :mod:`grader.boundary.wire`: plain data, no student code.
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
