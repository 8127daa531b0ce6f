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

_LAZY = ("JUDGES", "Judge", "compare")


def __getattr__(name: str):
    """``JUDGES``, ``Judge`` and ``compare`` from :mod:`grader.compare.judges`, imported on first use (torch)."""
    if name in _LAZY:
        from grader.compare import judges

        return getattr(judges, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
