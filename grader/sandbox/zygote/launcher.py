"""Fast kernel start: sandboxed kernels forked from a zygote that imported torch once
(see :mod:`grader.sandbox.zygote.server`).

:class:`ZygoteLauncher` is a :class:`~grader.sandbox.bubblewrap.BubblewrapLauncher` (same slots, uids, cgroups, limits,
filesystem, clean-up after each kernel) whose kernels are forked instead of started: 0.5 s instead of 2+ s
of interpreter start and ``import torch`` per submission. jupyter_client drives them through
:class:`ZygoteProvisioner`, a ``LocalProvisioner`` whose process is a pidfd instead of a ``Popen``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner

from grader.assignment.spec import Limits
from grader.errors import SandboxUnavailable
from grader.sandbox.bubblewrap import BubblewrapLauncher, rlimits
from grader.sandbox.filesystem import ANYONE, IPC_DIR, SHM_MB, TMP_MB, WORK_DIR, filesystem_args, write_etc
from grader.sandbox.launcher import KERNEL_ENV, RunDir, ipc_kernel_manager
from grader.sandbox.zygote import server as zygote

log = logging.getLogger(__name__)

ZYGOTE_START_TIMEOUT_S = 120.0  # importing torch + transformers on a busy 2-core machine
SPAWN_TIMEOUT_S = zygote.KERNEL_READY_TIMEOUT_S + 10
DEFAULT_PRELOAD = ("torch",)


class ZygoteClient:
    """The grader's end of one zygote process: start it, ask it for kernels, stop it."""

    def __init__(self, template: list[str], preload: Sequence[str], models: Sequence[str] = ()):
        """Start the zygote; it imports (and loads ``models``, folders as kernels see them) in the background
        until :meth:`wait_ready`."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # Thread counts must be set before torch is imported; nothing else of the grader's environment goes in.
        env = {**KERNEL_ENV, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "grader.sandbox.zygote.server", str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd="/",
        )
        theirs.close()
        self._sock, self._lock, self._ready = ours, threading.Lock(), False
        self.preloaded: list[str] = []
        self.warm_up_errors: dict[str, str] = {}
        self.start_seconds = 0.0
        try:
            zygote.send(ours, {"template": template, "preload": list(preload), "models": list(models)})
        except OSError:
            pass  # it died at once: wait_ready says why

    def wait_ready(self) -> None:
        """Block until the zygote has imported everything; :class:`SandboxUnavailable` if it failed."""
        with self._lock:
            if self._ready:
                return
            try:
                reply, _ = zygote.receive(self._sock, ZYGOTE_START_TIMEOUT_S)
            except (OSError, EOFError, TimeoutError, ValueError) as exc:
                reply = {"error": str(exc)}
            if "error" in reply:
                self.close()
                raise SandboxUnavailable(f"zygote did not start: {reply['error']}")
            self.preloaded, self.start_seconds, self._ready = reply["preloaded"], reply["seconds"], True
            self.warm_up_errors = reply.get("warm_up_errors", {})
            for folder, error in self.warm_up_errors.items():  # only costs speed: each kernel's first load is slower
                log.warning("zygote: could not warm up %s: %s", folder, error)

    def spawn(self, request: dict) -> tuple[int, int]:
        """A new kernel for ``request``: (host pid of its monitor process, a pidfd of it)."""
        self.wait_ready()
        with self._lock:
            try:
                zygote.send(self._sock, request)
                reply, fds = zygote.receive(self._sock, SPAWN_TIMEOUT_S)
            except (OSError, EOFError, TimeoutError) as exc:
                raise SandboxUnavailable(f"zygote: {exc}") from None
        if "error" in reply:
            for fd in fds:
                os.close(fd)
            raise SandboxUnavailable(f"zygote: {reply['error']}")
        return reply["pid"], fds[0]

    def alive(self) -> bool:
        return self._process.poll() is None

    def close(self) -> None:
        self._sock.close()
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()


class _DeadZygote:
    """Stands in for a zygote that could not be restarted: every kernel after it starts plainly."""

    def alive(self) -> bool:
        return True

    def close(self) -> None:
        pass


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


class ZygoteKernelManager(AsyncKernelManager):
    """An ``AsyncKernelManager`` whose kernel is forked by ``client`` from ``request``
    (see :mod:`grader.sandbox.zygote.server`)."""

    def __init__(self, *, client: ZygoteClient, request: dict, uid: int, **kwargs):
        super().__init__(**kwargs)
        self._client, self._request, self._uid = client, request, uid

    async def _async_pre_start_kernel(self, **kw):
        if self.provisioner is None:
            self.kernel_id = self.kernel_id or str(uuid.uuid4())
            self.provisioner = ZygoteProvisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self)
        return await super()._async_pre_start_kernel(**kw)

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

    async def _async_wait(self, pollinterval: float = 0.1) -> None:
        if isinstance(self.provisioner, ZygoteProvisioner):
            await self.provisioner.exited()
        await super()._async_wait(pollinterval)

    async def _async_interrupt_kernel(self) -> None:
        """SIGINT to the kernel's process group; the monitor ignores it (``LocalProvisioner.send_signal``)."""
        if self.has_kernel and self.kernel_spec.interrupt_mode == "signal":
            await self.provisioner.send_signal(signal.SIGINT)
            return
        await super()._async_interrupt_kernel()

    interrupt_kernel = _async_interrupt_kernel


