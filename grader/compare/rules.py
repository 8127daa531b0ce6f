"""The comparison rules an assignment spec may name per case (``compare = { kind = ... }``), with their options.

Each rule is judged by one function of this package (:data:`grader.compare.judges.JUDGES`). Adding a rule: a model
here, a judge, and a row in that table.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class Rule(BaseModel):
    """What every rule shares: unknown options are refused, and a rule never changes once read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @property
    def repeat(self) -> int:
        """How many times the student's function is called for one case (its results are judged together)."""
        return 1


class ExactCompare(Rule):
    """Equal values: same type, same shape and dtype for tensors, same elements."""

    kind: Literal["exact"] = "exact"


class CloseCompare(Rule):
    """Tensors (or floats) equal within ``|actual - expected| <= atol + rtol * |expected|``; infinities must match."""

    kind: Literal["close"] = "close"
    rtol: float = Field(1e-5, ge=0)
    atol: float = Field(1e-6, ge=0)
    check_dtype: bool = Field(True, description="Require the reference's dtype.")


class DistributionCompare(Rule):
    """For samplers: call the function ``draws`` times and test the draws against the reference probabilities.

    The reference returns probabilities ``(B, V)``; the student's function returns ids ``(B,)`` per call.
    A draw of a zero-probability token fails at once; otherwise a chi-square goodness-of-fit test per row
    at significance ``alpha`` (so a correct sampler fails a case with probability at most ``alpha``).
    The reference gets the case's arguments without its ``generator`` (probabilities need no randomness).
    """

    kind: Literal["distribution"] = "distribution"
    draws: int = Field(2000, ge=100, le=1_000_000)
    alpha: float = Field(1e-6, gt=0, lt=0.01)

    @property
    def repeat(self) -> int:
        return self.draws


class RagCompare(Rule):
    """For a RAG pipeline: graded on what it did, not on its wording (see :mod:`grader.compare.rag`).

    The case's arguments give the question, documents, a recording ``tokenizer`` and a lookup ``embed``;
    the reference (``reference.retrieval:expected_contexts``) returns the retrieved documents in order. The
    prompt the student tokenized must hold those documents, in order, before the question, and no other
    document; the answer must be the greedy continuation of that prompt.
    """

    kind: Literal["rag"] = "rag"


class PromptCompare(Rule):
    """For a prompt builder: the returned string must hold every context, in order, before the question.
    Wording, separators and instructions are free. The reference is ``reference.retrieval:prompt_parts``."""

    kind: Literal["prompt"] = "prompt"


Compare = Annotated[
    ExactCompare | CloseCompare | DistributionCompare | RagCompare | PromptCompare, Field(discriminator="kind")
]
