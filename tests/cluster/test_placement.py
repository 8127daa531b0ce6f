"""Where submissions are graded on a real cluster: an assignment whose kernels need a GPU (``[limits] gpu = true``)
only on workers that offer the Dask resource GPU, waiting (and saying so once) until one joins; any other on every
worker; without --cluster, here, after one line. The summary says, per worker, how many submissions it graded and
its grading time.

Dask resources are labels: this runs without a GPU, and says nothing of whether a kernel can use CUDA."""

from __future__ import annotations

import dataclasses
import shutil
import threading
import time

import pytest
from typer.testing import CliRunner

from grader.assignment.spec import load_assignment
from grader.cli import app
from grader.grading.results import SubmissionResult
from tests.cluster.conftest import SAMPLING, grade, submissions
from tests.cluster.processes import STARTUP_S
from tests.cluster.test_faults import BATCH
from tests.cluster.test_grading import attempts, per_worker_lines

pytestmark = pytest.mark.slow


def gpu_copy(sampling, folder):
    """03-sampling declaring ``[limits] gpu = true`` in its TOML (read back here), with its folder unchanged (so the
    ground truth, and the plan built once, are the same)."""
    shutil.copytree(SAMPLING, folder)
    toml = folder / "assignment.toml"
    toml.write_text(toml.read_text().replace("[limits]\n", "[limits]\ngpu = true\n", 1))
    limits = load_assignment(folder).spec.limits
    assert limits.gpu
    return sampling.model_copy(update={"spec": sampling.spec.model_copy(update={"limits": limits})})


def start_when_said(dask, said: list[str], line: str, start) -> threading.Thread:
    """In a thread: once a line starting with ``line`` was said, ``start()`` (a worker joins)."""

    def run() -> None:
        deadline = time.monotonic() + 5 * STARTUP_S
        while time.monotonic() < deadline and not any(s.startswith(line) for s in said):
            time.sleep(0.2)
        start()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_gpu_assignment_waits_for_a_gpu_worker_and_grades_only_there(dask, sampling, sampling_plan, tmp_path):
    gpu_sampling = gpu_copy(sampling, tmp_path / "03-sampling-gpu")
    gpu_plan = dataclasses.replace(sampling_plan, limits=gpu_sampling.spec.limits)
    names = {f"s{i}": example for i, example in enumerate(BATCH)}
    subs = submissions(tmp_path / "subs", names)
    dask.scheduler()
    dask.worker("cpu")
    dask.wait_for_workers(1)
    said: list[str] = []
    joining = start_when_said(dask, said, "waiting for a worker with a GPU", lambda: dask.grader_worker("gpu", gpus=1))

    summary = grade(gpu_sampling, gpu_plan, subs, tmp_path / "gpu-out", dask.address, said=said)
    joining.join()

    workers = dask.wait_for_workers(2)
    waiting = [s for s in said if s.startswith("waiting for a worker with a GPU")]
    assert waiting == [
        f"waiting for a worker with a GPU to join {dask.address}: this assignment's kernels need one ([limits] gpu = "
        f"true); start one with `grader worker {dask.address} --gpus 1` (or `dask worker {dask.address} "
        '--resources "GPU=1"`)'
    ]
    assert f"worker {workers['gpu']}: 1 slot(s), 1 GPU(s); sandbox: bubblewrap" in " ".join(said)
    assert summary.graded_now == len(names) and attempts(tmp_path / "gpu-out") == dict.fromkeys(names, 1)
    for student in names:
        result = SubmissionResult.load(tmp_path / "gpu-out" / "results" / f"{student}.json")
        assert result.status == "graded" and result.provenance["worker"] == workers["gpu"], student
    assert list(summary.workers) == [workers["gpu"]] and summary.workers[workers["gpu"]][0] == len(names)

    # the same assignment without the flag: graded on both workers; the summary counts each one's submissions
    summary = grade(sampling, sampling_plan, subs, tmp_path / "out", dask.address, said=[])

    by_worker = {SubmissionResult.load(tmp_path / "out" / "results" / f"{s}.json").provenance["worker"] for s in names}
    assert by_worker == set(workers.values())
    assert set(summary.workers) == by_worker and sum(n for n, _ in summary.workers.values()) == len(names)
    assert all(seconds > 0 for _, seconds in summary.workers.values())


def test_a_gpu_assignment_graded_without_a_cluster_says_so_in_one_line_and_is_graded(sampling, tmp_path):
    gpu_copy(sampling, tmp_path / "03-sampling-gpu")
    subs = submissions(tmp_path / "subs", {"alice": "correct"})
    out = tmp_path / "out"
    run = CliRunner().invoke(app, ["grade", str(tmp_path / "03-sampling-gpu"), str(subs), "--out", str(out), "-q"])
    assert run.exit_code == 0, run.output
    assert run.output.count("note: this assignment asks for a GPU ([limits] gpu = true): its kernels see this") == 1
    assert "alice: 12/12 (graded" in run.output
    assert not per_worker_lines(run.output)  # a local run's summary has no line per worker


class KillAtFirstResult:
    """An observer that kills worker ``name`` (its whole process group) when the first result arrives."""

    def __init__(self, dask, name: str):
        self.dask, self.name, self.killed = dask, name, False

    def start(self, total: int, skipped: int) -> None:
        pass

    def done(self, result: SubmissionResult) -> None:
        if not self.killed:
            self.dask.kill(self.name)
            self.killed = True


def test_when_the_only_gpu_worker_dies_mid_run_the_run_says_it_waits_and_goes_on_with_the_next(
    dask, sampling, sampling_plan, tmp_path
):
    gpu_sampling = gpu_copy(sampling, tmp_path / "03-sampling-gpu")
    gpu_plan = dataclasses.replace(sampling_plan, limits=gpu_sampling.spec.limits)
    names = {f"s{i}": example for i, example in enumerate(BATCH)}
    subs = submissions(tmp_path / "subs", names)
    dask.scheduler()
    dask.worker("cpu")
    dask.grader_worker("gpu1", gpus=1)
    first = dask.wait_for_workers(2)["gpu1"]
    said: list[str] = []
    joining = start_when_said(dask, said, "waiting for a worker with a GPU", lambda: dask.grader_worker("gpu2", gpus=1))
    killer = KillAtFirstResult(dask, "gpu1")

    summary = grade(gpu_sampling, gpu_plan, subs, tmp_path / "out", dask.address, observer=killer, said=said)
    joining.join()

    second = dask.wait_for_workers(2)["gpu2"]
    assert killer.killed and len([s for s in said if s.startswith("waiting for a worker with a GPU")]) == 1
    assert summary.graded_now == len(names) and attempts(tmp_path / "out") == dict.fromkeys(names, 1)
    by = {SubmissionResult.load(tmp_path / "out" / "results" / f"{s}.json").provenance["worker"] for s in names}
    assert second in by and by <= {first, second}
