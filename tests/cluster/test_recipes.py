"""The README's SLURM configuration, as written there, builds the job ``--cluster slurm:N`` would submit: the
worker that ``grader worker`` runs (one process, one thread per slot) with the partition, the account, the
grader's interpreter and, with the README's GPU lines, the GPU resource. No SLURM needed: nothing is submitted
(tests/cluster/test_slurm.py submits to a real one-node SLURM)."""

from __future__ import annotations

import re

import dask.config
import pytest
import yaml

from grader.cluster.slurm import make_cluster
from tests.helpers import REPO

pytest.importorskip("dask_jobqueue")  # the dev extra has it; the `cluster` extra for users
README = (REPO / "README.md").read_text()
GPU_LINES = ('job-extra-directives: ["--gres=gpu:1"]', 'worker-extra-args: ["--resources", "GPU=1"]')


def readme_configuration() -> dict:
    (block,) = [b for b in re.findall(r"```yaml\n(.*?)```", README, re.S) if "jobqueue.yaml" in b]
    return yaml.safe_load(block)


def job_script(configuration: dict) -> tuple[str, str]:
    """The job script and the scheduler's address of ``configuration``, on 127.0.0.1."""
    settings = {f"jobqueue.slurm.{key}": value for key, value in configuration["jobqueue"]["slurm"].items()}
    settings["jobqueue.slurm.scheduler-options"] = {"host": "127.0.0.1"}
    with dask.config.set(settings):  # key by key: the rest of jobqueue.slurm keeps dask-jobqueue's defaults
        cluster = make_cluster("slurm:1", asynchronous=False)
        try:
            return cluster.job_script(), cluster.scheduler_address
        finally:
            cluster.close()


def test_the_readme_configuration_builds_a_grading_worker_job():
    script, address = job_script(readme_configuration())

    (command,) = [line for line in script.splitlines() if "distributed.cli.dask_worker" in line]
    assert command.startswith("/opt/llm-course-grader/.venv/bin/python -m distributed.cli.dask_worker ")
    assert f" {address} " in command and " --nthreads 8 " in command
    assert "--nworkers" not in command and "GPU" not in command  # one worker process per job; no GPU asked
    assert "#SBATCH -p teaching" in script and "#SBATCH -A cs-llm" in script
    assert "#SBATCH --cpus-per-task=8" in script and "#SBATCH -t 02:00:00" in script


def test_the_readme_gpu_lines_ask_for_a_gpu_and_offer_it_to_dask():
    assert all(f"`{line}`" in README for line in GPU_LINES)
    configuration = readme_configuration()
    for line in GPU_LINES:
        configuration["jobqueue"]["slurm"].update(yaml.safe_load(line))

    script, _ = job_script(configuration)

    assert "#SBATCH --gres=gpu:1" in script
    assert script.rstrip().endswith(" --resources GPU=1")
