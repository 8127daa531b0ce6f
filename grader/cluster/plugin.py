"""The worker's side: a Dask worker plugin that makes a worker a grading machine, or refuses.

The orchestrator registers one :class:`GraderPlugin` per run (``Client.register_plugin``); Dask hands it to every
worker, those already there and those that join later, once each. Its :meth:`GraderPlugin.setup`, on the worker:

1. refuses if the run needs the sandbox and this machine cannot give it (``grader doctor`` says why);
2. refuses if this worker's facts (:mod:`grader.cluster.facts`) differ from the orchestrator's;
3. decodes the plan (cached in this process by its content hash) and starts the launcher as local grading does
   (bubblewrap, zygote, one slot per worker thread);
4. only then offers :data:`RESOURCE` = its thread count to the scheduler: grading tasks need one unit of it, so
   a refused worker never receives one, and a worker grades at most one submission per slot. The tasks of an
   assignment whose kernels need a GPU also need one unit of :data:`GPU`, which only a worker started with
   ``--resources GPU=N`` offers.

Each task (:func:`grading_task`) runs in one of the worker's threads; the grading itself runs on the plugin's
own event loop (one per worker, as the local pool has one), in a free slot.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import queue
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from distributed import Reschedule, WorkerPlugin

from grader.assignment.plan import GradingPlan, decode_plan
from grader.batch.intake import Submission
from grader.batch.pool import grade_one
from grader.cluster.facts import differences, local_facts
from grader.common.text import clip
from grader.errors import GraderError
from grader.sandbox.isolation import sandbox_status, start_launcher

PLUGIN = "llm-grader"
RESOURCE = "grader-slot"
GPU = "GPU"  # the Dask resource an assignment with ``[limits] gpu = true`` needs, one unit per submission
COURSE_LM = "course-lm"  # an asset a worker builds or finds itself (reference.models), not a path
_PLANS: dict[str, GradingPlan] = {}  # by content hash: decoded once per worker process


class WorkerRefused(GraderError):
    """This worker may not grade this run (no sandbox, another version); the message says why."""


@dataclass
class WorkerSetup:
    """What the orchestrator sends each worker once (pickled with the plugin)."""

    plan_hash: str
    plan_json: bytes  # grader.assignment.plan.encode_plan: JSON and safetensors, hidden cases included
    plan_tensors: bytes
    assets: dict[str, str]  # name -> COURSE_LM, or a path every worker sees (a shared folder)
    preload: list[str]  # what the zygote imports (grader.sandbox.isolation.preload_for, on the orchestrator)
    require_sandbox: bool
    fast_start: bool
    facts: dict[str, str]  # the orchestrator's grader.cluster.facts.local_facts


class GraderPlugin(WorkerPlugin):
    def __init__(self, setup: WorkerSetup):
        self.config = setup
        self.state, self.refusal = "starting", ""  # then "ready", or "refused" and why
        self.notice, self.slots_total = "", 0

    def __getstate__(self) -> dict:
        return {"config": self.config}  # what travels; the rest is this worker's

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["config"])

    async def setup(self, worker) -> None:
        self.address = worker.address
        try:  # blocking (hashes the assets, waits for the zygote): off the worker's event loop
            await asyncio.to_thread(self._start, worker.state.nthreads)
        except Exception as exc:  # whatever it is, this worker must not take work; the orchestrator says why
            self.state, self.refusal = "refused", clip(str(exc) or type(exc).__name__)
            return
        self.state = "ready"
        await worker.set_resources(**{RESOURCE: self.slots_total})
        look_again(worker)

    async def teardown(self, worker) -> None:
        """The worker closes, or the next run's plugin replaces this one: stop grading (what runs is cancelled
        and rescheduled, see :meth:`grade`), close the launcher."""
        if worker.state.total_resources.get(RESOURCE):
            with contextlib.suppress(OSError):  # the scheduler is gone: nothing to withdraw from
                await worker.set_resources(**{RESOURCE: 0})
        if self.state == "ready":
            self.state = "closed"
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(_cancel_all(), self.loop))
            self.loop.call_soon_threadsafe(self.loop.stop)
            await asyncio.to_thread(self.launcher.close)
            shutil.rmtree(self.workroot, ignore_errors=True)

    def _start(self, slots: int) -> None:
        config = self.config
        if config.require_sandbox:
            ok, reason = sandbox_status()
            if not ok:
                raise WorkerRefused(f"cannot sandbox submissions ({reason}); fix it, or grade with --no-sandbox")
        assets = {name: _asset_path(where) for name, where in config.assets.items()}
        wrong = differences(local_facts(assets), config.facts)
        if wrong:
            raise WorkerRefused("another version: " + "; ".join(wrong))
        self.plan = _plan(config, assets)
        self.launcher, self.notice = start_launcher(
            assets,
            require_sandbox=config.require_sandbox,
            fast_start=config.fast_start,
            preload=config.preload,
            gpu=self.plan.limits.gpu,
        )()
        self.free: queue.Queue[int] = queue.Queue()
        for slot in range(slots):
            self.free.put(slot)
        self.slots_total = slots
        self.workroot = Path(tempfile.mkdtemp(prefix="grader-cluster-"))
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="grader-loop", daemon=True).start()

    def grade(self, student_id: str, notebook: bytes, name: str) -> dict:
        """Grade one notebook (its bytes, its file ``name``) in a free slot; the result as plain JSON, naming this
        worker. The file keeps its name: messages about it ("alice.ipynb: not a readable notebook") read as
        they do when grading locally."""
        slot = self.free.get()
        folder = self.workroot / uuid.uuid4().hex
        path = folder / (Path(name).name or "notebook.ipynb")
        try:
            folder.mkdir()
            path.write_bytes(notebook)
            graded = grade_one(self.plan, Submission(student_id, path), self.launcher, self.workroot, slot)
            result = asyncio.run_coroutine_threadsafe(graded, self.loop).result()
        except concurrent.futures.CancelledError:
            raise Reschedule() from None  # torn down meanwhile: the scheduler gives the task to another worker
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            self.free.put(slot)
        result.provenance = {**result.provenance, "worker": self.address}
        return result.model_dump(mode="json")

    def run(self, plan_hash: str, student_id: str, notebook: bytes, name: str) -> dict:
        """What a task does here (see :func:`grading_task`): :meth:`grade`, if this worker may grade this plan."""
        if self.config.plan_hash != plan_hash or self.state != "ready":
            why = f"{self.state} {self.refusal}" if self.config.plan_hash == plan_hash else "another run's plan"
            raise WorkerRefused(f"worker {self.address} cannot grade this run: {why.strip()}")
        return self.grade(student_id, notebook, name)

    def status(self) -> dict:
        return {"state": self.state, "refusal": self.refusal, "slots": self.slots_total, "notice": self.notice}


def grading_task() -> Callable[[str, str, bytes, str], dict]:
    """The Dask task: ``task(plan_hash, student_id, notebook, name)`` grades one submission (``notebook``, the
    bytes of the file ``name``) on the worker that runs it, with the plan ``plan_hash``.

    subtle: the scheduler unpickles every task it is sent. A function of this module would travel by reference
    and need the grader there; this closure travels by value (cloudpickle) and names nothing of the grader, so a
    plain ``dask scheduler`` from any environment will do. Everything else happens in :meth:`GraderPlugin.run`.
    """
    plugin_name = PLUGIN

    def grade_submission_here(plan_hash: str, student_id: str, notebook: bytes, name: str) -> dict:
        from distributed import get_worker

        worker = get_worker()
        plugin = worker.plugins.get(plugin_name)
        if plugin is None:
            raise RuntimeError(f"worker {worker.address} has no grader plugin")
        return plugin.run(plan_hash, student_id, notebook, name)

    return grade_submission_here


def look_again(worker) -> None:
    """Make the scheduler look for tasks this worker can now take.

    subtle: tasks that no worker could take (every worker with a slot, or with a GPU, died mid-run) wait in the
    scheduler's "no-worker" state, and the scheduler looks at them again only when a worker joins or starts
    running, not when a worker's resources change (``Scheduler.add_resources``). A worker whose plugin finished
    setting up after it joined would leave them waiting forever; pausing and resuming it makes the scheduler look.
    """
    from distributed.core import Status

    if worker.status == Status.running:
        worker.status = Status.paused
        worker.status = Status.running


def worker_status(dask_worker) -> dict:
    """Run on each worker by ``Client.run``: whether it is ready to grade, and if not, why."""
    plugin = dask_worker.plugins.get(PLUGIN)
    gpus = dask_worker.state.total_resources.get(GPU, 0)  # `dask worker --resources GPU=N`
    if not isinstance(plugin, GraderPlugin):
        return {"state": "starting", "refusal": "", "slots": 0, "notice": "", "gpus": gpus}
    return {**plugin.status(), "gpus": gpus}


async def _cancel_all() -> None:
    """On the plugin's loop: cancel every grading in progress and wait for its clean-up (kernels shut down)."""
    tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _plan(config: WorkerSetup, assets: dict[str, Path]) -> GradingPlan:
    plan = _PLANS.get(config.plan_hash)
    if plan is None:
        plan = decode_plan(config.plan_json, config.plan_tensors, assets.__getitem__, f"plan {config.plan_hash}")
        _PLANS[config.plan_hash] = plan
    return plan


def _asset_path(where: str) -> Path:
    if where == COURSE_LM:
        from reference.models import course_lm_path

        return course_lm_path()
    return Path(where)
