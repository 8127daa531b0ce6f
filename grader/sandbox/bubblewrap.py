"""The OS sandbox around a submission's kernel: bubblewrap, one unprivileged uid per slot, a cgroup.

:class:`BubblewrapLauncher` implements :class:`grader.sandbox.launcher.Launcher`. The kernel command becomes

    sh (joins the slot cgroup, ignores SIGINT) -> bwrap, as root: the namespaces and the filesystem
      -> prlimit -> setpriv (slot uid, no capabilities, no_new_privs)
      -> bwrap, as the slot uid: a user namespace that cannot create further ones (if the host allows)
      -> env --default-signal=INT -> python -m ipykernel_launcher

bwrap runs as root because an unprivileged one cannot bind the interpreter under /root (mode 0700), and
``bwrap --uid`` started by root stays host root (both measured on Debian 12 when this was built).

Covered:
- own mount, PID, network, IPC, UTS and cgroup namespaces; ``--die-with-parent``, ``--new-session``;
- a filesystem allowlist: /usr, a few /etc files (passwd and group are synthetic), the Python prefix and
  venv, the registered assets (read-only), the work folder at :data:`WORK_DIR` and the ipc folder at its
  host path (read-write), a size-capped private /tmp and /dev/shm. Nothing else of the host exists inside:
  not the repository, other runs, the output folder, /root or /home;
- no network at all (the host's 127.0.0.1 is another namespace's);
- host uid ``uid_base + slot``: never root, no capabilities, no setuid; one uid per slot, so leftovers of
  one submission cannot eat the next one's process budget, and :meth:`after_kernel` can kill them all;
- a scrubbed environment (``--clearenv``, then :meth:`BubblewrapLauncher.kernel_env`);
- limits (:class:`grader.assignment.spec.Limits`): memory and processes for the whole submission in a cgroup (v2 or
  v1; without one: per-process RLIMIT_AS, with a notice), RLIMIT_NPROC, CPU, FSIZE, NOFILE, CORE=0.

Not covered:
- CPU side channels (Spectre-class), and exploits of the Linux kernel itself (no seccomp filter; user
  namespaces are blocked inside only where an unprivileged bwrap works, see :func:`isolation_report`);
- the total size of the work folder where the grader cannot mount a tmpfs (not root): RLIMIT_FSIZE caps one file;
- the kernel's own messages: it holds the connection file's HMAC key and writes every reply, so nothing it
  says over ZMQ is evidence. Grade only from files the host reads with :mod:`grader.boundary.safeio`;
- the ipc folder is the kernel's: it could swap a socket for a symlink to another unix socket on the host,
  which the grader's client would then reach (sending only its own signed Jupyter messages).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from jupyter_client.manager import AsyncKernelManager

from grader.common.gpu import GPU_VARIABLES
from grader.common.settings import TIMEOUTS
from grader.compat.jupyter_client import HookedKernelManager
from grader.errors import SandboxUnavailable
from grader.sandbox import cgroups
from grader.sandbox.filesystem import ASSETS_DIR, WORK_DIR, filesystem_args, gpu_devices, write_etc
from grader.sandbox.launcher import KERNEL_ENV, RunDir, ipc_kernel_manager
from grader.sandbox.uids import UidPool, drop_to, kill_uid

if TYPE_CHECKING:  # annotations only: importing the spec imports torch, which would delay the zygote's start
    from grader.assignment.spec import Limits

log = logging.getLogger(__name__)

WRAPPER_TASKS = 3  # bwrap monitor + bwrap pid 1 + the inner bwrap: in the cgroup besides the submission
TOOLS = ("bwrap", "setpriv", "prlimit")
# Runs as root before bwrap: join the slot cgroup(s) named before "--", ignore SIGINT, exec the rest.
_JOIN_CGROUPS = 'trap "" INT; while [ "$1" != -- ]; do echo $$ >"$1"||exit 125; shift; done; shift; exec "$@"'
# As the slot uid: a user namespace that may not create further ones (they widen the kernel's attack surface).
_NO_USERNS = [
    "bwrap",
    "--unshare-user",
    "--disable-userns",
    "--die-with-parent",
    "--bind",
    "/",
    "/",
    "--dev-bind",
    "/dev",
    "/dev",
    "--",
]


class SandboxKernelManager(HookedKernelManager):
    """An ``AsyncKernelManager`` whose kernel command runs inside ``wrapper`` as host uid ``uid``."""

    def __init__(self, *, wrapper: list[str], uid: int, **kwargs):
        super().__init__(**kwargs)
        self._wrapper, self._uid = list(wrapper), uid

    def write_connection_file(self, **kwargs) -> None:
        super().write_connection_file(**kwargs)  # written 0600 by root; the kernel must read it
        os.chown(self.connection_file, self._uid, self._uid)

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        return self._wrapper + super().format_kernel_cmd(extra_arguments)

    def launch_env(self, env: dict | None) -> dict:
        """The kernel's env is set by bwrap (--clearenv/--setenv); whatever env the caller passed would only
        reach the wrapper processes, so they get a minimal one."""
        return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}

    async def interrupt_sandboxed(self) -> bool:
        """SIGINT to the sandbox's session (the kernel and its children), never to the bwrap monitor.

        subtle: with ``--new-session`` the kernel is not in the process group jupyter_client signals, and
        a SIGINT to bwrap itself would kill it and, through ``--die-with-parent``, the kernel.
        """
        if self.has_kernel and self.kernel_spec.interrupt_mode == "signal":
            leaders = _children(self.provisioner.pid)  # bwrap's pid 1, leader of the new session
            if leaders:
                os.killpg(leaders[0], signal.SIGINT)  # pid 1 ignores SIGINT (inherited from the wrapper)
                return True
        return False


class BubblewrapLauncher:
    """Kernels in bubblewrap sandboxes; see the module docstring for what is and is not contained.

    ``assets`` maps a name to a host folder or file the kernel may read (bound at ``/assets/<name>``);
    register every asset here, before any kernel starts. ``uid_base + slot`` is the host uid of the
    kernel in pool slot ``slot``; a lock file per uid keeps two graders on one machine apart (the second
    takes free uids above ``uid_base + 1024``). ``cgroup_parent`` is a cgroup path for the slot cgroups (default: the
    grader's own; on cgroup v2 give an empty delegated cgroup).
    """

    name = "bubblewrap"
    isolated = True

    def __init__(
        self,
        assets: Mapping[str, Path] | None = None,
        uid_base: int = 61000,
        cgroup_parent: str | None = None,
        gpu: bool = False,
    ):
        ok, reason = available()
        if not ok:
            raise SandboxUnavailable(f"bubblewrap sandbox: {reason}")
        self._uids = UidPool(uid_base)  # validates uid_base
        self.assets = {name: _checked_asset(name, Path(path)) for name, path in (assets or {}).items()}
        self.uid_base = uid_base
        self.gpu = gpu  # the kernels see the GPU devices and the GPU variables (CUDA_VISIBLE_DEVICES, ...)
        self.devices = gpu_devices() if gpu else []
        self.cgroup_support = cgroups.probe(cgroup_parent)
        self.nested_userns = _unprivileged_bwrap_works(uid_base)
        self.notices: list[str] = []
        if not self.cgroup_support.usable:
            self.notices.append(
                f"no writable cgroup ({self.cgroup_support.reason}): memory is capped per process with "
                "RLIMIT_AS (several processes together can use more), processes per uid with RLIMIT_NPROC"
            )
            log.warning("sandbox: %s", self.notices[-1])
        self._cgroups: dict[int, cgroups.SlotCgroup] = {}
        self._oom: dict[int, bool] = {}

    def uid(self, slot: int) -> int:
        """The host uid of slot ``slot``'s kernel (see :class:`grader.sandbox.uids.UidPool`)."""
        return self._uids.uid(slot)

    def kernel_env(self, run: RunDir) -> dict[str, str]:
        """The kernel's whole environment, as set inside the sandbox (paths are the sandbox's)."""
        env = dict(KERNEL_ENV)
        env.update(
            PATH=f"{Path(sys.executable).parent}:/usr/bin:/bin",
            HOME=WORK_DIR,
            TMPDIR="/tmp",
            IPYTHONDIR="/tmp/.ipython",
            MPLCONFIGDIR="/tmp/.mpl",
        )
        if self.gpu:
            env.update({name: os.environ[name] for name in GPU_VARIABLES if name in os.environ})
        return env

    def asset_path(self, name: str, host_path: Path) -> str:
        if name not in self.assets or self.assets[name] != Path(host_path).resolve():
            raise SandboxUnavailable(
                f"asset {name!r} ({host_path}) was not registered: pass it in BubblewrapLauncher(assets=...)"
            )
        return f"{ASSETS_DIR}/{name}"

    def kernel_manager(self, run: RunDir, limits: Limits, slot: int) -> AsyncKernelManager:
        """A manager for a sandboxed kernel in ``run``; call :meth:`after_kernel` when it is gone."""
        uid, procs_files = self._prepare_slot(run, limits, slot)
        wrapper = [
            "/bin/sh",
            "-c",
            _JOIN_CGROUPS,
            "sandbox",
            *procs_files,
            "--",
            *self._bwrap_args(run),
            "--",
            "prlimit",
            *[f"--{name}={soft}:{hard}" for name, (soft, hard) in rlimits(limits, bool(procs_files)).items()],
            "--",
            *drop_to(uid),
            *(_NO_USERNS if self.nested_userns else []),
            "env",
            "--default-signal=INT",  # only the wrappers ignore SIGINT, not the kernel's processes
        ]
        return ipc_kernel_manager(run, SandboxKernelManager, wrapper=wrapper, uid=uid)

    def _prepare_slot(
        self, run: RunDir, limits: Limits, slot: int, wrapper_tasks: int = WRAPPER_TASKS
    ) -> tuple[int, list[str]]:
        """Take the slot's uid (killing leftovers), open ``run`` to it, make its cgroup: (uid, cgroup.procs files).

        ``wrapper_tasks``: the sandbox's own processes in the cgroup besides the submission's."""
        uid = self._uids.acquire(slot)
        kill_uid(uid)  # a crashed earlier run may have left processes that count against this uid
        _prepare_run(run, uid)
        self._oom[slot] = False
        if not self.cgroup_support.usable:
            return uid, []
        group = cgroups.SlotCgroup(self.cgroup_support, f"grader-sandbox-{uid}")
        self._cgroups[slot] = group.create(limits.memory_mb << 20, limits.max_processes + wrapper_tasks)
        return uid, [str(path) for path in group.procs_files]

    def oom_killed(self, slot: int) -> bool:
        """Whether the memory cgroup killed a process of the slot's latest kernel (also after it is gone)."""
        group = self._cgroups.get(slot)
        return self._oom.get(slot, False) or (group is not None and group.oom_kills() > 0)

    def after_kernel(self, run: RunDir, slot: int) -> None:
        """Kill every process left in the slot's cgroup or running as its uid; remove the cgroup.

        Never raises: what cannot be cleaned up now is logged, and retried before the slot's next kernel.
        """
        uid = self.uid(slot)
        group = self._cgroups.pop(slot, None)
        try:
            if group is not None:
                self._oom[slot] = group.oom_kills() > 0
                group.remove()
            kill_uid(uid)
        except (OSError, SandboxUnavailable) as exc:
            log.warning("sandbox: slot %d (uid %d) not cleaned up: %s", slot, uid, exc)
        self._uids.release(slot)

    def close(self) -> None:
        """Nothing runs between kernels (each kernel's processes are swept by :meth:`after_kernel`)."""

    def __enter__(self) -> BubblewrapLauncher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _bwrap_args(self, run: RunDir) -> list[str]:
        args = [
            "bwrap",
            "--die-with-parent",
            "--new-session",
            "--unshare-pid",
            "--unshare-net",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--hostname",
            "sandbox",
            *filesystem_args(self.assets, run.root / "sandbox-etc", work=run.work, ipc=run.ipc, devices=self.devices),
            "--chdir",
            WORK_DIR,
            "--clearenv",
        ]
        env = self.kernel_env(run)
        return args + [a for key in sorted(env) for a in ("--setenv", key, env[key])]


def available() -> tuple[bool, str]:
    """Whether :class:`BubblewrapLauncher` can run here, and if not, why (for ``grader doctor``)."""
    if not sys.platform.startswith("linux"):
        return False, f"needs Linux (this is {sys.platform})"
    missing = [tool for tool in TOOLS if shutil.which(tool, path="/usr/bin:/bin") is None]
    if missing:
        return False, f"missing {', '.join(missing)} (Debian/Ubuntu: apt install bubblewrap util-linux)"
    if os.geteuid() != 0:
        return False, "must run as root (bwrap binds the interpreter and drops to a per-slot uid itself)"
    return True, "bwrap, setpriv and prlimit found; running as root"


def isolation_report(cgroup_parent: str | None = None) -> list[tuple[str, str, str]]:
    """(feature, status, detail) rows describing what this machine allows, for ``grader doctor``."""
    ok, reason = available()
    rows = [("bubblewrap sandbox", "ok" if ok else "missing", reason)]
    try:
        version = subprocess.run(["bwrap", "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        version = "not installed"
    rows.append(("bwrap", "ok" if "bubblewrap" in version else "missing", version))
    rows.append(("running as root", "ok" if os.geteuid() == 0 else "no", f"euid {os.geteuid()}"))
    support = cgroups.probe(cgroup_parent)
    status = f"v{support.version}" if support.usable else "fallback to rlimits"
    rows.append(("cgroup memory+pids", status, support.reason))
    nested = ok and _unprivileged_bwrap_works(61000)
    rows.append(
        (
            "user namespaces inside",
            "blocked" if nested else "not blocked",
            "inner bwrap --disable-userns" if nested else "unprivileged bwrap does not work here",
        )
    )
    return rows


def _checked_asset(name: str, path: Path) -> Path:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise ValueError(f"asset name {name!r} must be letters, digits, '_', '.', '-' (it becomes a path)")
    if not path.exists():
        raise ValueError(f"asset {name!r}: {path} does not exist")
    need = 0o005 if path.is_dir() else 0o004  # r-x for folders, r-- for files
    if path.stat().st_mode & need != need:
        raise ValueError(f"asset {name!r}: {path} must be readable by the sandbox uid: chmod -R o+rX {path}")
    return path.resolve()


def _prepare_run(run: RunDir, uid: int) -> None:
    """Open the run's folders to the slot uid; write the synthetic /etc files the sandbox sees.

    ``run.work`` becomes root:uid with mode 1770: the kernel may create files there, but the sticky bit
    keeps it from renaming or removing what the grader put there (e.g. a folder for call inputs made
    before the kernel starts), so the grader's paths cannot be swapped for symlinks. ``run.ipc`` is the
    kernel's (it creates its sockets there).
    """
    os.chown(run.work, 0, uid)
    os.chmod(run.work, 0o1770)
    os.chown(run.ipc, uid, uid)
    os.chmod(run.ipc, 0o700)
    write_etc(run.root / "sandbox-etc", uid)


def rlimits(limits: Limits, in_cgroup: bool, wrappers_in_uid: int = 1) -> dict[str, tuple[int, int]]:
    """Resource limits (soft, hard) of the kernel process, by ``prlimit`` name.

    In a cgroup, memory and pids.max bind and RLIMIT_NPROC (per uid) is a backstop over the slot's tasks;
    ``wrappers_in_uid`` counts the wrapper processes that run as the slot uid (the inner bwrap).
    """
    nproc = limits.max_processes + (WRAPPER_TASKS if in_cgroup else wrappers_in_uid)
    caps = {
        "nproc": (nproc, nproc),
        "cpu": (limits.cpu_time_s, limits.cpu_time_s + 5),  # SIGXCPU first, SIGKILL 5 s later
        "fsize": (limits.file_size_mb << 20,) * 2,
        "nofile": (limits.open_files,) * 2,
        "core": (0, 0),
    }
    if not in_cgroup:
        caps["as"] = (limits.memory_mb << 20,) * 2  # per process, and counts address space, not memory
    return caps


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return sorted(found)


def _unprivileged_bwrap_works(uid: int) -> bool:
    """Whether the slot uid may start bwrap with a user namespace (used to block further ones inside)."""
    probe = [*drop_to(uid), "bwrap", "--unshare-user", "--disable-userns", "--bind", "/", "/", "true"]
    try:
        return subprocess.run(probe, capture_output=True, timeout=TIMEOUTS.userns_probe_s).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False
