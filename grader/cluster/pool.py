"""The orchestrator's side of a cluster run: one Dask task per submission, each result committed once.

:class:`ClusterPool` replaces :func:`grader.batch.pool.run_pool` in :meth:`grader.batch.run.ClassBatch.grade`.
A task carries the notebook's bytes, the student id and the plan's hash (the plan itself reached each worker
once, with the plugin); it needs one :data:`~grader.cluster.plugin.RESOURCE`, so only a worker that passed its
checks runs it (and, for an assignment with ``[limits] gpu = true``, one :data:`~grader.cluster.plugin.GPU`).
At most :attr:`ClusterPool.window` tasks are submitted at once, so what the orchestrator (and the scheduler)
hold does not grow with the class.

Faults: a worker that dies mid-task makes the scheduler run the task elsewhere; its result still arrives once,
and is committed once. A task whose worker died twice (``allowed-failures``, set to 1 by
:func:`grader.cluster.connect.connect`) ends in ``KilledWorker``: that student's result is an "error" and the batch
goes on. A lost scheduler cancels every task: the run stops with one line; what was committed stays.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

from distributed import Client, Future
from distributed.scheduler import KilledWorker

from grader.batch.intake import Submission
from grader.batch.pool import not_graded
from grader.cluster.plugin import GPU, RESOURCE, grading_task
from grader.cluster.workers import POLL_S, Workers
from grader.errors import GraderError
from grader.grading.results import SubmissionResult


class ClusterPool:
    """A :class:`grader.batch.run.Pool` that grades on the cluster of ``client``."""

    def __init__(self, client: Client, plan_hash: str, workers: Workers, gpu: bool = False):
        self.client, self.plan_hash, self.workers = client, plan_hash, workers
        self.task = grading_task()
        self.gpu, self.told = gpu, ""  # told: what the run said it waits for (the workers that could grade left)
        self.resources = {RESOURCE: 1, GPU: 1} if gpu else {RESOURCE: 1}  # a GPU's kernels go to GPU workers only

    @property
    def window(self) -> int:
        """Tasks submitted at once: enough to keep every slot busy while results come back."""
        return max(8, 2 * sum(self.workers.ready.values()))

    async def __call__(self, plan, tasks, submission: Callable[..., Submission], launcher, jobs: int, commit) -> None:
        pending, running = iter(tasks), {}
        committed, polled = 0, time.monotonic()
        try:
            while True:
                while len(running) < self.window and (task := next(pending, None)) is not None:
                    sub = submission(task)
                    if sub.problem:  # nothing to run: as the local pool does
                        commit(task, not_graded(plan, sub.student_id, sub.status, sub.problem, launcher))
                        continue
                    running[asyncio.ensure_future(self._outcome(self._submit(sub)))] = (task, sub)
                if not running:
                    break
                done, _ = await asyncio.wait(running, timeout=POLL_S, return_when=asyncio.FIRST_COMPLETED)
                for finished in done:
                    task, sub = running.pop(finished)
                    commit(task, self._result(plan, sub, launcher, *finished.result(), committed))
                    committed += 1
                if time.monotonic() - polled >= POLL_S:  # workers that joined meanwhile: ready, or refused and why
                    await self.workers.poll(self.client)
                    polled = time.monotonic()
                    self._say_what_it_waits_for()
        finally:
            for waiting in running:
                waiting.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    def _say_what_it_waits_for(self) -> None:
        """Every worker that could grade this run left: say once what it waits for (not silently hang)."""
        why = self.workers.waiting(self.gpu)
        if why and why != self.told:
            self.workers.say(why)
        self.told = why

    def _submit(self, sub: Submission) -> Future:
        notebook = sub.notebook.read_bytes() if sub.notebook.is_file() else b""
        key = f"grade-{_safe(sub.student_id)}-{uuid.uuid4().hex[:8]}"  # the student in the dashboard, unique
        args = (self.plan_hash, sub.student_id, notebook, sub.notebook.name)
        return self.client.submit(self.task, *args, key=key, resources=self.resources)

    @staticmethod
    async def _outcome(future: Future) -> tuple[str, object]:
        """("ok", the result's JSON), ("error", the exception), or ("cancelled", why); releases the future."""
        try:
            return "ok", await future
        except asyncio.CancelledError:
            if future.status != "cancelled":
                raise  # this waiter was cancelled, not the task
            return "cancelled", future
        except Exception as exc:
            return "error", exc
        finally:
            future.release()

    def _result(self, plan, sub: Submission, launcher, kind: str, value, committed: int) -> SubmissionResult:
        if kind == "cancelled" or (kind == "error" and self.client.status != "running"):
            raise GraderError(
                f"the scheduler at {self.workers.address} is gone (or cancelled the work); {committed} result(s) "
                "of this run are committed and kept: rerun the same command to grade the rest"
            )
        if kind == "error" and isinstance(value, KilledWorker):
            message = (
                "grader error: grading this submission stopped its worker twice (killed or lost), "
                "so it is not tried again"
            )
            result = not_graded(plan, sub.student_id, "error", message, launcher)
        elif kind == "error":
            raise value if isinstance(value, GraderError) else GraderError(f"a cluster task failed: {value!r}")
        else:
            result = SubmissionResult.model_validate(value)
        if sub.note:
            result.notes.insert(0, sub.note)
        return result


def _safe(student_id: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in student_id)[:40]
