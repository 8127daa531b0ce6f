"""The README's SLURM recipe, as written there, builds the job it would submit: the worker that `grader worker`
runs (one process, one thread per slot), the GPU resource and the address of the scheduler the recipe starts.
No SLURM here: the block runs up to ``cluster.scale`` (which calls sbatch), on 127.0.0.1 instead of the login
node's address."""

from __future__ import annotations

import re

import pytest

from tests.helpers import REPO

jobqueue = pytest.importorskip("dask_jobqueue")  # the dev extra has it; the `cluster` extra for users


def slurm_recipe() -> str:
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    (recipe,) = [block for block in blocks if block.startswith("# slurm_workers.py")]
    return recipe


def test_the_readme_slurm_recipe_builds_a_grading_worker_job():
    recipe = slurm_recipe()
    assert '"host": "10.0.0.5"' in recipe and "\ncluster.scale(" in recipe
    setup = recipe.split("\ncluster.scale(")[0].replace('"host": "10.0.0.5"', '"host": "127.0.0.1"')
    names: dict = {}
    exec(compile(setup, "README.md (slurm_workers.py)", "exec"), names)  # noqa: S102 (our own README)
    cluster = names["cluster"]
    try:
        script = cluster.job_script()
        address = cluster.scheduler_address
    finally:
        cluster.close()

    assert address.startswith("tcp://127.0.0.1:")
    (command,) = [line for line in script.splitlines() if "distributed.cli.dask_worker" in line]
    assert command.startswith("/opt/llm-course-grader/.venv/bin/python -m distributed.cli.dask_worker ")
    assert f" {address} " in command and " --nthreads 8 " in command
    assert "--nworkers" not in command  # one worker process per job
    assert command.endswith(" --resources GPU=1")
    assert "#SBATCH --gres=gpu:1" in script and "#SBATCH --cpus-per-task=8" in script
