"""What every judge returns, and what it may know besides the two values it compares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Verdict:
    """A judge's decision: ``passed``, and when not, a ``message`` saying what differs (the student sees it,
    except for hidden tests)."""

    passed: bool
    message: str = ""


PASS = Verdict(True)


@dataclass(frozen=True)
class CallContext:
    """The call behind a value: what recording inputs ``observed`` during it (e.g. the texts tokenized), the
    case's ``args``, and ``resolve(handle)``, which gives the host's own model or tokenizer for an input
    handle. Only judges of behaviour (``rag``) use it."""

    observed: dict | None = None
    args: dict = field(default_factory=dict)
    resolve: Callable | None = None
