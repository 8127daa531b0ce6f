"""Fast kernel start: sandboxed kernels forked from a zygote that imported torch once
(see :mod:`grader.sandbox.zygote.server`).

:class:`ZygoteLauncher` is a :class:`~grader.sandbox.bubblewrap.BubblewrapLauncher` (same slots, uids, cgroups,
limits, filesystem, clean-up after each kernel) whose kernels are forked instead of started: 0.5 s instead of 2+ s
of interpreter start and ``import torch`` per submission.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from jupyter_client.manager import AsyncKernelManager

from grader.errors import SandboxUnavailable
from grader.sandbox.bubblewrap import BubblewrapLauncher, rlimits
from grader.sandbox.filesystem import ANYONE, IPC_DIR, SHM_MB, TMP_MB, WORK_DIR, filesystem_args, write_etc
from grader.sandbox.launcher import RunDir, ipc_kernel_manager
from grader.sandbox.zygote.client import ZygoteClient
from grader.sandbox.zygote.kernel import ZygoteKernelManager

if TYPE_CHECKING:  # annotations only: importing the spec imports torch, which would delay the zygote's start
    from grader.assignment.spec import Limits

log = logging.getLogger(__name__)

DEFAULT_PRELOAD = ("torch",)


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
        gpu: bool = False,
    ):
        super().__init__(assets, uid_base, cgroup_parent, gpu)
        self._etc = write_etc(Path(tempfile.mkdtemp(prefix="grader-zygote-etc-")), ANYONE)
        self._etc.chmod(0o755)
        self._preload = list(preload)
        self._client: ZygoteClient | None = self._start_zygote()  # None: it died and could not be restarted
        if wait:
            self.wait_ready()

    def wait_ready(self) -> None:
        """Wait until the zygote has imported everything; :class:`SandboxUnavailable` (and closed) if it failed."""
        try:
            if self._client is None:
                raise SandboxUnavailable("the zygote could not be restarted")
            self._client.wait_ready()
        except SandboxUnavailable:
            self.close()
            raise

    @property
    def preloaded(self) -> list[str]:
        return self._client.preloaded if self._client else []

    @property
    def start_seconds(self) -> float:
        """How long the zygote took to import everything (once ready)."""
        return self._client.start_seconds if self._client else 0.0

    @property
    def warm_up_errors(self) -> dict[str, str]:
        """Model folders the zygote could not load once (their kernels' first load is just slower)."""
        return self._client.warm_up_errors if self._client else {}

    def _start_zygote(self) -> ZygoteClient:
        models = [
            self.asset_path(name, path)
            for name, path in self.assets.items()
            if "transformers" in self._preload and (path / "config.json").is_file()
        ]
        return ZygoteClient(
            ["bwrap", *filesystem_args(self.assets, self._etc, devices=self.devices)], self._preload, models
        )

    def kernel_manager(self, run: RunDir, limits: Limits, slot: int) -> AsyncKernelManager:
        """A forked kernel; if the zygote died (e.g. killed from outside) a new one is started, and if that
        fails too, this kernel starts plainly (:class:`BubblewrapLauncher`) and :attr:`notices` says why."""
        if self._client is not None and not self._client.alive():
            self._client.close()
            try:
                self._client = self._start_zygote()
                self.notices.append("the zygote had died and was restarted")
            except SandboxUnavailable as exc:
                self.notices.append(f"the zygote died and could not be restarted ({exc}): kernels start plainly")
                log.warning("sandbox: %s", self.notices[-1])
                self._client = None
        if self._client is None:
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
        if self._client is not None:
            self._client.close()
        shutil.rmtree(self._etc, ignore_errors=True)