class ZygoteLauncher(BubblewrapLauncher):
    """Sandboxed kernels forked from a zygote; raises :class:`SandboxUnavailable` if the zygote cannot start.

    ``preload`` names the modules the zygote imports besides torch and ipykernel (e.g. ``transformers``); with
    transformers among them, it also loads each asset folder that holds a ``config.json`` once, as kernels do.
    With ``wait=False`` the zygote imports in the background: call :meth:`wait_ready` before the first kernel.
    Call :meth:`close` (or use as a context manager) to stop the zygote.
    """

    name = "zygote"

    def __init__(
        self,
        assets: Mapping[str, Path] | None = None,
        uid_base: int = 61000,
        cgroup_parent: str | None = None,
        preload: Sequence[str] = DEFAULT_PRELOAD,
        wait: bool = True,
    ):
        super().__init__(assets, uid_base, cgroup_parent)
        self._etc = write_etc(Path(tempfile.mkdtemp(prefix="grader-zygote-etc-")), ANYONE)
        self._etc.chmod(0o755)
        self._preload = list(preload)
        self._client = self._start_zygote()
        if wait:
            self.wait_ready()

    def wait_ready(self) -> None:
        """Wait until the zygote has imported everything; :class:`SandboxUnavailable` (and closed) if it failed."""
        try:
            self._client.wait_ready()
        except SandboxUnavailable:
            self.close()
            raise

    @property
    def preloaded(self) -> list[str]:
        return self._client.preloaded

    @property
    def start_seconds(self) -> float:
        """How long the zygote took to import everything (once ready)."""
        return self._client.start_seconds

    @property
    def warm_up_errors(self) -> dict[str, str]:
        """Model folders the zygote could not load once (their kernels' first load is just slower)."""
        return self._client.warm_up_errors

    def _start_zygote(self) -> ZygoteClient:
        models = [
            self.asset_path(name, path)
            for name, path in self.assets.items()
            if "transformers" in self._preload and (path / "config.json").is_file()
        ]
        return ZygoteClient(["bwrap", *filesystem_args(self.assets, self._etc)], self._preload, models)

    def kernel_manager(self, run: RunDir, limits: Limits, slot: int) -> AsyncKernelManager:
        """A forked kernel; if the zygote died (e.g. killed from outside) a new one is started, and if that
        fails too, this kernel starts plainly (:class:`BubblewrapLauncher`) and :attr:`notices` says why."""
        if not self._client.alive():
            self._client.close()
            try:
                self._client = self._start_zygote()
                self.notices.append("the zygote had died and was restarted")
            except SandboxUnavailable as exc:
                self.notices.append(f"the zygote died and could not be restarted ({exc}): kernels start plainly")
                log.warning("sandbox: %s", self.notices[-1])
                self._client = _DeadZygote()
        if isinstance(self._client, _DeadZygote):
            return super().kernel_manager(run, limits, slot)
        # the monitor (root) and init (slot uid) share the slot cgroup with the submission
        uid, procs_files = self._prepare_slot(run, limits, slot, wrapper_tasks=2)
        etc = run.root / "sandbox-etc"
        request = {
            "uid": uid,
            "cgroup_procs": procs_files,
            "mounts": {
                WORK_DIR: str(run.work),
                IPC_DIR: str(run.ipc),
                **{f"/etc/{f}": str(etc / f) for f in ("passwd", "group")},
            },
            "rlimits": rlimits(limits, bool(procs_files), wrappers_in_uid=1),
            "block_user_namespaces": self.nested_userns,
            "env": self.kernel_env(run),
            "cwd": WORK_DIR,
            "tmp_bytes": TMP_MB << 20,
            "shm_bytes": SHM_MB << 20,
        }
        return ipc_kernel_manager(run, ZygoteKernelManager, client=self._client, request=request, uid=uid)

    def close(self) -> None:
        self._client.close()
        shutil.rmtree(self._etc, ignore_errors=True)

    def __enter__(self) -> ZygoteLauncher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
