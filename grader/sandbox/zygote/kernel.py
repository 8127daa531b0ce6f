"""How jupyter_client drives a forked kernel: a provisioner whose process is a pidfd instead of a ``Popen``.

:class:`ZygoteKernelManager` asks its :class:`~grader.sandbox.zygote.client.ZygoteClient` for the kernel;
everything else (signals, polling, clean-up) is jupyter_client's ``LocalProvisioner`` on a :class:`ForkedKernel`.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import uuid
from pathlib import Path

from jupyter_client.provisioning import LocalProvisioner

from grader.compat.jupyter_client import HookedKernelManager
from grader.sandbox.filesystem import IPC_DIR, WORK_DIR
from grader.sandbox.zygote.client import ZygoteClient


class ForkedKernel:
    """The ``Popen`` look-alike jupyter_client's ``LocalProvisioner`` keeps for a forked kernel (a pidfd)."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int, pidfd: int):
        self.pid, self._pidfd, self.returncode = pid, pidfd, None

    def fileno(self) -> int | None:
        """The pidfd (readable once the process has exited), or None once it has been seen to exit."""
        return self._pidfd if self.returncode is None else None

    def poll(self) -> int | None:
        if self.returncode is None and select.select([self._pidfd], [], [], 0)[0]:
            self.returncode = -signal.SIGKILL  # not our child: the exit status is the zygote's to reap
            os.close(self._pidfd)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        if self.returncode is None:
            select.select([self._pidfd], [], [], timeout)
        return self.poll()

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            try:
                signal.pidfd_send_signal(self._pidfd, signum)
            except ProcessLookupError:  # exited since the poll: as Popen.send_signal, nothing to do
                pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


class ZygoteProvisioner(LocalProvisioner):
    """Launches by asking the zygote; everything else (signals, polling, clean-up) is ``LocalProvisioner``'s."""

    async def exited(self) -> None:
        """Return once the kernel has exited: at once, on its pidfd (jupyter_client polls every 0.1 s)."""
        fd = self.process.fileno() if self.process is not None else None
        if fd is None:
            return
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        loop.add_reader(fd, lambda: done.done() or done.set_result(None))
        try:
            await done
        finally:
            loop.remove_reader(fd)

    async def wait(self) -> int | None:
        await self.exited()
        return await super().wait()

    async def launch_kernel(self, cmd: list[str], **kwargs):
        km = self.parent
        pid, pidfd = await asyncio.to_thread(km.spawn_kernel)
        self.process, self.pid, self.pgid = ForkedKernel(pid, pidfd), pid, pid  # the monitor leads its session
        self.cwd = WORK_DIR
        return self.connection_info


class ZygoteKernelManager(HookedKernelManager):
    """An ``AsyncKernelManager`` whose kernel is forked by ``client`` from ``request``
    (see :mod:`grader.sandbox.zygote.server`)."""

    def __init__(self, *, client: ZygoteClient, request: dict, uid: int, **kwargs):
        super().__init__(**kwargs)
        self._client, self._request, self._uid = client, request, uid

    def make_provisioner(self) -> ZygoteProvisioner:
        self.kernel_id = self.kernel_id or str(uuid.uuid4())
        return ZygoteProvisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self)

    def spawn_kernel(self) -> tuple[int, int]:
        """Write the kernel's own connection file (its sockets are under /ipc) and ask the zygote for it."""
        info = dict(self.get_connection_info(session=False))
        info["ip"] = f"{IPC_DIR}/{Path(self.ip).name}"
        info = {key: value.decode() if isinstance(value, bytes) else value for key, value in info.items()}
        path = Path(self.connection_file).with_name("kernel-sandbox.json")
        # The ipc folder is the kernel's: after a restart an earlier kernel may have planted a symlink or FIFO
        # here. None of its processes is alive now (the slot uid was swept), so remove and create anew.
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as file:
            json.dump(info, file)
        os.chown(path, self._uid, self._uid)
        return self._client.spawn({**self._request, "connection_file": f"{IPC_DIR}/{path.name}"})

    async def before_wait(self) -> None:
        if isinstance(self.provisioner, ZygoteProvisioner):
            await self.provisioner.exited()

    async def interrupt_sandboxed(self) -> bool:
        """SIGINT to the kernel's process group; the monitor ignores it (``LocalProvisioner.send_signal``)."""
        if self.has_kernel and self.kernel_spec.interrupt_mode == "signal":
            await self.provisioner.send_signal(signal.SIGINT)
            return True
        return False
