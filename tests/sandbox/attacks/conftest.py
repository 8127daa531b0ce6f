"""The attacks' fixtures, one of each per package run: the ``mini`` assignment (its assignment.toml carries the
secret), its plan with tight limits, a sandbox per launcher kind, and secrets planted where a student would look."""

from __future__ import annotations

import dataclasses
import os
import uuid
from pathlib import Path

import pytest

from grader.assignment.groundtruth import build_plan
from grader.assignment.spec import load_assignment
from grader.sandbox.bubblewrap import BubblewrapLauncher
from tests.helpers import GREEDY, MINI_SPEC, REPO, SOFTMAX, notebook
from tests.sandbox.attacks.helpers import LIMITS, SECRET
from tests.sandbox.helpers import LAUNCHERS, make_launcher


@pytest.fixture(scope="package")
def assignment_folder(tmp_path_factory) -> Path:
    """The mini assignment; its assignment.toml carries the secret in a comment."""
    folder = tmp_path_factory.mktemp("mini-adv")
    (folder / "assignment.toml").write_text(f"# {SECRET}\n{MINI_SPEC}")
    notebook(folder, "mini", GREEDY, SOFTMAX)
    return folder


@pytest.fixture(scope="package")
def plan(assignment_folder):
    return dataclasses.replace(build_plan(load_assignment(assignment_folder)), limits=LIMITS)


@pytest.fixture(scope="package", params=list(LAUNCHERS))
def sandbox(request, plan) -> BubblewrapLauncher:
    # Uids apart from the default 61000.. and from tests/sandbox/conftest.py's 62000.., so parallel graders are
    # not disturbed.
    launcher = make_launcher(request.param, assets=plan.assets, uid_base=63000 + 16 * (os.getpid() % 64))
    yield launcher
    launcher.close()


@pytest.fixture(scope="package")
def secret_files(plan, tmp_path_factory):
    """The secret planted where a student would look: the repository, a tmp folder, the assignment folder."""
    (REPO / ".cache").mkdir(exist_ok=True)  # git-ignored: a broad `git add` elsewhere never picks it up
    in_repo = REPO / ".cache" / f"secret-adv-{uuid.uuid4().hex[:8]}.txt"
    in_tmp = tmp_path_factory.mktemp("hidden") / "secret.txt"
    for path in (in_repo, in_tmp):
        path.write_text(SECRET)
        path.chmod(0o644)  # readable by anyone: only the sandbox keeps the student out
    yield [in_repo, in_tmp]
    in_repo.unlink(missing_ok=True)
