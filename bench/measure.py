"""Timing a tool's run: wall time, per-line output times, peak memory and CPU of its process tree.

:func:`measure` starts one or more commands at once and polls every 0.2 s, until all have exited:

- ``hwm_mib``: ``VmHWM`` (peak resident memory) of the tool's own process: our grader's orchestrator,
  nbgrader's or nbconvert's process (for several commands, the largest); kernels are not included;
- ``tree_mib``: the largest sum of RSS over the tools and all their descendants (kernels included) seen;
- ``tree_cpu_s``: user + system CPU-seconds of that process tree (each process's last sample);
- ``cpu_s`` and ``steal_s``: the whole machine's busy and stolen CPU-seconds meanwhile (/proc/stat), so
  ``cpu_s - tree_cpu_s + steal_s`` is the foreign load during the run;
- ``lines``: every output line with its time since the start, for :meth:`Measured.steady`.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Measured:
    wall: float
    rcs: list[int]
    lines: list[tuple[float, str]]  # (seconds since start, line), all processes
    hwm_mib: float  # largest VmHWM of the tool's own processes
    tree_mib: float  # largest sampled sum of RSS over the tools and their descendants
    tree_cpu_s: float  # CPU-seconds of the tools and their descendants (last sample of each process)
    cpu_s: float  # machine-wide busy CPU-seconds
    steal_s: float

    def steady(self, marker: str) -> tuple[float | None, int]:
        """Seconds between output lines matching ``marker`` (one per submission), first to last, and how
        many such lines there were; None when fewer than two."""
        times = [t for t, line in self.lines if re.search(marker, line)]
        if len(times) < 2:
            return None, len(times)
        return (times[-1] - times[0]) / (len(times) - 1), len(times)

    @property
    def others_s(self) -> float:
        """CPU-seconds the rest of the machine used during the run (busy minus the tree, plus steal)."""
        return max(0.0, self.cpu_s - self.tree_cpu_s) + self.steal_s


def _cpu_times() -> tuple[float, float]:
    """(busy, steal) CPU-seconds of the whole machine so far, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq) / tick, steal / tick


def _hwm_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def measure(cmds: list[list[str]], env: dict, cwd: Path, log: Path) -> Measured:
    """Run ``cmds`` at once; wall time, output lines with their times, peak RSS, machine CPU."""
    import psutil

    busy0, steal0 = _cpu_times()
    start = time.monotonic()
    procs = [
        subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        for cmd in cmds
    ]
    lines: list[tuple[float, str]] = []
    hwm = [0] * len(procs)
    tree = [0]
    cpu: dict[tuple[int, float], float] = {}  # (pid, start time) -> user + system seconds, last seen
    stop = threading.Event()

    def read(p):
        for line in p.stdout:
            lines.append((time.monotonic() - start, line.rstrip("\n")))

    def poll():
        while not stop.is_set():
            total = 0
            for i, p in enumerate(procs):
                value = _hwm_kib(p.pid)
                if value:
                    hwm[i] = max(hwm[i], value)
                try:
                    root = psutil.Process(p.pid)
                    for q in [root, *root.children(recursive=True)]:
                        try:
                            with q.oneshot():
                                total += q.memory_info().rss
                                times = q.cpu_times()
                                cpu[q.pid, q.create_time()] = times.user + times.system
                        except psutil.Error:
                            pass
                except psutil.Error:
                    pass
            tree[0] = max(tree[0], total)
            stop.wait(0.2)

    readers = [threading.Thread(target=read, args=(p,), daemon=True) for p in procs]
    poller = threading.Thread(target=poll, daemon=True)
    for t in [*readers, poller]:
        t.start()
    rcs = [p.wait() for p in procs]
    wall = time.monotonic() - start
    stop.set()
    for t in [*readers, poller]:
        t.join(timeout=5)
    busy1, steal1 = _cpu_times()
    lines.sort()
    log.write_text("".join(f"{t:8.2f} {line}\n" for t, line in lines))
    tree_cpu = sum(cpu.values())
    return Measured(wall, rcs, lines, max(hwm) / 1024, tree[0] / 2**20, tree_cpu, busy1 - busy0, steal1 - steal0)
