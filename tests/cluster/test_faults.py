"""Faults on a real cluster: a worker killed mid-batch costs nothing (each submission is graded and recorded once);
a submission whose workers die twice is that student's error and the batch goes on; a lost scheduler stops the run
with one line, keeps what was committed, and the rerun grades the rest once; so does the rerun of a killed
orchestrator."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import nbformat
import pytest
from distributed import Client

from grader.authoring.examples import expected_points
from grader.errors import GraderError
from grader.grading.results import SubmissionResult
from tests.cluster.conftest import EXAMPLES, SAMPLING, grade, submissions
from tests.cluster.processes import STARTUP_S
from tests.cluster.test_grading import attempts, expected, points
from tests.helpers import REPO

pytestmark = pytest.mark.slow
BATCH = [
    "correct",
    "bug_greedy_float",
    "missing_beam_search",
    "hello_world",
    "correct_inverse_cdf",
    "bug_top_p_exclusive",
]


class KillAtFirstResult:
    """An observer that kills (SIGKILL, its whole process group) the worker that did not send the first result:
    it is grading a submission of its own at that moment (every slot is busy while tasks wait)."""

    def __init__(self, dask, workers: dict[str, str]):
        self.dask, self.workers, self.killed = dask, workers, ""

    def start(self, total: int, skipped: int) -> None:
        pass

    def done(self, result: SubmissionResult) -> None:
        if not self.killed:
            victim = next(name for name, address in self.workers.items() if address != result.provenance["worker"])
            self.dask.kill(victim)
            self.killed = self.workers[victim]


def test_a_worker_killed_mid_batch_loses_nothing_and_records_each_once(dask, sampling, sampling_plan, tmp_path):
    names = {f"s{i}": example for i, example in enumerate(BATCH * 2)}
    subs = submissions(tmp_path / "subs", names)
    dask.scheduler()
    dask.worker("w1")
    dask.worker("w2")
    killer = KillAtFirstResult(dask, dask.wait_for_workers(2))
    out = tmp_path / "out"

    summary = grade(sampling, sampling_plan, subs, out, dask.address, observer=killer)

    assert killer.killed and summary.graded_now == len(names)
    assert attempts(out) == dict.fromkeys(names, 1)
    table = expected_points(sampling)
    graded_by = set()
    for student, example in names.items():
        result = SubmissionResult.load(out / "results" / f"{student}.json")
        assert result.status == "graded" and points(result) == expected(sampling_plan, example, table), student
        graded_by.add(result.provenance["worker"])
    assert graded_by == set(killer.workers.values()) - {killer.killed}  # its submission in flight was rerun too


def slow_notebook(folder) -> None:
    """03-sampling's correct notebook, with a first cell that sleeps (the worker grading it is killed meanwhile)."""
    nb = nbformat.read(EXAMPLES / "correct.ipynb", as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell("import time\ntime.sleep(25)"))
    nbformat.write(nb, folder / "slow.ipynb")


def kill_whoever_grades(dask, student: str, times: int, names: dict[str, str]) -> threading.Thread:
    """In a thread: ``times`` times, wait until a worker is grading ``student``, kill that worker."""

    def run() -> None:
        by_address = {address: name for name, address in names.items()}
        with Client(dask.address, timeout=STARTUP_S) as client:
            deadline = time.monotonic() + 5 * STARTUP_S
            for _ in range(times):
                while time.monotonic() < deadline:
                    busy = [w for w, keys in client.processing().items() if any(f"grade-{student}-" in k for k in keys)]
                    if (
                        busy
                        and by_address.get(busy[0]) in dask.procs
                        and dask.procs[by_address[busy[0]]].poll() is None
                    ):
                        dask.kill(by_address[busy[0]])
                        break
                    time.sleep(0.2)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_submission_whose_workers_die_twice_is_its_error_and_the_batch_goes_on(
    dask, sampling, sampling_plan, tmp_path
):
    subs = submissions(tmp_path / "subs", {"quick": "correct"})
    slow_notebook(subs)
    dask.scheduler()
    for name in ("w1", "w2", "w3"):
        dask.worker(name)
    killer = kill_whoever_grades(dask, "slow", 2, dask.wait_for_workers(3))
    out = tmp_path / "out"

    grade(sampling, sampling_plan, subs, out, dask.address)
    killer.join()

    slow = SubmissionResult.load(out / "results" / "slow.json")
    assert slow.status == "error" and "stopped its worker twice" in slow.message and slow.score == 0
    assert SubmissionResult.load(out / "results" / "quick.json").score == 12
    assert attempts(out) == {"quick": 1, "slow": 1}


class KillSchedulerAtFirstResult:
    def __init__(self, dask):
        self.dask, self.seen = dask, 0

    def start(self, total: int, skipped: int) -> None:
        pass

    def done(self, result: SubmissionResult) -> None:
        self.seen += 1
        if self.seen == 1:
            self.dask.kill("scheduler")


def test_a_lost_scheduler_stops_the_run_in_one_line_and_keeps_what_was_committed(
    dask, sampling, sampling_plan, tmp_path
):
    names = {f"s{i}": example for i, example in enumerate(BATCH)}
    subs = submissions(tmp_path / "subs", names)
    first = dask.scheduler()
    dask.worker("w1")
    dask.wait_for_workers(1)
    out = tmp_path / "out"

    with pytest.raises(GraderError) as gone:
        grade(sampling, sampling_plan, subs, out, first, observer=KillSchedulerAtFirstResult(dask))
    assert str(gone.value).startswith(f"the scheduler at {first} is gone")
    assert "\n" not in str(gone.value) and "rerun the same command" in str(gone.value)
    kept = attempts(out)
    assert kept and set(kept.values()) == {1} and len(kept) < len(names)

    dask.scheduler()  # a new scheduler and worker: the rerun grades only the rest, each once
    dask.worker("w2")
    dask.wait_for_workers(1)
    summary = grade(sampling, sampling_plan, subs, out, dask.address)
    assert summary.graded_now == len(names) - len(kept) and attempts(out) == dict.fromkeys(names, 1)


def test_the_orchestrator_killed_mid_batch_then_rerun_grades_each_once(dask, sampling, sampling_plan, tmp_path):
    names = {f"s{i}": example for i, example in enumerate(BATCH)}
    subs = submissions(tmp_path / "subs", names)
    dask.scheduler()
    dask.worker("w1")
    dask.worker("w2")
    dask.wait_for_workers(2)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "grader.cli", "grade", str(SAMPLING), str(subs), "--out", str(out)]
    command += ["--cluster", dask.address, "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    orchestrator = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    for line in orchestrator.stdout:  # --quiet: one line per committed result
        if line.startswith("s"):
            orchestrator.kill()
            break
    orchestrator.wait()
    kept = attempts(out)
    assert kept and set(kept.values()) == {1}

    summary = grade(sampling, sampling_plan, subs, out, dask.address)

    assert summary.graded_now == len(names) - len(kept) and attempts(out) == dict.fromkeys(names, 1)
    table = expected_points(sampling)
    for student, example in names.items():
        result = SubmissionResult.load(out / "results" / f"{student}.json")
        assert points(result) == expected(sampling_plan, example, table), student
