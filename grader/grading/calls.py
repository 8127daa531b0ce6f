"""Making a submission's graded calls in its kernel, each under its own time limit (the watchdog).

A caller is anything that takes a list of :class:`Call` and returns one
:class:`~grader.boundary.harness.CallOutcome` per call: :class:`KernelCaller` in grading, an in-process caller
in the notebook self-check (:mod:`grader.selfcheck.notebook`): both follow :class:`TimeoutRule`.

The rules every call is made under (README, "Time limits of graded calls"):
- a call's limit counts from its own start (the harness marks it ``started``; see
  :mod:`grader.boundary.kernel_side`), never from an earlier call's end;
- no call is made twice in one grading: a call that began and left no result fails alone;
- each function's calls are made from the smallest input to the largest (:func:`smallest_first`), and once
  a function times out its remaining calls are not made ("timed out in an earlier case"): a function that
  loops forever costs one limit for the public calls and one for the hidden ones, whatever its number of
  cases, and one merely slow on its largest case has passed the others by then.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from grader.boundary import harness
from grader.common.settings import TIMEOUTS
from grader.grading.execute import KernelSession
from grader.sandbox.launcher import RunDir

NOT_RUN = "timed out in an earlier case"


@dataclass(frozen=True)
class Call:
    """One call of a graded function: ``repeat`` > 1 for the draws of a distribution case."""

    function: str
    kwargs: dict
    repeat: int = 1


class TimeoutRule:
    """The module docstring's rule, for every caller (the kernel's watchdog, ``check()`` in a notebook), over one
    batch of calls: once a function has timed out, its remaining calls are not made."""

    def __init__(self):
        self._timed_out: set[str] = set()

    def gave_up(self, function: str) -> bool:
        return function in self._timed_out

    def timed_out(self, function: str) -> None:
        self._timed_out.add(function)


def smallest_first(calls: list[Call]) -> list[int]:
    """The order to make ``calls`` in: each function's calls from the smallest input to the largest (elements of
    its tensors and sequences, times its repeats), the functions in their order. So a function that is slow on
    one large case has passed its small ones before it times out, and one that loops forever times out on its
    smallest case and is not called again."""
    first = {}
    for i, call in enumerate(calls):
        first.setdefault(call.function, i)
    return sorted(range(len(calls)), key=lambda i: (first[calls[i].function], _size(calls[i]), i))


def _size(call: Call) -> int:
    total, stack = 0, list(call.kwargs.values())
    while stack:
        value = stack.pop()
        if hasattr(value, "numel"):
            total += value.numel()
        elif isinstance(value, (list, tuple)):
            total += len(value)
            stack.extend(value)
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, str):
            total += len(value)
    return total * call.repeat


@dataclass
class _Request:
    """The host's view of one request: which calls began (``started``), finished, timed out or were skipped."""

    calls: list[Call]
    folders: list[Path]
    begun: dict[int, float] = field(default_factory=dict)  # offset -> when the host saw it start
    timed_out: set[int] = field(default_factory=set)
    skipped: set[int] = field(default_factory=set)


