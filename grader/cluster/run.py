"""``grader grade --cluster``: grade what a :class:`~grader.batch.run.ClassBatch` left to grade on a Dask cluster.

The orchestrator has already done what only it does (intake, refusals, the plan and its ground truth); here the
plan is encoded once (:func:`grader.assignment.plan.encode_plan`, hidden cases included), handed to every worker
with the plugin, and the batch is graded through :class:`~grader.cluster.pool.ClusterPool`.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from grader.assignment.assets import asset_paths
from grader.assignment.plan import GradingPlan, encode_plan
from grader.assignment.spec import Assignment
from grader.batch.run import BatchSummary, ClassBatch, Observer
from grader.cluster.connect import connect
from grader.cluster.facts import local_facts
from grader.cluster.plugin import COURSE_LM, PLUGIN, GraderPlugin, WorkerSetup
from grader.cluster.pool import ClusterPool
from grader.cluster.workers import Workers, import_failure
from grader.errors import GraderError
from grader.sandbox.isolation import preload_for

WAIT_S = 1.0  # how often the workers are asked while none is ready yet


@dataclass
class ClusterSettings:
    address: str  # local:N, tcp://HOST:PORT or tls://HOST:PORT
    require_sandbox: bool = True
    fast_start: bool = True


@dataclass
class Remote:
    """What the batch needs of a launcher when the kernels run elsewhere: the isolation's name."""

    name: str


async def grade_on_cluster(
    batch: ClassBatch,
    assignment: Assignment,
    plan: GradingPlan,
    settings: ClusterSettings,
    observer: Observer | None = None,
    say: Callable[[str], None] = print,
) -> BatchSummary:
    """Grade ``batch``'s tasks with ``plan`` on the cluster at ``settings.address``; ``say`` gets one line per worker
    that joins (ready, or refused and why)."""
    setup = worker_setup(assignment, plan, settings)
    async with connect(settings.address) as client:
        try:  # every worker there sets it up now; each that joins later, when it joins
            await client.register_plugin(GraderPlugin(setup), name=PLUGIN)
        except Exception as exc:
            if not import_failure(exc):
                raise
            # a worker without this grader: Workers.poll names it (the others took the plugin)
        workers = Workers(settings.address, say)
        await first_ready(client, workers, say, gpu=plan.limits.gpu)
        pool = ClusterPool(client, setup.plan_hash, workers, gpu=plan.limits.gpu)
        return await batch.grade(plan, Remote(f"dask cluster {settings.address}"), observer, pool=pool)


def worker_setup(assignment: Assignment, plan: GradingPlan, settings: ClusterSettings) -> WorkerSetup:
    """What every worker gets once: the plan's bytes and hash, where its assets are, the orchestrator's facts."""
    plan_json, plan_tensors = encode_plan(plan)
    kinds = {name: asset.kind for name, asset in assignment.spec.assets.items()}
    assets = {name: COURSE_LM if kinds.get(name) == "course-lm" else str(path) for name, path in plan.assets.items()}
    return WorkerSetup(
        plan_hash=hashlib.sha256(plan_json + b"\0" + plan_tensors).hexdigest()[:16],
        plan_json=plan_json,
        plan_tensors=plan_tensors,
        assets=assets,
        preload=preload_for(asset_paths(assignment), assignment.notebook_path),
        require_sandbox=settings.require_sandbox,
        fast_start=settings.fast_start,
        facts=local_facts(plan.assets),
    )


async def first_ready(client, workers: Workers, say: Callable[[str], None], gpu: bool = False) -> None:
    """Wait until one worker is ready (with ``gpu``: one that offers a GPU); refuse the run when every worker there
    was refused. What it waits for is said once."""
    waiting = ""
    while True:
        await workers.poll(client)
        if workers.gpus if gpu else workers.ready:
            return
        there = workers.there
        if there and len(workers.refused) >= there:
            raise GraderError(f"no worker of {workers.address} may grade: {workers.refusals()}")
        why = workers.waiting(gpu)
        if why and why != waiting:
            say(why)
            waiting = why
        await asyncio.sleep(WAIT_S)
