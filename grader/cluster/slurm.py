"""``--cluster slurm:N``: N SLURM jobs, each one grading worker, submitted with dask-jobqueue for this run and
cancelled when it ends.

What a job asks for (partition, account, cores, memory, walltime, GPUs) comes from Dask's configuration, section
``jobqueue.slurm`` (``~/.config/dask/jobqueue.yaml`` or ``DASK_JOBQUEUE__SLURM__...`` variables), as for any
dask-jobqueue user; ``cores`` is the worker's sandbox slots: each job runs one worker process with that many
threads. The scheduler runs in the orchestrator's process and listens on this machine's own address (its host
name's), not on every interface, unless the configuration names an ``interface`` or a scheduler ``host``.
"""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from grader.errors import GraderError

SLURM = re.compile(r"slurm:([1-9][0-9]{0,3})")
SETTINGS = "~/.config/dask/jobqueue.yaml (see README, 'Grading on a cluster')"


@asynccontextmanager
async def slurm_cluster(jobs: int) -> AsyncIterator[object]:
    """A started ``SLURMCluster`` with ``jobs`` worker jobs submitted; its jobs are cancelled on exit."""
    cluster = make_cluster(f"slurm:{jobs}", asynchronous=True)
    tornado = logging.getLogger("tornado.application")
    tornado.disabled = True  # it would log sbatch's refusal a second time, as a traceback
    try:
        await cluster  # the scheduler
        cluster.scale(jobs=jobs)
        await cluster  # the jobs submitted: sbatch's refusal (a partition that does not exist, ...) is raised here
    except Exception as exc:
        await cluster.close()
        raise GraderError(f"--cluster slurm:{jobs}: could not submit the worker jobs: {_first_line(exc)}") from None
    finally:
        tornado.disabled = False
    try:
        yield cluster
    finally:
        await cluster.close()  # cancels the jobs


def make_cluster(address: str, asynchronous: bool):
    """The ``SLURMCluster`` of Dask's ``jobqueue.slurm`` configuration, one worker process per job (its threads:
    ``cores``), no job submitted yet; :meth:`job_script` shows what a job runs."""
    try:
        import dask.config
        from dask_jobqueue import SLURMCluster
    except ImportError:
        raise GraderError(
            f"--cluster {address} needs dask-jobqueue: pip install 'llm-course-grader[cluster]'"
        ) from None
    config = dask.config.get("jobqueue.slurm")
    unset = [key for key in ("cores", "memory") if not config.get(key)]
    if unset:
        raise GraderError(f"--cluster {address}: set jobqueue.slurm.{' and jobqueue.slurm.'.join(unset)} in {SETTINGS}")
    return SLURMCluster(processes=1, scheduler_options=scheduler_options(config), asynchronous=asynchronous)


def scheduler_options(config: dict) -> dict:
    """The configured scheduler options; without a configured interface or host, this machine's own address (no
    wildcard address), for the scheduler and its HTTP endpoint alike."""
    options = dict(config.get("scheduler-options") or {})
    if config.get("interface") or "host" in options or "interface" in options:
        return options
    try:
        host = socket.gethostbyname(socket.gethostname())
    except OSError:
        raise GraderError(
            f"--cluster slurm:N: this machine's name ({socket.gethostname()}) has no address the jobs could reach: "
            f"set jobqueue.slurm.interface (or scheduler-options: host) in {SETTINGS}"
        ) from None
    return {
        **options,
        "host": host,
        "interface": None,
        "dashboard_address": options.get("dashboard_address", f"{host}:0"),
    }


def _first_line(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    error = next((line for line in lines if "error" in line.lower()), lines[0] if lines else repr(exc))
    return error[:300]
