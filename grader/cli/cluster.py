"""Course staff's verb for a grading cluster: ``worker`` (this machine grades for a Dask scheduler)."""

from __future__ import annotations

import os

import typer

from grader.cli.app import app, console


@app.command()
def worker(
    scheduler: str = typer.Argument(..., help="The scheduler's address, e.g. tcp://10.0.0.5:8786."),
    jobs: int = typer.Option(0, "--jobs", "-j", help="Submissions graded at once here (default: number of cores)."),
    host: str = typer.Option(None, "--host", help="Address to listen on (default: the one reaching the scheduler)."),
    name: str = typer.Option(None, "--name", help="This worker's name in the scheduler."),
    gpus: int = typer.Option(
        0, "--gpus", min=0, help="GPUs offered (Dask resource GPU): assignments with [limits] gpu = true grade here."
    ),
):
    """Grade for a Dask scheduler: runs `dask worker` with one sandbox slot per thread. `grader grade --cluster
    SCHEDULER` then sends it the plan; it grades only if its sandbox and versions match the orchestrator's."""
    from grader.cluster.worker import worker_command
    from grader.sandbox.isolation import sandbox_status

    ok, reason = sandbox_status()
    if not ok:  # it still joins: a run with --no-sandbox may use it; others name it as refused, with this reason
        console.print(f"[yellow]warning:[/yellow] no sandbox here ({reason}): only runs with --no-sandbox grade here")
    command = worker_command(scheduler, jobs, host, name, gpus)
    console.print(" ".join(command))
    os.execv(command[0], command)
