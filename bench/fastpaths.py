"""How long the TA waits when there is nothing to grade: a no-op rerun, each refusal, and a CSV export (issue 14).

    .venv/bin/python bench/fastpaths.py [--n 11] [--reps 5]

Grades one class of N 03-sampling submissions (bench/submissions.py, untimed), then times, ``--reps`` times each,
alternating so that a busy moment of this shared machine hits every row alike, one fresh ``grader`` process per
call (CLI to CLI, as a TA types it):
- the floors: ``grader --help`` (Python, typer and the CLI module) and ``python -c "import torch"``;
- ``grade`` again with nothing to grade (the ground truth's hash is remembered in OUT/.groundtruth);
- ``grade`` with another assignment (01-tokenization) into the same OUT: refused;
- ``grade`` with the spec changed (a copy of 03-sampling with other points): refused;
- ``grade`` with the ground truth changed (a copy of 03-sampling whose reference is a module of its own), its
  hash computed again each time (that folder's memo is removed before each call: the first rerun after a change;
  the environment stays remembered, so no torch): refused;
- ``export OUT --format csv``.
It prints the median of each row, its ratio to ``grader --help``, and whether it is under the 2 s target. Before
issue 14 the first row took 23.5 s (a kernel server and the ground truth before the intake), the refusals 7-9 s
and the export 7.5 s on this machine. Files stay in .bench/fastpaths/ (git-ignored), replaced by the next run.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.submissions import write_batch  # noqa: E402
from bench.tools import ASSIGNMENT, BENCH, GRADER, OUR_PY, REPO, grader_env  # noqa: E402
from grader.assignment.gtkey import memo_path  # noqa: E402
from grader.assignment.gtsources import cache_folder  # noqa: E402
from grader.assignment.spec import load_assignment  # noqa: E402

TARGET_S = 2.0


def run(cmd: list[str], expect: str, pythonpath: Path | None = None) -> float:
    """Seconds ``cmd`` took; exits if its output lacks ``expect`` (the row must do what it claims)."""
    env = grader_env() | ({"PYTHONPATH": str(pythonpath)} if pythonpath else {})
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    seconds = time.perf_counter() - started
    if expect not in done.stdout + done.stderr:
        sys.exit(f"{' '.join(cmd)}: expected {expect!r} in its output, got:\n{done.stdout}{done.stderr}")
    return seconds


def changed_copies(root: Path) -> tuple[Path, Path, Path]:
    """Copies of 03-sampling: with other points (the spec changed), and with the same spec but a reference module
    of its own, in the returned code folder (the ground truth changed)."""
    spec_changed, gt_changed, code = root / "spec-changed", root / "groundtruth-changed", root / "code"
    for folder in (spec_changed, gt_changed):
        shutil.copytree(ASSIGNMENT, folder)
    toml = spec_changed / "assignment.toml"
    toml.write_text(toml.read_text().replace("points = 2", "points = 3", 1))
    toml = gt_changed / "assignment.toml"
    toml.write_text(toml.read_text().replace('reference = "reference.sampling"', 'reference = "fastpaths_ref"', 1))
    code.mkdir()
    (code / "fastpaths_ref.py").write_text("from reference.sampling import *  # noqa: F403\n")
    return spec_changed, gt_changed, code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=11, help="submissions in the class (default: 11)")
    parser.add_argument("--reps", type=int, default=5, help="times each row is run (default: 5)")
    args = parser.parse_args()
    root = BENCH / "fastpaths"
    shutil.rmtree(root, ignore_errors=True)
    subs, out = root / "subs", root / "out"
    write_batch(args.n, subs)
    grade = [str(GRADER), "grade", str(ASSIGNMENT), str(subs), "--out", str(out), "--quiet"]
    print(f"grading {args.n} submissions once (untimed) ...", flush=True)
    run(grade, f"graded {args.n}/{args.n}")
    spec_changed, gt_changed, code = changed_copies(root)
    other = REPO / "assignments" / "01-tokenization"
    rows = {
        "grader --help (floor)": ([str(GRADER), "--help"], "Usage"),
        "python -c 'import torch' (floor)": ([str(OUR_PY), "-c", "import torch; print('ok')"], "ok"),
        "no-op rerun (nothing to grade)": (grade, "nothing to grade"),
        "refused: another assignment": ([*grade[:2], str(other), *grade[3:]], "holds grades of assignment"),
        "refused: spec changed": ([*grade[:2], str(spec_changed), *grade[3:]], "the spec changed"),
        "refused: ground truth changed": ([*grade[:2], str(gt_changed), *grade[3:]], "another ground truth"),
        "export --format csv": ([str(GRADER), "export", str(out), "--format", "csv"], "csv:"),
    }
    times: dict[str, list[float]] = {name: [] for name in rows}
    memo = memo_path(cache_folder(out), load_assignment(gt_changed))
    for _ in range(args.reps):
        for name, (cmd, expect) in rows.items():
            memo.unlink(missing_ok=True)
            times[name].append(run(cmd, expect, code if "ground truth" in name else None))
    floor = statistics.median(times["grader --help (floor)"])
    print(f"\n{'row':40} {'median s':>9} {'x --help':>9}  under {TARGET_S:g} s")
    for name, values in times.items():
        median = statistics.median(values)
        verdict = "" if "floor" in name else ("yes" if median < TARGET_S else "NO")
        print(f"{name:40} {median:9.2f} {median / floor:9.1f}  {verdict}")
    print(f"\n{args.reps} runs each, alternating; this machine's cores are shared: compare rows within one run.")


if __name__ == "__main__":
    main()
