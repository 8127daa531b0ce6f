"""The cluster tests' fixtures: 03-sampling's plan (built once), a folder of its example submissions, and grading
a folder on a cluster as ``grader grade --cluster`` does, through the library."""

from __future__ import annotations

import asyncio
import shutil
from functools import partial
from pathlib import Path

import pytest

from grader.assignment.groundtruth import build_plan
from grader.assignment.gtkey import groundtruth_key
from grader.assignment.gtsources import cache_folder
from grader.assignment.manual import manual_questions
from grader.assignment.spec import load_assignment
from grader.batch.intake import load_submissions
from grader.batch.run import BatchSettings, BatchSummary, open_batch, spec_info
from grader.cluster.run import ClusterSettings, grade_on_cluster
from tests.cluster.processes import DaskProcesses
from tests.helpers import REPO

SAMPLING = REPO / "assignments" / "03-sampling"
EXAMPLES = SAMPLING / "examples"


@pytest.fixture(scope="session")
def sampling():
    return load_assignment(SAMPLING)


@pytest.fixture(scope="session")
def sampling_plan(sampling, tmp_path_factory):
    return build_plan(sampling, cache_dir=tmp_path_factory.mktemp("groundtruth"))


@pytest.fixture
def dask(tmp_path):
    with DaskProcesses(tmp_path) as processes:
        yield processes


def submissions(folder: Path, names: dict[str, str]) -> Path:
    """``folder`` with ``<student id>.ipynb`` copies of the examples: {student id: example name}."""
    folder.mkdir()
    for student, example in names.items():
        shutil.copy(EXAMPLES / f"{example}.ipynb", folder / f"{student}.ipynb")
    return folder


def grade(
    assignment, plan, subs: Path, out: Path, address: str, observer=None, said=None, sandbox: bool = True
) -> BatchSummary:
    """What ``grader grade SUBS --out OUT --cluster ADDRESS [--no-sandbox]`` does, with ``plan`` built beforehand."""
    intake = load_submissions(subs, "sampling.ipynb", out / "unpacked")
    groundtruth = partial(groundtruth_key, assignment, cache_folder(out))
    batch = open_batch(spec_info(assignment), groundtruth, intake, out, BatchSettings(), manual_questions(assignment))
    say = said.append if said is not None else print
    with batch:
        settings = ClusterSettings(address, require_sandbox=sandbox)
        return asyncio.run(grade_on_cluster(batch, assignment, plan, settings, observer, say))
