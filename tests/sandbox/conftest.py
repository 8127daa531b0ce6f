"""The sandbox tests' fixtures: a launcher per session (each kind), a shared kernel for read-only probes, fresh
ones for tests that break theirs. Everything skips (with the reason) where the sandbox cannot run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader.assignment.spec import Limits
from grader.sandbox.bubblewrap import BubblewrapLauncher, available
from grader.sandbox.launcher import RunDir
from tests.sandbox.helpers import FRESH_SLOT, LAUNCHERS, SECRET_ENV, SHARED_SLOT, Kernel, make_launcher


@pytest.fixture(scope="session", autouse=True)
def _needs_sandbox():
    ok, why = available()
    if not ok:
        pytest.skip(f"bubblewrap sandbox unavailable: {why}")


@pytest.fixture(scope="session")
def asset_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("course-lm")
    folder.chmod(0o755)  # assets must be readable by the sandbox uid
    (folder / "config.json").write_text('{"n_layer": 2}')
    return folder


@pytest.fixture(scope="session", params=list(LAUNCHERS))
def launcher(request, asset_dir) -> BubblewrapLauncher:
    # Uids apart from the default 61000.. so a grader run by someone else on this machine is not disturbed.
    launcher = make_launcher(request.param, assets={"course-lm": asset_dir}, uid_base=62000 + 16 * (os.getpid() % 64))
    yield launcher
    launcher.close()


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("hidden") / "hidden_cases.json"
    path.write_text('{"expected": 42}')
    return path


@pytest.fixture(scope="session")
def secret_env() -> tuple[str, str]:
    """A variable in the grader's environment that no kernel may see."""
    return SECRET_ENV


@pytest.fixture(scope="module")
def shared_kernel(launcher, secret_env, tmp_path_factory):
    """One kernel for probes that change nothing; the grader's env carries a secret it must not pass on."""
    run = RunDir(tmp_path_factory.mktemp("shared") / "run").create()
    assert run.calls.is_dir()  # RunDir.create prepares it before the kernel starts
    (run.work / "given.txt").write_text("input")
    kernel = Kernel(launcher, run, Limits(), SHARED_SLOT)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(*secret_env)
        try:
            kernel.start(env=dict(os.environ))  # worst case: the caller hands over its whole env
        except BaseException:
            kernel.stop()
            raise
    yield kernel
    kernel.stop()


@pytest.fixture
def fresh_kernel(launcher, tmp_path):
    """``fresh_kernel(limits, other_launcher, slot)`` starts a kernel; all are stopped after the test."""
    started = []

    def start(limits: Limits | None = None, other_launcher=None, slot: int = FRESH_SLOT) -> Kernel:
        run = RunDir(tmp_path / f"run{len(started)}").create()
        kernel = Kernel(other_launcher or launcher, run, limits or Limits(), slot)
        started.append(kernel)
        return kernel.start()

    yield start
    for kernel in started:
        kernel.stop()
