"""How fast a class is graded, and whether the orchestrator's memory stays flat in the class size.

    HF_HUB_OFFLINE=1 python bench/batch.py [--n 20 100 500] [--jobs 2] [--no-sandbox]

For each N, a fresh process generates N small submissions of a two-question assignment (greedy decoding
and a softmax with temperature; every kernel still imports torch, so a submission costs about what a
real one's kernel start costs), grades them with :func:`grader.batch.run.grade_batch` into a fresh gradebook,
and reports its wall time and the orchestrator's peak resident memory (``ru_maxrss`` of that process
only; the kernels are separate processes). One table at the end. This machine's cores are shared:
compare rows within one run.
"""

import argparse
import asyncio
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SPEC = """
id = "bench"
title = "Batch benchmark"
notebook = "bench.ipynb"
reference = "reference.sampling"

[[questions]]
function = "greedy_next_token"
points = 1
  [[questions.cases]]
  name = "random"
  args = { logits = { randn = [3, 7], seed = 0 } }
  compare = { kind = "exact" }

[[questions]]
function = "softmax_with_temperature"
points = 2
  [[questions.cases]]
  name = "t=2"
  args = { logits = { randn = [2, 5], seed = 1 }, temperature = 2.0 }
"""
CELLS = [
    "import torch\ndef greedy_next_token(logits):\n    return logits.argmax(dim=-1)\n",
    "def softmax_with_temperature(logits, temperature):\n    return torch.softmax(logits / temperature, dim=-1)\n",
]
WRONG = "def softmax_with_temperature(logits, temperature):\n    return torch.softmax(logits, dim=-1)\n"


def write_notebook(path: Path, cells: list[str]) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, path)


def one(n: int, jobs: int, sandbox: bool) -> dict:
    """Generate and grade ``n`` submissions in this process; return the measurements."""
    from grader.assignment.groundtruth import build_plan
    from grader.assignment.spec import load_assignment
    from grader.batch.intake import load_submissions
    from grader.batch.run import BatchSettings, grade_batch
    from grader.sandbox.isolation import choose_launcher

    root = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    (root / "bench").mkdir()
    (root / "bench" / "assignment.toml").write_text(SPEC)
    write_notebook(root / "bench" / "bench.ipynb", CELLS)
    (root / "subs").mkdir()
    for i in range(n):  # every tenth submission ignores the temperature, so the summary has failures
        write_notebook(root / "subs" / f"{100000 + i}.ipynb", CELLS if i % 10 else [CELLS[0], WRONG])
    plan = build_plan(load_assignment(root / "bench"))
    launcher, _ = choose_launcher(plan.assets, require_sandbox=sandbox)
    intake = load_submissions(root / "subs", "bench.ipynb", root / "unpacked")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    summary = asyncio.run(grade_batch(plan, intake, root / "out", launcher, BatchSettings(jobs=jobs)))
    wall = time.monotonic() - started
    shutil.rmtree(root, ignore_errors=True)
    return {
        "n": n,
        "jobs": jobs,
        "isolation": launcher.name,
        "graded": summary.graded,
        "wall_s": wall,
        "per_min": 60 * n / wall,
        "rss_before_mib": rss_before / 1024,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[20, 100, 500], help="class sizes to grade")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="kernels at once")
    parser.add_argument("--no-sandbox", action="store_true", help="plain local kernels (no bubblewrap)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one(args.child, args.jobs, not args.no_sandbox)))
        return
    rows = []
    for n in args.n:
        cmd = [sys.executable, __file__, "--child", str(n), "--jobs", str(args.jobs)]
        cmd += ["--no-sandbox"] if args.no_sandbox else []
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        if done.returncode != 0:
            sys.exit(f"N={n} failed:\n{done.stderr[-3000:]}")
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"N={n}: done in {rows[-1]['wall_s']:.1f} s", file=sys.stderr)
    print(
        f"{'N':>5} {'jobs':>4} {'isolation':>10} {'graded':>6} {'wall s':>8} {'subs/min':>9} "
        f"{'RSS before MiB':>15} {'peak RSS MiB':>13}"
    )
    for r in rows:
        print(
            f"{r['n']:>5} {r['jobs']:>4} {r['isolation']:>10} {r['graded']:>6} {r['wall_s']:>8.1f} "
            f"{r['per_min']:>9.1f} {r['rss_before_mib']:>15.0f} {r['peak_rss_mib']:>13.0f}"
        )


if __name__ == "__main__":
    main()
