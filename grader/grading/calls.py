"""Making a submission's graded calls in its kernel, each under its own time limit (the watchdog).

A caller is anything that takes a list of :class:`Call` and returns one
:class:`~grader.boundary.harness.CallOutcome` per call: :class:`KernelCaller` in grading, an in-process caller
in the notebook self-check (:mod:`grader.selfcheck.check`).
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path

from grader.boundary import harness
from grader.common.settings import TIMEOUTS
from grader.grading.execute import KernelSession
from grader.sandbox.launcher import RunDir


@dataclass(frozen=True)
class Call:
    """One call of a graded function: ``repeat`` > 1 for the draws of a distribution case."""

    function: str
    kwargs: dict
    repeat: int = 1


class KernelCaller:
    """Makes a submission's calls in its kernel through the harness, all in one request (see
    :mod:`grader.boundary.kernel_side`): each call's inputs and result are a folder of files. A watchdog gives each
    call its own time limit, counted from the previous call's result file: past it the kernel is interrupted
    (the harness goes on with the next call); a call that ignores the interrupt gets the kernel restarted, and
    a new request makes the calls that are left."""

    def __init__(self, session: KernelSession, run: RunDir, deadline: float, progress=None):
        self.session, self.run, self.deadline = session, run, deadline
        self.progress = progress  # optional: told which function each call checks, as it starts

    async def __call__(self, calls: list[Call]) -> list[harness.CallOutcome]:
        folders = []
        for i, call in enumerate(calls, 1):
            folders.append(f"{self.run.calls.name}/call-{i}")
            harness.write_inputs(self.run.work / folders[-1], call.kwargs)
        outcomes: list[harness.CallOutcome | None] = [None] * len(calls)
        start = 0
        while start < len(calls) and self.deadline - time.monotonic() > 1:
            if not self.session.usable:
                outcomes[start:] = [harness.CallOutcome("dead", message=self.session.unusable_reason)] * (
                    len(calls) - start
                )
                break
            start = await self._request(calls, folders, outcomes, start)
        limit_reached = harness.CallOutcome("timeout", message="the submission's time limit was reached")
        return [outcome or limit_reached for outcome in outcomes]

    async def _request(self, calls, folders, outcomes, start: int) -> int:
        """Make calls ``start:`` in one request; fill in their outcomes; return the first call still to make."""
        pending = range(start, len(calls))
        source = harness.calls_source([(calls[i].function, folders[i], calls[i].repeat) for i in pending])
        request = asyncio.ensure_future(self.session.run(source, -1, self.deadline - time.monotonic(), replay=False))
        results = [self.run.work / folders[i] for i in pending]
        timed_out, killed = await self._watch(request, results, lambda offset: self._started(calls, start + offset))
        record = await request
        limit = self.session.limits.call_timeout_s
        for offset, folder in enumerate(results):
            i = start + offset
            if offset in timed_out:
                outcomes[i] = harness.CallOutcome("timeout", message=f"did not finish within {limit:g} s")
                if killed and offset == max(timed_out):
                    return i + 1  # the kernel was restarted without the calls after this one
            elif os.path.lexists(folder / "out.json"):
                outcome = harness.read_outcome(folder, self.session.limits.return_bytes)
                if outcome.status == "interrupted":  # the watchdog's interrupt landed in the next call
                    outcome = harness.CallOutcome("timeout", message=f"did not finish within {limit:g} s")
                outcomes[i] = outcome
            else:  # the request ended here: the kernel died, the deadline, or the harness itself broke
                if record.status == "dead":
                    outcomes[i] = harness.CallOutcome("dead", message=record.message)
                elif record.status == "timeout":
                    return len(calls)  # the submission's deadline: the rest get the time-limit outcome
                elif offset - 1 in timed_out:
                    return i  # the interrupt landed between two calls and ended the request: make the rest anew
                else:
                    outcomes[i] = harness.read_outcome(folder, self.session.limits.return_bytes)
                return i + 1
        return len(calls)

    def _started(self, calls: list[Call], i: int) -> None:
        if self.progress is not None and i < len(calls):
            self.progress(f"checking {calls[i].function} (test call {i + 1} of {len(calls)})")

    async def _watch(self, request: asyncio.Future, results: list[Path], started) -> tuple[set[int], bool]:
        """Wait for ``request``, interrupting a call that outlives its limit (then killing the kernel if the
        call ignores the interrupt for ``TIMEOUTS.interrupt_grace_s``). Returns the offsets of the calls stopped, and
        whether the kernel was killed (for the last of them)."""
        limit = self.session.limits.call_timeout_s
        done_calls, since, timed_out, killed = 0, time.monotonic(), set(), False
        started(0)
        while not request.done():
            await asyncio.wait({request}, timeout=TIMEOUTS.call_poll_s)
            while done_calls < len(results) and os.path.lexists(results[done_calls] / "out.json"):
                done_calls, since = done_calls + 1, time.monotonic()
                started(done_calls)
            if request.done() or done_calls == len(results):
                continue
            waited = time.monotonic() - since
            if done_calls not in timed_out and waited > limit:
                timed_out.add(done_calls)
                since = time.monotonic()
                await self.session.interrupt()
            elif done_calls in timed_out and waited > TIMEOUTS.interrupt_grace_s:
                killed = True
                await self.session.kill()  # the request ends as "dead"; the session restarts the kernel
                await asyncio.wait({request})
        return timed_out, killed
