"""``grader grade --cluster slurm:N`` against a real one-node SLURM (:mod:`tests.cluster.slurm`): dask-jobqueue
submits the worker jobs with ``sbatch``, they grade, and they are cancelled at the end; SLURM's own refusals are
one line. The job's settings come from Dask's configuration, here as ``DASK_JOBQUEUE__SLURM__*`` variables."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from grader.authoring.examples import expected_points
from grader.grading.results import SubmissionResult
from reference.models import cache_dir
from tests.cluster.conftest import SAMPLING, submissions
from tests.cluster.slurm import SlurmNode, missing
from tests.cluster.test_grading import attempts, expected, points

pytestmark = [pytest.mark.slow, pytest.mark.skipif(bool(missing()), reason=missing() or "SLURM runs here")]


@pytest.fixture
def slurm():
    with SlurmNode() as node:
        yield node


def grade_on_slurm(slurm: SlurmNode, subs, out, jobs: int, **settings: str) -> subprocess.CompletedProcess:
    """``grader grade 03-sampling SUBS --out OUT --cluster slurm:JOBS -q`` with ``settings`` as jobqueue.slurm.*."""
    env = {k: v for k, v in slurm.env.items() if not k.startswith(("DASK_", "PYTEST_"))}
    env.update(LLM_COURSE_CACHE=str(cache_dir()), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    settings = {"cores": "1", "memory": "3GB", "walltime": "00:20:00", "log_directory": str(slurm.folder), **settings}
    env.update({f"DASK_JOBQUEUE__SLURM__{key.upper()}": value for key, value in settings.items()})
    command = [sys.executable, "-m", "grader.cli", "grade", str(SAMPLING), str(subs), "--out", str(out)]
    return subprocess.run(
        [*command, "--cluster", f"slurm:{jobs}", "-q"], env=env, capture_output=True, text=True, cwd=slurm.folder
    )


def jobs(slurm: SlurmNode) -> list[str]:
    """The jobs SLURM still runs or waits to run."""
    queue = subprocess.run(["squeue", "-h", "-t", "PD,R", "-o", "%i"], env=slurm.env, capture_output=True, text=True)
    return queue.stdout.split()


def test_worker_jobs_grade_as_local_grading_does_and_are_cancelled(slurm, sampling, sampling_plan, tmp_path):
    names = {"alice": "correct", "bob": "bug_greedy_float", "carol": "bug_top_k_off_by_one"}
    subs = submissions(tmp_path / "subs", names)
    out = tmp_path / "out"

    run = grade_on_slurm(slurm, subs, out, jobs=2, queue="grading")

    assert run.returncode == 0, run.stdout + run.stderr + slurm.log()
    assert attempts(out) == dict.fromkeys(names, 1)
    table = expected_points(sampling)
    workers = set()
    for student, example in names.items():
        result = SubmissionResult.load(out / "results" / f"{student}.json")
        assert points(result) == expected(sampling_plan, example, table), student
        assert result.isolation in ("zygote", "bubblewrap")  # sandboxed inside the SLURM job
        workers.add(result.provenance["worker"])
    assert workers and all(worker.startswith("tcp://") for worker in workers)
    assert len(list(slurm.folder.glob("dask-worker-*.err"))) == 2  # both workers ran as SLURM jobs
    assert jobs(slurm) == []  # the run's jobs are gone with it


def test_a_partition_slurm_refuses_is_one_line(slurm, tmp_path):
    subs = submissions(tmp_path / "subs", {"alice": "correct"})
    out = tmp_path / "out"

    run = grade_on_slurm(slurm, subs, out, jobs=1, queue="no-such-partition")

    assert run.returncode == 1
    assert "--cluster slurm:1: could not submit the worker jobs: sbatch: error: invalid partition" in run.stdout
    assert "Traceback" not in run.stdout + run.stderr
    assert not (out / "results" / "alice.json").exists()


def test_missing_job_settings_are_named(tmp_path):
    subs = submissions(tmp_path / "subs", {"alice": "correct"})
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")}
    command = [sys.executable, "-m", "grader.cli", "grade", str(SAMPLING), str(subs), "--out", str(tmp_path / "out")]
    run = subprocess.run([*command, "--cluster", "slurm:2"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 1
    assert "--cluster slurm:2: set jobqueue.slurm.cores and jobqueue.slurm.memory in" in run.stdout
