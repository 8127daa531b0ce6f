"""Starting the Jupyter kernel a submission runs in: the one place isolation plugs in.

A :class:`Launcher` turns a per-submission :class:`RunDir` into a ``jupyter_client`` kernel manager.
:class:`LocalLauncher` starts a plain local kernel (a student's laptop, ``--no-sandbox``);
``grader.sandbox.bubblewrap`` provides launchers that wrap the same kernel command in OS isolation.

Whatever the launcher, the kernel
- talks over ZMQ's ``ipc`` transport (unix sockets in ``run.ipc``), which also crosses network namespaces;
- starts in ``run.work``, the only folder it may write besides its private /tmp;
- gets a scrubbed environment with one thread per numeric library (parallel kernels with torch's
  default thread pools ran several times slower on a 2-core machine, as measured when this was built);
- sees each asset (e.g. the course model folder) at ``launcher.asset_path(name, host_path)``.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from jupyter_client.manager import AsyncKernelManager

if TYPE_CHECKING:  # annotations only: importing the spec imports torch, which would delay the zygote's start
    from grader.assignment.spec import Limits


log = logging.getLogger(__name__)

# Environment every kernel gets, sandboxed or not. Nothing from the grader's own environment leaks in.
KERNEL_ENV = {
    "LANG": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "MPLBACKEND": "Agg",
    "LLM_GRADER_GRADING": "1",  # grader.check() in a notebook is a no-op while the grader runs it
}


@dataclass(frozen=True)
class RunDir:
    """The folders of one submission's run: ``work`` (kernel cwd, notebook copy, call files) and ``ipc``."""

    root: Path

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def ipc(self) -> Path:
        return self.root / "ipc"

    @property
    def calls(self) -> Path:
        """Where the per-call input/output folders go; created by the grader before the kernel starts,
        so the kernel cannot put a symlink in its place."""
        return self.work / "io"

    def create(self, disk_mb: int | None = None) -> RunDir:
        """Make the folders. With ``disk_mb`` (sandboxed grading, as root on Linux), ``work`` and ``calls`` are
        each a tmpfs of that size: a submission that writes many files, each under its size limit, fills its
        own folder, not the host's disk, and cannot keep the grader from writing the calls' inputs (tmpfs pages
        also count against the submission's memory cgroup)."""
        self.work.mkdir(parents=True, exist_ok=True, mode=0o700)
        _size_capped(self.work, disk_mb)
        for folder in (self.ipc, self.calls):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        _size_capped(self.calls, disk_mb)
        self.calls.chmod(0o755)
        return self

    def remove(self) -> None:
        for folder in (self.calls, self.work):
            if os.path.ismount(folder):
                from grader.sandbox import linux

                linux.umount(str(folder), linux.MNT_DETACH)  # detached even if a leftover process holds a file
        shutil.rmtree(self.root, ignore_errors=True)  # rmtree does not follow symlinks planted inside


def _size_capped(folder: Path, size_mb: int | None) -> None:
    """Mount a tmpfs of ``size_mb`` on ``folder`` (root on Linux only; elsewhere nothing)."""
    if not size_mb or sys.platform != "linux" or os.geteuid() != 0:
        return
    from grader.sandbox import linux

    try:
        linux.mount("tmpfs", str(folder), "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, f"size={size_mb}m,mode=700")
    except OSError as exc:  # e.g. a container without CAP_SYS_ADMIN: only RLIMIT_FSIZE per file is left
        log.warning("sandbox: %s is not size-capped (%s)", folder.name, exc)


class Launcher(Protocol):
    """Makes kernel managers for submissions: everything grading asks of a way of starting kernels.

    ``name`` is recorded with each result; ``isolated`` says whether student code is contained; ``notices``
    collects what went wrong in the launcher itself during a run (e.g. a zygote that had to be restarted).
    """

    name: str
    isolated: bool
    notices: list[str]

    def kernel_manager(self, run: RunDir, limits: Limits, slot: int) -> AsyncKernelManager:
        """A manager for the kernel of slot ``slot``, running in ``run`` under ``limits``."""

    def kernel_env(self, run: RunDir) -> dict[str, str]:
        """The kernel's whole environment."""

    def asset_path(self, name: str, host_path: Path) -> str:
        """Where the kernel sees the asset ``name`` (at ``host_path`` on the host)."""

    def after_kernel(self, run: RunDir, slot: int) -> None:
        """Called when a submission's kernel is gone: make sure nothing it started survives."""

    def oom_killed(self, slot: int) -> bool:
        """Whether the slot's latest kernel was killed for using more memory than its limit."""

    def close(self) -> None:
        """Stop whatever the launcher runs besides kernels (a zygote); it makes no kernel afterwards."""


def ipc_kernel_manager(run: RunDir, manager: type[AsyncKernelManager] = AsyncKernelManager, **kwargs):
    """A ``manager`` for the venv's own ``python3`` kernel over ``ipc`` sockets in ``run.ipc``."""
    return manager(
        kernel_name="python3",
        transport="ipc",
        ip=str(run.ipc / "k"),
        connection_file=str(run.ipc / "kernel.json"),
        **kwargs,
    )


class LocalLauncher:
    """A plain local kernel: timeouts and a scrubbed environment, but **no isolation** from the machine."""

    name = "local"
    isolated = False

    def __init__(self):
        self.notices: list[str] = []

    def kernel_manager(self, run: RunDir, limits: Limits, slot: int) -> AsyncKernelManager:
        return ipc_kernel_manager(run)

    def kernel_env(self, run: RunDir) -> dict[str, str]:
        env = dict(KERNEL_ENV)
        env.update(
            PATH=os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
            HOME=str(run.work),
            TMPDIR=str(run.work),
            IPYTHONDIR=str(run.root / "ipython"),
            MPLCONFIGDIR=str(run.root / "mpl"),
        )
        if os.name == "nt":  # Windows needs these to start Python at all
            for key in ("SYSTEMROOT", "SYSTEMDRIVE", "PATHEXT", "COMSPEC"):
                if key in os.environ:
                    env[key] = os.environ[key]
        return env

    def asset_path(self, name: str, host_path: Path) -> str:
        return str(host_path)

    def after_kernel(self, run: RunDir, slot: int) -> None:
        return None

    def oom_killed(self, slot: int) -> bool:
        return False  # no memory limit without a sandbox

    def close(self) -> None:
        return None
