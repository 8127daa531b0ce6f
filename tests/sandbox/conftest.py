"""Real kernels in real sandboxes: a launcher per session, a shared kernel for read-only probes, fresh ones
for tests that break theirs. Everything skips (with the reason) where the sandbox cannot run."""

from __future__ import annotations

import asyncio
import json
import os
import queue
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.assignment.spec import Limits
from grader.sandbox.bubblewrap import BubblewrapLauncher, available
from grader.sandbox.launcher import RunDir
from grader.sandbox.zygote.launcher import ZygoteLauncher

SECRET_ENV = ("GRADER_TEST_SECRET_TOKEN", "s3cret-do-not-leak")
SHARED_SLOT, FRESH_SLOT = 0, 1
# Every sandbox test runs with both ways of starting a kernel: forked from the zygote (the default) and plain.
LAUNCHERS = {"zygote": ZygoteLauncher, "bubblewrap": BubblewrapLauncher}


def make_launcher(kind: str, **kwargs) -> BubblewrapLauncher:
    return LAUNCHERS[kind](**kwargs)


def close_launcher(launcher) -> None:
    if hasattr(launcher, "close"):
        launcher.close()


@pytest.fixture(scope="session", autouse=True)
def _needs_sandbox():
    ok, why = available()
    if not ok:
        pytest.skip(f"bubblewrap sandbox unavailable: {why}")


@dataclass
class Result:
    status: str  # "ok", "error" or "dead"
    stdout: str = ""
    ename: str | None = None

    def json(self):
        assert self.status == "ok", f"cell failed: {self}"
        return json.loads(self.stdout.strip().splitlines()[-1])


class Kernel:
    """A kernel started through a launcher, driven synchronously on its own event loop."""

    def __init__(self, launcher, run: RunDir, limits: Limits, slot: int):
        self.launcher, self.run_dir, self.limits, self.slot = launcher, run, limits, slot
        self.loop = asyncio.new_event_loop()
        self.km = self.kc = None

    def start(self, env: dict | None = None) -> Kernel:
        self.loop.run_until_complete(self._start(env))
        return self

    async def _start(self, env):
        self.km = self.launcher.kernel_manager(self.run_dir, self.limits, self.slot)
        env = env or self.launcher.kernel_env(self.run_dir)
        await self.km.start_kernel(cwd=str(self.run_dir.work), env=env)
        self.kc = self.km.client()
        self.kc.start_channels()
        await self.kc.wait_for_ready(timeout=60)

    def run(self, code: str, timeout: float = 60) -> Result:
        return self.loop.run_until_complete(asyncio.wait_for(self._run(code), timeout))

    def value(self, expr: str, setup: str = "import os", timeout: float = 60):
        """Run ``setup``, then return the JSON value of ``expr`` as the kernel computed it."""
        return self.run(f"{setup}\nimport json as _json\nprint(_json.dumps({expr}))", timeout).json()

    def submit(self, code: str) -> str:
        return self.kc.execute(code)

    def wait(self, msg_id: str, timeout: float = 60) -> Result:
        return self.loop.run_until_complete(asyncio.wait_for(self._collect(msg_id), timeout))

    async def _run(self, code: str) -> Result:
        return await self._collect(self.kc.execute(code))

    async def _collect(self, msg_id: str) -> Result:
        out, ename = [], None
        while True:
            try:
                msg = await self.kc.get_iopub_msg(timeout=0.5)
            except queue.Empty:
                if not await self.km.is_alive():
                    return Result("dead", "".join(out), ename)
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream" and content["name"] == "stdout":
                out.append(content["text"])
            elif kind == "error":
                ename = content["ename"]
            elif kind == "status" and content["execution_state"] == "idle":
                return Result("error" if ename else "ok", "".join(out), ename)

    def interrupt(self) -> None:
        self.loop.run_until_complete(self.km.interrupt_kernel())

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        if self.km is not None:
            if self.kc is not None:
                self.kc.stop_channels()
            self.loop.run_until_complete(self.km.shutdown_kernel(now=True))
        self.launcher.after_kernel(self.run_dir, self.slot)
        self.loop.close()


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
    close_launcher(launcher)


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
