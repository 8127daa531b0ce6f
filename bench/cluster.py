"""Grading on a Dask cluster against local grading (issue 18): the overhead per submission, the orchestrator's
memory from 100 to 1,000 submissions, and a projection to 10,000.

    .venv/bin/python bench/cluster.py                   # N = 100, memory at 100 and 1,000 tiny notebooks: ~10 min
    .venv/bin/python bench/cluster.py --n 40 --tiny 50 200   # smaller

One run, one row after the other, on this machine (2 kernels at a time in every row):

    (L) local      grader grade --jobs 2
    (C) local:2    grader grade --cluster local:2 (a LocalCluster of 2 worker processes the run starts itself)
    (S) scheduler  grader grade --cluster tcp://... against a `dask scheduler` and two `grader worker --jobs 1`,
                   started (and the plan's first worker set-up excluded) before the timing

Each row grades the same N 03-sampling submissions (bench/submissions.py: every fifth has a realistic bug) into a
fresh output folder and must give every student the same score. Columns: wall time; "steady", the seconds between
consecutive per-submission lines (``--quiet``), first to last, over N - 1; the orchestrator's peak RSS (VmHWM of
the ``grader grade`` process); for (S), the CPU-seconds the orchestrator and the scheduler spent per submission
(the serial part of a cluster run: what bounds it however many workers there are).

Memory: (S) again with two batches of tiny notebooks (one cell, no function: every call is 'missing', so the
orchestrator's work per submission dominates), its peak RSS at each size.

Projection (printed, and in README "Grading on a cluster" marked as one): wall(N, W) = fixed + N x max(g / W, o),
with g the seconds one slot spends grading a submission (local steady x 2 slots), W the slots of the cluster and
o the larger of the orchestrator's and the scheduler's CPU-seconds per submission measured in (S).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nbformat  # noqa: E402
import psutil  # noqa: E402

from bench.measure import Measured, measure  # noqa: E402
from bench.submissions import write_batch  # noqa: E402
from bench.tools import ASSIGNMENT, BENCH, GRADER, OUR_PY, grader_env  # noqa: E402

RUN = BENCH / "cluster"
LINE = r"^[st]\d+: "  # one --quiet line per submission


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A `dask scheduler` and two `grader worker --jobs 1` on 127.0.0.1, as a TA starts them."""

    def __init__(self, folder: Path):
        self.address = f"tcp://127.0.0.1:{free_port()}"
        env, logs = grader_env(), folder / "dask-logs"
        logs.mkdir(parents=True, exist_ok=True)
        scheduler = [str(OUR_PY), "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1"]
        scheduler += ["--port", self.address.rsplit(":", 1)[1], "--no-dashboard"]
        self.procs = [self._start(scheduler, env, logs / "scheduler.log")]
        for n in range(2):
            worker = [str(GRADER), "worker", self.address, "--jobs", "1", "--host", "127.0.0.1", "--name", f"w{n}"]
            self.procs.append(self._start(worker, env, logs / f"worker-{n}.log"))
        from distributed import Client

        with Client(self.address, timeout=120) as client:
            client.wait_for_workers(2, timeout=120)

    @staticmethod
    def _start(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
        with open(log, "w") as out:
            return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def scheduler_cpu(self) -> float:
        times = psutil.Process(self.procs[0].pid).cpu_times()
        return times.user + times.system

    def close(self) -> None:
        for proc in self.procs:
            try:
                os.killpg(proc.pid, 9)
            except ProcessLookupError:
                pass
            proc.wait()


def grade(subs: Path, out: Path, extra: list[str], key: str) -> Measured:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [str(GRADER), "grade", str(ASSIGNMENT), str(subs), "--out", str(out), "--quiet", *extra]
    result = measure([cmd], grader_env(), RUN, RUN / f"log-{key}.txt")
    if result.rcs != [0]:
        sys.exit(f"cluster bench: row {key} failed; see {RUN / f'log-{key}.txt'}")
    return result


def scores(out: Path) -> dict[str, float]:
    return {p.stem: json.loads(p.read_text())["score"] for p in (out / "results").glob("*.json")}


def tiny_batch(n: int, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(1, n + 1):
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell("x = 1")]
        nbformat.write(nb, folder / f"t{i:04d}.ipynb")
    return folder


def steady(m: Measured) -> float:
    value, _ = m.steady(LINE)
    return value or float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100, help="03-sampling submissions per row (default 100)")
    parser.add_argument("--tiny", type=int, nargs=2, default=[100, 1000], help="the two tiny batch sizes")
    args = parser.parse_args()
    shutil.rmtree(RUN, ignore_errors=True)
    RUN.mkdir(parents=True)
    write_batch(args.n, RUN / "subs")
    print(f"cluster bench: {args.n} submissions of 03-sampling, 2 kernels at a time in every row", flush=True)

    rows: dict[str, Measured] = {}
    rows["L"] = grade(RUN / "subs", RUN / "out-L", ["--jobs", "2"], "L")
    rows["C"] = grade(RUN / "subs", RUN / "out-C", ["--cluster", "local:2"], "C")
    cluster = Cluster(RUN)
    try:
        grade(tiny_batch(4, RUN / "warm"), RUN / "out-warm", ["--cluster", cluster.address], "warm")  # workers' set-up
        before = cluster.scheduler_cpu()
        rows["S"] = grade(RUN / "subs", RUN / "out-S", ["--cluster", cluster.address], "S")
        sched_per_sub = (cluster.scheduler_cpu() - before) / args.n
        memory, sched = {}, {}
        for n in args.tiny:
            before_tiny = cluster.scheduler_cpu()
            batch = tiny_batch(n, RUN / f"tiny-{n}")
            memory[n] = grade(batch, RUN / f"out-tiny-{n}", ["--cluster", cluster.address], f"t{n}")
            sched[n] = cluster.scheduler_cpu() - before_tiny
    finally:
        cluster.close()
    same = scores(RUN / "out-L") == scores(RUN / "out-C") == scores(RUN / "out-S")
    report(args.n, rows, sched_per_sub, memory, sched, same)


