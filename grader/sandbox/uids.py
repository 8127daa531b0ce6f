"""Host uids for sandbox slots: one unprivileged uid per parallel kernel, locked machine-wide, swept clean.

RLIMIT_NPROC counts processes and threads per host uid, across every sandbox: a uid shared by two kernels
(or with a leftover of a killed grader) would share that budget and its cleanup. So each pool slot gets
its own uid, a lock file keeps two graders on one machine apart, and a uid is swept with ``kill(-1)``
before and after each use.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from grader.common.settings import TIMEOUTS
from grader.errors import SandboxUnavailable

LOCK_DIR = Path("/run/lock" if os.path.isdir("/run/lock") else "/tmp")
_KILL_ALL = "import os, signal; os.kill(-1, signal.SIGKILL)"  # every process of the caller's uid but itself


class UidPool:
    """Slot ``s`` runs as ``base + s``; if another grader holds that uid, a free one above ``base + 1024``."""

    def __init__(self, base: int):
        if not 1000 <= base < 2**31 - 8192:
            raise ValueError(f"uid_base must be an unprivileged uid (1000 .. 2**31-8192), got {base}")
        self.base = base
        self._locks: dict[int, int] = {}  # uid -> lock file descriptor
        self._slot_uids: dict[int, int] = {}

    def uid(self, slot: int) -> int:
        if not 0 <= slot < 1024:
            raise ValueError(f"slot must be in 0..1023, got {slot}")
        return self._slot_uids.get(slot, self.base + slot)

    def acquire(self, slot: int) -> int:
        """Lock a uid for ``slot`` (its own if free) and return it."""
        preferred = self.uid(slot)
        if preferred in self._locks:
            return preferred
        for uid in (preferred, *range(self.base + 1024, self.base + 1024 + 4096)):
            if uid not in self._locks and self._try_lock(uid):
                self._slot_uids[slot] = uid
                return uid
        raise SandboxUnavailable(f"no free sandbox uid from {self.base}: too many graders on this machine")

    def release(self, slot: int) -> None:
        uid = self._slot_uids.pop(slot, None)
        fd = self._locks.pop(uid, None) if uid is not None else None
        if fd is not None:
            os.close(fd)

    def _try_lock(self, uid: int) -> bool:
        import fcntl  # POSIX only; this module is also imported where the sandbox is unavailable

        fd = os.open(LOCK_DIR / f"grader-sandbox-{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._locks[uid] = fd
        return True


def drop_to(uid: int) -> list[str]:
    """The command prefix that runs the rest as ``uid``: no groups, no capabilities, no new privileges."""
    return [
        "setpriv",
        f"--reuid={uid}",
        f"--regid={uid}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "--",
    ]


def uid_pids(uid: int) -> list[int]:
    """Live (non-zombie) processes whose real, effective or saved uid is ``uid``."""
    found = []
    # subtle: not Path("/proc").glob("*/status"), whose stat of a process that just exited raises out of the
    # generator (ProcessLookupError), outside any try around the loop's body
    for pid in (name for name in os.listdir("/proc") if name.isdigit()):
        try:
            with open(f"/proc/{pid}/status") as file:
                fields = dict(line.split(":", 1) for line in file.read().splitlines() if ":" in line)
        except OSError:  # it exited meanwhile
            continue
        zombie = fields.get("State", "").strip().startswith("Z")
        if str(uid) in fields.get("Uid", "").split()[:3] and not zombie:
            found.append(int(pid))
    return found


def kill_uid(uid: int) -> None:
    """SIGKILL every process of ``uid`` with ``kill(-1)`` run as that uid: atomic against fork loops."""
    deadline = time.monotonic() + TIMEOUTS.slot_sweep_s
    while uid_pids(uid):
        # subtle: not util-linux `kill -s KILL -- -1`, which rejects -1 and kills nothing.
        subprocess.run([*drop_to(uid), sys.executable, "-c", _KILL_ALL], capture_output=True)
        if time.monotonic() > deadline:
            raise SandboxUnavailable(f"processes of sandbox uid {uid} survive SIGKILL: {uid_pids(uid)}")
        time.sleep(TIMEOUTS.sweep_poll_s)
