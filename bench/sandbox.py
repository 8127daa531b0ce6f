"""What the sandbox costs: kernel start and one graded submission, sandboxed against a plain local kernel.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/sandbox.py [--reps 3]

Needs root and bubblewrap (as ``grader grade``). In one run, alternating so that a busy moment of this shared
machine hits every row alike, it times ``--reps`` times each:
- kernel start, until the kernel answers: a plain local kernel (the baseline), a plain bubblewrap sandbox, and a
  kernel forked from the zygote;
- grading one correct submission of bench/batch.py's two-question assignment end to end
  (:func:`grader.grading.grade.grade_submission`) with each of the three.
It prints the median of each row and its ratio to the local kernel. These were two timing tests of the suite
(they asserted nothing, or only ``sandboxed < local + 10 s``); speed is measured here, never in a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.batch import CELLS, SPEC, write_notebook  # noqa: E402  (the same two-question assignment)
from grader.assignment.groundtruth import build_plan  # noqa: E402
from grader.assignment.spec import Limits, load_assignment  # noqa: E402
from grader.grading.execute import KernelSession  # noqa: E402
from grader.grading.grade import grade_submission  # noqa: E402
from grader.sandbox.bubblewrap import BubblewrapLauncher, available  # noqa: E402
from grader.sandbox.launcher import LocalLauncher, RunDir  # noqa: E402
from grader.sandbox.zygote.launcher import ZygoteLauncher  # noqa: E402


async def start_and_stop(launcher, root: Path) -> float:
    """Seconds until a new kernel of ``launcher`` answers (it is stopped afterwards, untimed)."""
    run = RunDir(root / f"start-{time.monotonic_ns()}").create()
    session = KernelSession(launcher, run, Limits())
    started = time.perf_counter()
    async with session:
        seconds = time.perf_counter() - started
    run.remove()
    return seconds


async def grade_once(launcher, plan, path: Path, root: Path) -> float:
    started = time.perf_counter()
    result = await grade_submission(plan, path, "honest", launcher, root / "runs")
    if result.score != plan.max_score:
        sys.exit(f"{launcher.name}: the correct notebook scored {result.score}: {result.message} {result.notes}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each row (median reported)")
    args = parser.parse_args()
    ok, why = available()
    if not ok:
        sys.exit(f"bench/sandbox.py: no sandbox here ({why})")
    root = Path(tempfile.mkdtemp(prefix="bench-sandbox-"))
    (root / "bench").mkdir()
    (root / "bench" / "assignment.toml").write_text(SPEC)
    write_notebook(root / "bench" / "bench.ipynb", CELLS)
    plan = build_plan(load_assignment(root / "bench"))
    path = root / "honest.ipynb"
    write_notebook(path, CELLS)
    launchers = {"local": LocalLauncher(), "bubblewrap": BubblewrapLauncher(assets=plan.assets)}
    launchers["zygote"] = ZygoteLauncher(assets=plan.assets)
    times: dict[str, list[float]] = {}
    try:
        for _ in range(args.reps):
            for name, launcher in launchers.items():
                times.setdefault(f"kernel start, {name}", []).append(asyncio.run(start_and_stop(launcher, root)))
                times.setdefault(f"one submission, {name}", []).append(
                    asyncio.run(grade_once(launcher, plan, path, root))
                )
    finally:
        for launcher in launchers.values():
            launcher.close()
    print(f"{'row':<28} {'median s':>9} {'vs local':>9}  all")
    for row, values in sorted(times.items()):
        baseline = statistics.median(times[row.rsplit(", ", 1)[0] + ", local"])
        median = statistics.median(values)
        print(f"{row:<28} {median:>9.3f} {median / baseline:>8.2f}x  {[round(v, 3) for v in values]}")


if __name__ == "__main__":
    main()
