"""Real kernels in real sandboxes, driven by hand: the two launchers every sandbox test runs with, and a
:class:`Kernel` that runs code and returns what it printed."""

from __future__ import annotations

import asyncio
import json
import queue
from dataclasses import dataclass

from grader.assignment.spec import Limits
from grader.sandbox.bubblewrap import BubblewrapLauncher
from grader.sandbox.launcher import RunDir
from grader.sandbox.zygote.launcher import ZygoteLauncher

SECRET_ENV = ("GRADER_TEST_SECRET_TOKEN", "s3cret-do-not-leak")
SHARED_SLOT, FRESH_SLOT = 0, 1
# Every sandbox test runs with both ways of starting a kernel: forked from the zygote (the default) and plain.
LAUNCHERS = {"zygote": ZygoteLauncher, "bubblewrap": BubblewrapLauncher}


def make_launcher(kind: str, **kwargs) -> BubblewrapLauncher:
    return LAUNCHERS[kind](**kwargs)


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

    def wait_for_output(self, msg_id: str, text: str, timeout: float = 60) -> None:
        """Return once the cell ``msg_id`` has printed ``text`` (it is running); its other output is dropped."""
        self.loop.run_until_complete(asyncio.wait_for(self._until_printed(msg_id, text), timeout))

    async def _until_printed(self, msg_id: str, text: str) -> None:
        printed = ""
        while text not in printed:
            msg = await self.kc.get_iopub_msg()
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "stream":
                printed += msg["content"]["text"]

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