def report(n, rows: dict[str, Measured], sched_per_sub: float, memory: dict[int, Measured], sched: dict, same) -> None:
    labels = {"L": "local --jobs 2", "C": "--cluster local:2", "S": "--cluster tcp:// (scheduler + 2 workers)"}
    local = steady(rows["L"])
    print(f"\n{'row':44} {'wall s':>7} {'s/sub steady':>13} {'vs local':>9} {'over s/sub':>11} {'RSS MiB':>8}")
    for key, m in rows.items():
        s = steady(m)
        print(f"{labels[key]:44} {m.wall:7.1f} {s:13.3f} {s / local:9.2f} {s - local:+11.3f} {m.hwm_mib:8.0f}")
    print(f"same scores in every row: {same}")
    orch_per_sub = rows["S"].tree_cpu_s / n  # (S)'s tree is the orchestrator alone: the workers are not its children
    print(
        f"(S) CPU-seconds per submission, start-up included: orchestrator {orch_per_sub:.3f}, "
        f"scheduler {sched_per_sub:.3f}"
    )
    print(
        "\norchestrator peak RSS, (S) with tiny notebooks: "
        + ", ".join(f"N = {k}: {m.hwm_mib:.0f} MiB ({m.wall:.0f} s)" for k, m in memory.items())
    )
    small, large = sorted(memory)
    orch_marginal = (memory[large].tree_cpu_s - memory[small].tree_cpu_s) / (large - small)
    sched_marginal = (sched[large] - sched[small]) / (large - small)
    print(
        f"marginal CPU-seconds per submission ({small} -> {large} tiny): orchestrator {orch_marginal:.4f}, "
        f"scheduler {sched_marginal:.4f}"
    )
    g = local * 2  # seconds one slot spends per submission
    o = max(orch_marginal, sched_marginal)
    fixed = rows["S"].wall - n * steady(rows["S"])
    print(f"\nprojection (a model, not a measurement): wall = {fixed:.0f} s + N x max({g:.2f} s / slots, {o:.3f} s)")
    print(f"{'submissions':>12} {'slots':>6} {'projected wall':>15}")
    for slots in (10, 100):
        wall = fixed + 10_000 * max(g / slots, o)
        print(f"{10_000:>12} {slots:>6} {wall / 60:>12.1f} min")


if __name__ == "__main__":
    t = time.monotonic()
    main()
    print(f"\ntotal bench time {time.monotonic() - t:.0f} s")
