"""Workers that may not grade are refused, named, and get no work: one with another version of the grader (its
own copy on its PYTHONPATH, one file changed), one from before grading on a cluster, and one that cannot sandbox
(not root: bubblewrap needs root), unless the run says --no-sandbox: then it grades, as local grading does."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from grader.authoring.examples import expected_points
from grader.batch.intake import load_submissions
from grader.batch.run import grade_batch
from grader.cluster.facts import code_digest
from grader.errors import GraderError
from grader.grading.results import SubmissionResult
from grader.sandbox.launcher import LocalLauncher
from tests.cluster.conftest import grade, submissions
from tests.cluster.test_grading import expected, points
from tests.helpers import REPO

pytestmark = pytest.mark.slow
NOBODY = 65534


def other_version(folder, cluster: bool = True):
    """A copy of this grader with one line added: another version, as a worker not updated would run; without
    ``cluster``, one from before grading on a cluster."""
    for package in ("grader", "reference"):
        shutil.copytree(REPO / package, folder / package, ignore=shutil.ignore_patterns("__pycache__"))
    with open(folder / "grader" / "errors.py", "a") as f:
        f.write("# another version\n")
    if not cluster:  # as an old grader has it: no grader.cluster. Deleting the folder is not enough where this
        # environment has the repository installed editable: its finder would supply the repository's grader.cluster
        shutil.rmtree(folder / "grader" / "cluster")
        (folder / "grader" / "cluster").mkdir()
        (folder / "grader" / "cluster" / "__init__.py").write_text(
            'raise ModuleNotFoundError("No module named \'grader.cluster\'", name="grader.cluster")\n'
        )
    return folder


def test_refused_workers_are_named_with_why_and_never_grade(dask, sampling, sampling_plan, tmp_path):
    subs = submissions(tmp_path / "subs", {"alice": "correct", "bob": "hello_world"})
    out = tmp_path / "out"
    dask.scheduler()
    dask.worker("old", pythonpath=other_version(tmp_path / "other"))
    dask.worker("nobody", user=NOBODY)
    dask.worker("ancient", pythonpath=other_version(tmp_path / "ancient", cluster=False))
    workers = dask.wait_for_workers(3)

    with pytest.raises(GraderError) as refused:
        grade(sampling, sampling_plan, subs, out, dask.address, said=[])
    message = str(refused.value)
    assert message.startswith(f"no worker of {dask.address} may grade: ")
    assert f"worker {workers['old']}: another version: grader code " in message
    assert f" here, {code_digest()} on the orchestrator" in message
    assert f"worker {workers['nobody']}: cannot sandbox submissions (must run as root" in message
    assert "or grade with --no-sandbox" in message
    assert f"worker {workers['ancient']}: cannot run the grader's plugin (No module named 'grader.cluster')" in message

    dask.worker("good")  # a worker that may grade joins: it grades the class, the others still nothing
    workers = dask.wait_for_workers(4)
    said = []
    summary = grade(sampling, sampling_plan, subs, out, dask.address, said=said)

    assert summary.graded_now == 2
    for student in ("alice", "bob"):
        assert SubmissionResult.load(out / "results" / f"{student}.json").provenance["worker"] == workers["good"]
    assert any(line.startswith(f"worker {workers['old']}: another version: grader code ") for line in said)
    assert any(line.startswith(f"worker {workers['nobody']}: cannot sandbox submissions") for line in said)
    assert any(line.startswith(f"worker {workers['good']}: 1 slot(s); sandbox: bubblewrap") for line in said)


def test_a_worker_without_the_sandbox_grades_a_no_sandbox_run_as_local_grading_does(
    dask, sampling, sampling_plan, tmp_path
):
    names = {"alice": "correct", "bob": "bug_greedy_float", "carol": "hello_world"}
    subs = submissions(tmp_path / "subs", names)
    dask.scheduler()
    dask.worker("nobody", user=NOBODY)  # not root: no bubblewrap here
    worker = dask.wait_for_workers(1)["nobody"]

    with pytest.raises(GraderError, match=f"worker {worker}: cannot sandbox submissions"):
        grade(sampling, sampling_plan, subs, tmp_path / "refused", dask.address, said=[])
    said = []
    summary = grade(sampling, sampling_plan, subs, tmp_path / "out", dask.address, said=said, sandbox=False)
    intake = load_submissions(subs, "sampling.ipynb", tmp_path / "unpacked")
    local = asyncio.run(grade_batch(sampling_plan, intake, tmp_path / "local", LocalLauncher()))  # local --no-sandbox

    assert summary.graded_now == local.graded_now == len(names)
    assert f"worker {worker}: 1 slot(s); no sandbox (must run as root" in " ".join(said)
    table = expected_points(sampling)
    for student, example in names.items():
        there = SubmissionResult.load(tmp_path / "out" / "results" / f"{student}.json")
        here = SubmissionResult.load(tmp_path / "local" / "results" / f"{student}.json")
        assert (there.provenance["worker"], there.isolation, here.isolation) == (worker, "local", "local")
        assert there.status == here.status and points(there) == points(here) == expected(sampling_plan, example, table)
