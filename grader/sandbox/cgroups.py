"""One memory and process budget for everything a submission runs: a cgroup per sandbox slot.

Rlimits cap one process (measured: three children at 3 GiB each used 8.4 GiB together);
a cgroup caps the submission. Both layouts are handled:

- cgroup v2 (most current distributions): one folder with ``memory.max`` and ``pids.max``. The parent
  must have the ``memory`` and ``pids`` controllers enabled for its children, which the kernel refuses
  while the parent itself holds processes (the grader's own cgroup usually does): pass an empty,
  delegated cgroup as ``parent`` there (e.g. one made by ``systemd-run -p Delegate=yes``).
- cgroup v1 (this build machine): separate ``memory`` and ``pids`` hierarchies, with
  ``memory.limit_in_bytes`` (+ ``memory.memsw.limit_in_bytes``, so no swap) and ``pids.max``.

By default a slot's cgroup is created below the grader's own cgroup, so whatever limit the machine puts
on the grader still holds for its kernels. A process joins by writing its pid into every ``cgroup.procs``
file of :attr:`SlotCgroup.procs_files` (the sandbox wrapper does that before it execs bubblewrap).
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from grader.common.settings import TIMEOUTS

PROC_CGROUP = Path("/proc/self/cgroup")
PROC_MOUNTS = Path("/proc/self/mounts")


@dataclass(frozen=True)
class CgroupSupport:
    """Where slot cgroups go: ``memory`` and ``pids`` parent folders (the same folder on v2), or why not."""

    version: int | None
    memory: Path | None
    pids: Path | None
    reason: str

    @property
    def usable(self) -> bool:
        return self.memory is not None and self.pids is not None


def probe(parent: str | None = None) -> CgroupSupport:
    """Find writable parents for slot cgroups; ``parent`` is a cgroup path (default: the grader's own)."""
    mounts = _cgroup_mounts()
    v2 = _probe_v2(mounts, parent)
    if v2.usable:
        return v2
    v1 = _probe_v1(mounts, parent)
    if v1.usable:
        return v1
    return CgroupSupport(None, None, None, f"{v2.reason}; {v1.reason}")


def _cgroup_mounts() -> list[tuple[str, str, set[str]]]:
    """(fstype, mount point, options) of every cgroup and cgroup2 mount."""
    found = []
    for line in PROC_MOUNTS.read_text().splitlines():
        _, point, fstype, options, *_ = line.split()
        if fstype in ("cgroup", "cgroup2"):
            found.append((fstype, point.replace("\\040", " "), set(options.split(","))))
    return found


def _own_path(controller: str) -> str:
    """The grader's cgroup path in the hierarchy of ``controller`` ('' for the v2 unified hierarchy)."""
    for line in PROC_CGROUP.read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return path
    return "/"


def _writable(folder: Path, limit_file: str) -> bool:
    return folder.is_dir() and (folder / limit_file).exists() and os.access(folder, os.W_OK)


def _probe_v1(mounts, parent: str | None) -> CgroupSupport:
    dirs = {}
    for controller in ("memory", "pids"):
        point = next((p for fs, p, opts in mounts if fs == "cgroup" and controller in opts), None)
        if point is None:
            return CgroupSupport(None, None, None, f"cgroup v1: no {controller} hierarchy mounted")
        folder = Path(point + (parent or _own_path(controller))).resolve()
        if not _writable(folder, "cgroup.procs"):
            return CgroupSupport(None, None, None, f"cgroup v1: {folder} is not writable")
        dirs[controller] = folder
    return CgroupSupport(1, dirs["memory"], dirs["pids"], "cgroup v1 memory + pids")


def _probe_v2(mounts, parent: str | None) -> CgroupSupport:
    point = next((p for fs, p, _ in mounts if fs == "cgroup2"), None)
    if point is None:
        return CgroupSupport(None, None, None, "cgroup v2: not mounted")
    folder = Path(point + (parent or _own_path(""))).resolve()
    controllers_file = folder / "cgroup.controllers"
    if not controllers_file.exists() or not os.access(folder, os.W_OK):
        return CgroupSupport(None, None, None, f"cgroup v2: {folder} is not writable")
    missing = {"memory", "pids"} - set(controllers_file.read_text().split())
    if missing:
        return CgroupSupport(None, None, None, f"cgroup v2: {folder} lacks controllers {sorted(missing)}")
    try:
        (folder / "cgroup.subtree_control").write_text("+memory +pids")
    except OSError as exc:  # EBUSY: the folder holds processes itself (the "no internal processes" rule)
        return CgroupSupport(None, None, None, f"cgroup v2: cannot enable memory+pids below {folder}: {exc}")
    return CgroupSupport(2, folder, folder, "cgroup v2 memory + pids")


class SlotCgroup:
    """The cgroup(s) of one sandbox slot: created with its limits, removed once its processes are gone."""

    def __init__(self, support: CgroupSupport, name: str):
        if not support.usable:
            raise ValueError(f"no usable cgroup hierarchy: {support.reason}")
        self.version = support.version
        self.memory = support.memory / name
        self.pids = support.pids / name
        self.folders = list(dict.fromkeys([self.memory, self.pids]))  # one folder on v2, two on v1

    def create(self, memory_bytes: int, max_tasks: int) -> SlotCgroup:
        """Make fresh folders (killing what a crashed run left in old ones) and write the limits."""
        self.remove()
        for folder in self.folders:
            folder.mkdir()
        if self.version == 2:
            (self.memory / "memory.max").write_text(str(memory_bytes))
            swap = self.memory / "memory.swap.max"
            if swap.exists():
                swap.write_text("0")
        else:
            (self.memory / "memory.limit_in_bytes").write_text(str(memory_bytes))
            memsw = self.memory / "memory.memsw.limit_in_bytes"  # memory + swap; must come after the limit
            if memsw.exists():
                memsw.write_text(str(memory_bytes))
        (self.pids / "pids.max").write_text(str(max_tasks))
        return self

    @property
    def procs_files(self) -> list[Path]:
        return [folder / "cgroup.procs" for folder in self.folders]

    def pids_inside(self) -> set[int]:
        found: set[int] = set()
        for procs in self.procs_files:
            try:
                found.update(int(pid) for pid in procs.read_text().split())
            except FileNotFoundError:
                pass
        return found

    def oom_kills(self) -> int:
        """How many processes the kernel's OOM killer ended in this cgroup (0 once removed)."""
        events = self.memory / ("memory.events" if self.version == 2 else "memory.oom_control")
        try:
            lines = events.read_text().splitlines()
        except FileNotFoundError:
            return 0
        counts = dict(line.split() for line in lines if len(line.split()) == 2)
        return int(counts.get("oom_kill", 0))

    def remove(self) -> None:
        """SIGKILL every process inside, then remove the folders. Raises ``OSError`` if they stay busy."""
        deadline = time.monotonic() + TIMEOUTS.slot_sweep_s
        for folder in self.folders:
            while folder.exists():
                for pid in self.pids_inside():
                    _kill(pid)
                try:
                    folder.rmdir()
                except FileNotFoundError:
                    break
                except OSError:  # EBUSY while dying processes are still listed
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(TIMEOUTS.sweep_poll_s)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
