"""``grader worker``: the ``dask worker`` command line that makes this machine a grading worker.

A plain ``dask worker tcp://SCHEDULER:8786`` is enough (the orchestrator's plugin brings the rest); this adds the
right slot count: one worker process with ``jobs`` threads, each grading one submission in its own sandbox slot.
"""

from __future__ import annotations

import os
import sys


def worker_command(
    address: str, jobs: int = 0, host: str | None = None, name: str | None = None, gpus: int = 0
) -> list[str]:
    """``python -m distributed.cli.dask_worker ...``: one process, ``jobs`` threads (0: one per core), no dashboard;
    ``gpus``: the Dask resource ``GPU`` it offers (an assignment with ``[limits] gpu = true`` needs one per kernel)."""
    slots = jobs or os.cpu_count() or 1
    command = [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nworkers", "1"]
    command += ["--nthreads", str(slots), "--no-dashboard"]
    if gpus:
        command += ["--resources", f"GPU={gpus}"]
    if host:
        command += ["--host", host]
    if name:
        command += ["--name", name]
    return command