class KernelCaller:
    """Makes a submission's calls in its kernel through the harness, all in one request (see
    :mod:`grader.boundary.kernel_side`): each call's inputs and result are a folder of files. The watchdog
    (module docstring) interrupts a call past its limit (the harness goes on with the next call); a call that
    ignores the interrupt gets the kernel restarted, and a new request makes the calls not yet begun.

    Each ``await caller(calls)`` writes only those calls' inputs: the grader makes the public calls, reads
    their results, and only then writes the hidden calls' inputs (:func:`grader.grading.grade.grade_questions`).
    """

    def __init__(self, session: KernelSession, run: RunDir, deadline: float, progress=None):
        self.session, self.run, self.deadline = session, run, deadline
        self.progress = progress  # optional: told which function each call checks, as it starts
        self._folders_made = 0

    async def __call__(self, calls: list[Call]) -> list[harness.CallOutcome]:
        self.rule = TimeoutRule()  # per batch: the hidden calls get their own chance
        folders = [self._write_inputs(call) for call in calls]
        unwritten = harness.CallOutcome("not_run", message="its inputs could not be written (the folder is full)")
        outcomes: list[harness.CallOutcome | None] = [None if f else unwritten for f in folders]
        start = 0
        while start < len(calls) and self.deadline - time.monotonic() > 1:
            if not self.session.usable:
                dead = harness.CallOutcome("dead", message=self.session.unusable_reason)
                outcomes[start:] = [dead] * (len(calls) - start)
                break
            start = await self._request(calls, folders, outcomes, start)
        limit_reached = harness.CallOutcome("timeout", message="the submission's time limit was reached")
        return [outcome or limit_reached for outcome in outcomes]

    def _write_inputs(self, call: Call) -> Path | None:
        self._folders_made += 1
        folder = self.run.calls / f"call-{self._folders_made}"
        try:
            harness.write_inputs(folder, call.kwargs)
        except OSError:  # e.g. a result that filled the size-capped folder
            return None
        return folder

    async def _request(self, calls, folders, outcomes, start: int) -> int:
        """Make calls ``start:`` in one request; fill in their outcomes; return the first call still to make."""
        pending = [i for i in range(start, len(calls)) if outcomes[i] is None]
        for i in pending:
            if self.rule.gave_up(calls[i].function):
                outcomes[i] = harness.CallOutcome("not_run", message=NOT_RUN)
        pending = [i for i in pending if outcomes[i] is None]
        if not pending:
            return len(calls)
        request = _Request([calls[i] for i in pending], [folders[i] for i in pending])
        prefix = self.run.work
        source = harness.calls_source(
            [
                (c.function, str(f.relative_to(prefix)), c.repeat)
                for c, f in zip(request.calls, request.folders, strict=True)
            ]
        )
        running = asyncio.ensure_future(self.session.run(source, -1, self.deadline - time.monotonic(), replay=False))
        await self._watch(running, request)
        record = await running
        next_call = pending[0]
        for offset, i in enumerate(pending):
            if offset in request.skipped:
                outcomes[i], next_call = harness.CallOutcome("not_run", message=NOT_RUN), i + 1
            elif offset in request.begun:
                outcomes[i], next_call = self._outcome(request, offset, record), i + 1
            else:
                break  # never began: the next request makes it
        if record.status == "timeout":
            return len(calls)  # the submission's deadline: the rest get the time-limit outcome
        if not request.begun and not request.skipped:  # no call began: the harness is broken or gone
            why = record.message if record.status != "ok" else "the grading harness made no call"
            kind = "dead" if record.status == "dead" else "invalid_output"
            outcomes[start:] = [outcome or harness.CallOutcome(kind, message=why) for outcome in outcomes[start:]]
            return len(calls)
        return next_call

    def _outcome(self, request: _Request, offset: int, record) -> harness.CallOutcome:
        call, folder = request.calls[offset], request.folders[offset]
        limit = self.session.limits.call_timeout_s
        timeout = harness.CallOutcome("timeout", message=f"did not finish within {limit:g} s")
        if offset in request.timed_out:
            return timeout
        if os.path.lexists(folder / "out.json"):
            outcome = harness.read_outcome(folder, self.session.limits.return_bytes, call.repeat)
            return timeout if outcome.status == "interrupted" else outcome
        if record.status == "dead":
            return harness.CallOutcome("dead", message=record.message)
        return harness.CallOutcome("invalid_output", message="the call left no result (the notebook removed it?)")

    async def _watch(self, running: asyncio.Future, request: _Request) -> None:
        """Wait for ``running``, interrupting a call that outlives its limit (then killing the kernel if the call
        ignores the interrupt for ``TIMEOUTS.interrupt_grace_s``)."""
        current, since = 0, time.monotonic()  # until call 0 begins, the harness's start-up counts towards it
        while not running.done():
            await asyncio.wait({running}, timeout=TIMEOUTS.call_poll_s)
            current, since = self._advance(request, current, since)
            if running.done() or current >= len(request.calls):
                continue
            limit = self.session.limits.call_timeout_s
            waited = time.monotonic() - since
            if current not in request.timed_out and waited > limit:
                request.timed_out.add(current)
                since = time.monotonic()
                self._timed_out(request, current)
                await self.session.interrupt()
            elif current in request.timed_out and waited > TIMEOUTS.interrupt_grace_s:
                await self.session.kill()  # the request ends as "dead"; the session restarts the kernel
                await asyncio.wait({running})

    def _advance(self, request: _Request, current: int, since: float) -> tuple[int, float]:
        """Follow the harness: the call now running (the last one begun) and since when it counts."""
        now = time.monotonic()
        for offset in range(current, len(request.calls)):
            if offset in request.skipped or offset in request.begun:
                continue
            if not os.path.lexists(request.folders[offset] / "started"):
                break
            request.begun[offset] = now
            current, since = offset, now
            if self.progress is not None:
                self.progress(
                    f"checking {request.calls[offset].function} (test call {offset + 1} of {len(request.calls)})"
                )
        return current, since

    def _timed_out(self, request: _Request, offset: int) -> None:
        """Note a time-out: the function's later calls of this request are skipped (the harness is told, and the
        host records them as not run whatever the kernel writes)."""
        function = request.calls[offset].function
        self.rule.timed_out(function)
        for later in range(offset + 1, len(request.calls)):
            if request.calls[later].function == function:
                harness.mark_skipped(request.folders[later])
                request.skipped.add(later)
