"""Grading speed against the peer baseline: our grader vs nbgrader vs plain notebook execution (issue 7).

    bash bench/speed.sh                  # = bash bench/nbgrader_setup.sh && .venv/bin/python bench/speed.py --n 40
    bash bench/speed.sh --quick          # N = 8, one repetition: a few minutes, to try the benchmark itself
    bash bench/speed.sh --n 20 --reps 1  # any size; --skip c d1 leaves rows out

About 15 minutes at N = 40 on 2 cores. Notebooks, outputs and logs stay in .bench/speed/ (git-ignored),
replaced by the next run.

One run generates one batch of N 03-sampling submissions (bench/submissions.py: every fifth one has a
realistic bug) and the same student code as an nbgrader course with the same checks as test cells
(bench/nbgrader_course.py), then times, one after the other on the same machine, the rows of
bench/rows.py: (a) ``grader grade --jobs 2`` with its default (fast) kernel start, (b) the same with
``--no-fast-start``, (c) nbgrader 0.9.6 ``autograde``, (d1) and (d2) the floor, ``jupyter nbconvert
--execute`` of the same notebooks without any test, serially and 2 at a time. Every kernel is the same
interpreter, this project's .venv, one thread per numeric library (bench/tools.py): the rows differ by
the tool only. Both tools must give every student the same score, which the run checks.

It prints:
- the table (bench/measure.py says how each column is measured): wall time, submissions per minute,
  seconds per submission, "steady" (first to last per-submission log line, over N - 1), "fixed s"
  (wall - N x steady: start-up and wind-down), peak RSS of the tool's own process (the grader's
  orchestrator; kernels excluded) and of its whole process tree, CPU-seconds per submission of that
  tree, and CPU-seconds the rest of the machine used meanwhile;
- ratios of every row's wall time against (c) and both floors, and its overhead per submission over
  each floor: (row wall - floor wall) / N;
- ``grader check`` of one solved notebook against ``nbconvert --execute`` of it, CLI to CLI, median of
  ``--reps``, for two notebooks: the released notebook with its answers filled in (what a student checks;
  its last cells load transformers and the course model) and s001 of the batch (torch only): cold (the
  first check, with no check server running: it starts one and waits for it), warm
  (the next check, served by that server), ``--no-server`` (in-process, as before the server) and
  ``--no-server --no-fast-start``; the server lives in a private folder of the run and is stopped before
  each cold check and at the end;
- where the time goes (bench/phases.py): the median of each phase of grading one submission over the
  batch, from the results of (a) and (b), and the tests' own work without a grader.
This machine's cores are shared: compare rows within one run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import phases  # noqa: E402
from bench.nbgrader_course import build_course, nbgrader_scores, source_notebook  # noqa: E402
from bench.rows import Ctx, Mode, modes, our_scores  # noqa: E402
from bench.submissions import write_batch  # noqa: E402
from bench.tools import (  # noqa: E402
    ASSIGNMENT,
    BENCH,
    GRADER,
    NBG_VENV,
    NO_FAST_START,
    OUR_PY,
    REPO,
    grader_env,
    grader_has_flag,
    jupyter_env,
    nbconvert_cmd,
    run_checked,
)

NAN = float("nan")


def prepare(n: int, run: Path) -> tuple[Ctx, list[str]]:
    """The batch and the nbgrader course in ``run`` (emptied first); not timed."""
    if not (NBG_VENV / "bin" / "nbgrader").exists():
        sys.exit("speed: no nbgrader venv; run: bash bench/nbgrader_setup.sh")
    shutil.rmtree(run, ignore_errors=True)
    ours, course = run / "ours", run / "nbgrader-course"
    ids, codes, bugs = write_batch(n, ours)
    jenv = jupyter_env(run)
    plan = build_course(course, run / "exchange", ids, codes, jenv)
    return Ctx(n, run, ours, course, ids, jenv, plan.max_score, plan.questions), bugs


def warm_up(ctx: Ctx) -> None:
    """Page cache: torch, transformers, the course model, nbgrader's and nbconvert's imports."""
    subprocess.run([str(OUR_PY), "-c", "import torch, transformers, ipykernel.kernelapp"], env=ctx.jenv)
    subprocess.run([str(NBG_VENV / "bin" / "nbgrader"), "--version"], env=ctx.jenv, capture_output=True)
    subprocess.run([str(NBG_VENV / "bin" / "jupyter"), "nbconvert", "--version"], env=ctx.jenv, capture_output=True)
    grader_has_flag("grade", NO_FAST_START)


NO_SERVER = "--no-server"  # `grader check`: in-process, without the warm check server
COLD, WARM = "grader check, cold (no server)", "grader check, warm (server up)"


SOLVED = "the released notebook, solved (what a student checks: it also runs the course model)"
FUNCTIONS_ONLY = "s001 of the batch (imports, the seven functions, a small demo: torch only)"


def single(ctx: Ctx, reps: int) -> dict[str, dict[str, list[float]]]:
    """``grader check`` of one solved notebook vs ``nbconvert --execute`` of it: CLI wall times, ``reps``
    each, interleaved, for two notebooks in the release folder: :data:`SOLVED`, the instructor's notebook
    (the release's template with every answer filled in, its demo cells included), and :data:`FUNCTIONS_ONLY`.
    Each repetition stops the check server first, so "cold" is honestly a first check (it starts the server
    and waits for it) and "warm" the check after it; the in-process rows use --no-server (rows for flags this
    grader lacks are left out)."""
    release = ctx.run / "release"
    run_checked([str(GRADER), "release", str(ASSIGNMENT), "--out", str(release)], grader_env(), REPO, "grader release")
    shutil.copy(ASSIGNMENT / "sampling.ipynb", release / "solved.ipynb")
    shutil.copy(ctx.ours / "s001.ipynb", release / "s001.ipynb")
    env = check_server_env(ctx.run / "check-server")
    try:
        return {
            label: one_notebook(ctx, release / name, env, reps)
            for label, name in ((SOLVED, "solved.ipynb"), (FUNCTIONS_ONLY, "s001.ipynb"))
        }
    finally:
        stop_check_server(env)


def one_notebook(ctx: Ctx, notebook: Path, env: dict[str, str], reps: int) -> dict[str, list[float]]:
    """The check rows and nbconvert of ``notebook``, ``reps`` times each, interleaved."""
    check = [str(GRADER), "check", str(notebook)]
    server = grader_has_flag("check", NO_SERVER)
    cmds = {COLD: (check, env), WARM: (check, env)} if server else {"grader check": (check, env)}
    if server:
        cmds[f"grader check {NO_SERVER}"] = ([*check, NO_SERVER], env)
    if grader_has_flag("check", NO_FAST_START):
        cmds[" ".join(["grader check", *([NO_SERVER] if server else []), NO_FAST_START])] = (
            [*check, *([NO_SERVER] if server else []), NO_FAST_START],
            env,
        )
    cmds["nbconvert --execute"] = (nbconvert_cmd([notebook], ctx.run / "single-nbconvert"), ctx.jenv)
    times: dict[str, list[float]] = {k: [] for k in cmds}
    for _ in range(reps):
        for name, (cmd, cmd_env) in cmds.items():
            if name == COLD:
                stop_check_server(env)
            started = time.monotonic()
            done = subprocess.run(cmd, cwd=ctx.run, env=cmd_env, capture_output=True, text=True)
            times[name].append(time.monotonic() - started)
            if done.returncode:
                sys.exit(f"speed: {name} of {notebook.name} failed:\n{(done.stdout + done.stderr)[-2000:]}")
            if name.startswith("grader check") and "12 / 12" not in done.stdout:
                sys.exit(f"speed: {name} did not give {notebook.name} 12 / 12:\n{done.stdout[-2000:]}")
    return times


def check_server_env(folder: Path) -> dict[str, str]:
    """The grader's environment with its check server in ``folder`` (private to this run), switched on."""
    env = {k: v for k, v in grader_env().items() if k != "LLM_GRADER_NO_SERVER"}
    return {**env, "LLM_GRADER_SERVER_DIR": str(folder)}


def stop_check_server(env: dict[str, str]) -> None:
    """Stop the check server of ``env`` (if one runs) and wait until it is gone."""
    stop = "from grader.selfcheck import client\ntry:\n    client.stop()\nexcept Exception:\n    pass"
    subprocess.run([str(OUR_PY), "-c", stop], env=env, cwd=REPO, capture_output=True)


def run_modes(ctx: Ctx, rows: list[Mode], skip: list[str]) -> None:
    for mode in rows:
        if mode.key in skip:
            mode.reason = "skipped (--skip)"
            continue
        print(f"speed: ({mode.key}) {mode.label} ...", file=sys.stderr)
        mode.result = mode.run(ctx)
        if mode.result is None:
            print(f"speed: ({mode.key}) {mode.reason}", file=sys.stderr)
            continue
        if any(mode.result.rcs):
            tail = "\n".join(line for _, line in mode.result.lines[-30:])
            sys.exit(f"speed: ({mode.key}) exited {mode.result.rcs}:\n{tail}")
        print(f"speed: ({mode.key}) {mode.result.wall:.1f} s", file=sys.stderr)
        if mode.key in ("a", "b"):
            mode.scores = our_scores(ctx.out(mode.key))
        elif mode.key == "c":
            mode.scores = nbgrader_scores(ctx.course, ctx.jenv)
        elif mode.key.startswith("d"):
            written = len(list((ctx.run / f"nbconvert-{mode.key}").glob("*.ipynb")))
            if written != ctx.n:
                sys.exit(f"speed: ({mode.key}) wrote {written} notebooks, not {ctx.n}")


def table(n: int, rows: list[Mode]) -> str:
    head = (
        f"{'':4} {'mode':40} {'parallel':9} {'wall s':>7} {'subs/min':>8} {'s/sub':>6} {'steady':>6} "
        f"{'fixed s':>7} {'RSS MiB':>7} {'tree MiB':>8} {'CPU s/sub':>9} {'others s':>8}"
    )
    lines = [head, "-" * len(head)]
    for m in rows:
        key = f"({m.key})"
        if m.result is None:
            lines.append(f"{key:4} {m.label:40} {m.parallel:9} {m.reason}")
            continue
        r = m.result
        gap, _ = r.steady(m.marker)
        fixed = r.wall - gap * n if gap is not None else NAN
        lines.append(
            f"{key:4} {m.label:40} {m.parallel:9} {r.wall:7.1f} {60 * n / r.wall:8.1f} {r.wall / n:6.2f} "
            f"{(gap if gap is not None else NAN):6.2f} {fixed:7.1f} {r.hwm_mib:7.0f} {r.tree_mib:8.0f} "
            f"{r.tree_cpu_s / n:9.2f} {r.others_s:8.0f}"
        )
    return "\n".join(lines)


def ratio_table(n: int, rows: list[Mode]) -> str:
    """Each row's wall time over (c)'s and each floor's, and its overhead per submission over each floor."""
    by = {m.key: m.result for m in rows}
    bases = [k for k in ("c", "d1", "d2") if by.get(k)]
    floors = [k for k in ("d1", "d2") if by.get(k)]
    head = (
        f"{'':4} {'mode':40} "
        + " ".join(f"{f'wall/({k})':>10}" for k in bases)
        + " ".join(f" {f'over ({k}) s/sub':>15}" for k in floors)
        + " ".join(f" {f'CPU over ({k})':>14}" for k in floors)
    )
    lines = [head, "-" * len(head)]
    for m in rows:
        r = m.result
        if r is None:
            continue
        cells = [f"{r.wall / by[k].wall:10.2f}" for k in bases]
        cells += [f" {(r.wall - by[k].wall) / n:+15.2f}" for k in floors]
        cells += [f" {(r.tree_cpu_s - by[k].tree_cpu_s) / n:+14.2f}" for k in floors]
        lines.append(f"{f'({m.key})':4} {m.label:40} " + " ".join(cells))
    lines.append(
        "wall/(x): this row's wall time over row x's (< 1: faster); over (d) s/sub: (row wall - floor wall) / N; "
        "CPU over (d): the same for CPU-seconds of the process tree"
    )
    return "\n".join(lines)


def score_lines(ctx: Ctx, rows: list[Mode]) -> list[str]:
    lines = []
    scored = [m for m in rows if m.scores]
    for other in scored[1:]:
        same = sum(abs(scored[0].scores.get(s, -1) - other.scores.get(s, -2)) < 1e-3 for s in ctx.ids)
        lines.append(f"scores ({scored[0].key}) vs ({other.key}): {same}/{ctx.n} students identical")
    for m in scored:
        full = sum(v >= ctx.max_score - 1e-3 for v in m.scores.values())
        mean = statistics.mean(m.scores.values())
        lines.append(f"({m.key}) full marks: {full}/{ctx.n}, mean {mean:.2f}/{ctx.max_score:g}")
    return lines


def single_lines(notebooks: dict[str, dict[str, list[float]]]) -> list[str]:
    lines = []
    for label, one in notebooks.items():
        floor = statistics.median(one["nbconvert --execute"])
        lines.append(f"one notebook, {label}; 13 public tests; CLI wall, median of {len(one['nbconvert --execute'])}:")
        for name, times in one.items():
            median = statistics.median(times)
            vs = "" if name == "nbconvert --execute" else f"  {median - floor:+.2f} s, {median / floor:.2f}x nbconvert"
            lines.append(f"  {name:42} {median:6.2f} s ({', '.join(f'{t:.2f}' for t in times)}){vs}")
    return lines


def report(ctx: Ctx, rows: list[Mode], bugs: list[str], one: dict, alone: dict) -> None:
    print(
        f"03-sampling, N = {ctx.n} submissions ({len(bugs)} with a bug), {os.cpu_count()} CPU cores, "
        f"one run ({time.strftime('%Y-%m-%d %H:%M %Z')}); every kernel: {OUR_PY.relative_to(REPO)}, 1 thread"
    )
    print(table(ctx.n, rows))
    print()
    print(ratio_table(ctx.n, rows))
    print()
    print("\n".join(score_lines(ctx, rows) + single_lines(one)))
    profiles = {m.key: phases.profile(ctx.out(m.key)) for m in rows if m.key in ("a", "b") and m.result}
    if profiles:
        print()
        print("where the time goes, per graded submission (median over the batch; phases of execution.timings):")
        print(phases.profile_table(profiles))
    if alone:
        print("\n".join(phases.tests_lines(alone, sum(len(q.cases) for q in ctx.questions))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, help="submissions in the batch (default 40; 8 with --quick)")
    parser.add_argument("--reps", type=int, help="repetitions of the one-notebook timing (default 3; 1 with --quick)")
    parser.add_argument("--skip", nargs="*", default=[], help="rows not to run, e.g. --skip c d1")
    parser.add_argument("--quick", action="store_true", help="a small run (N = 8, 1 repetition) in a few minutes")
    args = parser.parse_args()
    n = args.n if args.n is not None else 8 if args.quick else 40
    reps = args.reps if args.reps is not None else 1 if args.quick else 3
    rows = modes()
    unknown = set(args.skip) - {m.key for m in rows}
    if n < 4 or reps < 0 or unknown:
        parser.error(f"--n must be at least 4, --reps at least 0, --skip one of {[m.key for m in rows]}")
    run = BENCH / "speed"
    t0 = time.monotonic()
    print(f"speed: preparing {n} submissions and the nbgrader course in {run} ...", file=sys.stderr)
    ctx, bugs = prepare(n, run)
    warm_up(ctx)
    print(f"speed: prepared in {time.monotonic() - t0:.0f} s; buggy: {'; '.join(bugs)}", file=sys.stderr)
    run_modes(ctx, rows, args.skip)
    print(f"speed: one notebook, {reps} x each ...", file=sys.stderr)
    one = single(ctx, reps) if reps else {}
    source = source_notebook(ctx.course)
    alone = {}
    if reps:
        alone = {
            "plain": phases.tests_alone(source, ctx.run, reps),
            "kernel": phases.tests_in_kernel(source, ctx.run / "tests-in-kernel", ctx.jenv),
        }
    print()
    report(ctx, rows, bugs, one, alone)
    print(f"total bench time {time.monotonic() - t0:.0f} s; notebooks, outputs and logs in {run}")


if __name__ == "__main__":
    main()
