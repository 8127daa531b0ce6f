"""Grading speed against the peer baseline: our grader vs nbgrader vs plain notebook execution (issue 7).

    bash bench/speed.sh                  # = bash bench/nbgrader_setup.sh && .venv/bin/python bench/speed.py --n 40
    bash bench/speed.sh --n 20 --reps 1  # a smaller batch; --skip c d1 leaves rows out

About 15 minutes at N = 40 on 2 cores. Notebooks, outputs and logs stay in .bench/speed/ (git-ignored),
replaced by the next run.

One run generates one batch of N 03-sampling submissions (the seven functions, an ``import torch`` cell and a
tiny demo cell; every fifth one has a realistic bug), the same student code as an nbgrader course, and times,
one after the other on the same machine:

  (a) our grader with a fast kernel start (zygote): "not built yet" until ``grader grade`` has a flag for it
      (see MODES and ZYGOTE_FLAGS: the row runs by itself once the flag exists);
  (b) ``grader grade assignments/03-sampling DIR --out OUT --jobs 2 --quiet`` (sandboxed kernels);
  (c) nbgrader 0.9.6 ``autograde`` of the equivalent course (serial: nbgrader has no parallel autograde).
      Its test cells are the spec's cases, one autograded cell per case worth the case's share of the
      question's points, public and hidden (``### BEGIN HIDDEN TESTS``); inputs are built in the cell
      like grader/inputs.py builds them, expected values are literals computed by our reference, and the
      comparisons are those of grader/compare.py (close, exact, chi-square for the sampler). So both tools
      must give every student the same score, which the run checks;
  (d) the floor: ``jupyter nbconvert --execute --to notebook`` of the same submissions, without any test:
      one nbconvert process for all N (serial), and two processes with N/2 each (2 at a time);

then ``grader check`` of one solved notebook against ``nbconvert --execute`` of it (CLI to CLI, median of 3),
and the tests' own work: the nbgrader source notebook (solutions and every test cell) exec'd cell by cell
in one fresh process without any kernel, timed per part, and the same notebook once in a kernel.

Every notebook kernel is the same interpreter, this project's .venv (torch 2.13.0, transformers, numpy),
with one thread per numeric library: nbgrader and nbconvert come from .bench/nbgrader-venv
(bench/nbgrader_setup.sh) and start that kernel through a ``python3`` kernelspec on JUPYTER_PATH. So the
rows differ by the tool only. Peak RSS: ``VmHWM`` of the tool's own process (the orchestrator; for the
2-process floor the larger one), polled every 0.2 s; "tree" is the largest sum of RSS over the tool and
all its descendants (kernels included) seen by the poller. "CPU s/sub": user + system CPU-seconds of
that process tree (each process's last sample), per submission; "others s": CPU-seconds the rest of the
machine used meanwhile (/proc/stat busy minus the tree, plus steal), i.e. foreign load during the row.
"steady" is the time from the first to the last per-submission log line divided by N - 1, and
"fixed s" = wall - N x steady (start-up and wind-down).
This machine's cores are shared: compare rows within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

from grader.kernel import KERNEL_ENV  # noqa: E402  (every kernel here gets the grader's settings)

ASSIGNMENT = REPO / "assignments" / "03-sampling"
BENCH = REPO / ".bench"
NBG_VENV = BENCH / "nbgrader-venv"
OUR_PY = REPO / ".venv" / "bin" / "python"
GRADER = REPO / ".venv" / "bin" / "grader"
FUNCTIONS = [
    "softmax_with_temperature",
    "greedy_next_token",
    "top_k_filter",
    "top_p_filter",
    "sample_next_token",
    "generate",
    "beam_search",
]
# Realistic bugs, as edits of the instructor's solution: (name, function, old text, new text).
BUGS = [
    ("temperature ignored", "softmax_with_temperature",
     "F.softmax(logits / temperature, dim=-1)", "F.softmax(logits, dim=-1)"),
    ("greedy returns floats", "greedy_next_token",
     "return torch.argmax(logits, dim=-1)", "return torch.argmax(logits, dim=-1).float()"),
    ("top-k drops the k-th value", "top_k_filter", "logits < kth_value", "logits <= kth_value"),
    ("top-p drops the token crossing p", "top_p_filter",
     "remove_sorted = mass_above >= p", "remove_sorted = sorted_probs.cumsum(dim=-1) >= p"),
    ("generate ignores EOS", "generate",
     "            if eos_token_id is not None and next_id.item() == eos_token_id:\n                break\n", ""),
    ("beam search returns the worst beam", "beam_search", "return beams[:1]", "return beams[-1:]"),
]  # fmt: skip
BUG_EVERY = 5  # submissions 5, 10, 15, ... have one bug each, cycling through BUGS
DEMO = (
    "# A quick look at my functions\n"
    "cat_logits = torch.tensor([3.0, 2.0, 1.5, 0.5, -1.0])\n"
    "print(softmax_with_temperature(cat_logits, 0.5))\n"
    "print(greedy_next_token(cat_logits), top_k_filter(cat_logits, 2), top_p_filter(cat_logits, 0.9))\n"
)
IMPORTS = "import torch\nimport torch.nn.functional as F\n"
# `grader grade` flags that would turn on the zygote fast start (issue 7); row (a) runs once one exists.
ZYGOTE_FLAGS = ("--zygote", "--fast-start")


# ----------------------------------------------------------------------------- submissions


def solution_sources() -> dict[str, str]:
    """Each graded function's cell from the instructor notebook, solution markers removed."""
    import nbformat

    nb = nbformat.read(ASSIGNMENT / "sampling.ipynb", as_version=4)
    out = {}
    for cell in nb.cells:
        for fn in FUNCTIONS:
            if cell.cell_type == "code" and f"def {fn}(" in cell.source:
                markers = ("### BEGIN SOLUTION", "### END SOLUTION")
                lines = [ln for ln in cell.source.splitlines() if ln.strip() not in markers]
                out[fn] = "\n".join(lines) + "\n"
    missing = set(FUNCTIONS) - set(out)
    if missing:
        sys.exit(f"speed: no cell defines {sorted(missing)} in {ASSIGNMENT / 'sampling.ipynb'}")
    return out


def student_code(i: int, solutions: dict[str, str]) -> tuple[dict[str, str], str | None]:
    """Student ``i`` (1-based): the source of each function, and the bug's name if any."""
    code = dict(solutions)
    if i % BUG_EVERY:
        return code, None
    name, fn, old, new = BUGS[(i // BUG_EVERY - 1) % len(BUGS)]
    if old not in code[fn]:
        sys.exit(f"speed: bug {name!r}: {old!r} not found in the solution of {fn}")
    code[fn] = code[fn].replace(old, new)
    return code, name


def write_our_notebook(path: Path, code: dict[str, str]) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(IMPORTS)]
    nb.cells += [nbformat.v4.new_code_cell(code[fn]) for fn in FUNCTIONS]
    nb.cells.append(nbformat.v4.new_code_cell(DEMO))
    nbformat.write(nb, path)


# ----------------------------------------------------------------------------- the nbgrader course

HELPERS = """\
# Autograder helpers (read-only): inputs built like the course grader's, and its comparisons.
import torch
inf = float("inf")
COURSE_LM = {course_lm!r}
_loaded = {{}}


def _randn(shape, seed, scale=1.0, shift=0.0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale + shift).to(dtype)


def _randint(shape, high, seed, low=0, dtype=torch.int64):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(low, high, tuple(shape), generator=g).to(dtype)


def _course(kind):
    if kind not in _loaded:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        loader = AutoModelForCausalLM if kind == "model" else AutoTokenizer
        _loaded[kind] = loader.from_pretrained(COURSE_LM)
    return _loaded[kind].eval() if kind == "model" else _loaded[kind]


def _encode(text):
    return torch.tensor([_course("tokenizer").encode(text)], dtype=torch.int64)


def _token_id(text):
    (token,) = _course("tokenizer").encode(text)
    return token


def _check_tensor(actual, expected):
    assert isinstance(actual, torch.Tensor), f"expected a torch.Tensor, got {{type(actual).__name__}}"
    assert actual.shape == expected.shape, f"expected shape {{tuple(expected.shape)}}, got {{tuple(actual.shape)}}"
    assert actual.dtype == expected.dtype, f"expected dtype {{expected.dtype}}, got {{actual.dtype}}"


def _check_exact(actual, expected):
    _check_tensor(actual, expected)
    assert torch.equal(actual, expected), "wrong values"


def _check_close(actual, expected, rtol, atol):
    _check_tensor(actual, expected)
    a, e = actual.double(), expected.double()
    assert not (torch.isnan(a).any() and not torch.isnan(e).any()), "NaN in the result"
    assert not ((torch.isinf(e) | torch.isinf(a)) & (e != a)).any(), "infinities in the wrong places"
    excess = torch.where(torch.isfinite(e), (a - e).abs() - (atol + rtol * e.abs()), torch.zeros_like(e))
    assert excess.numel() == 0 or excess.max() <= 0, "values not close"


def _check_distribution(fn, kwargs, probs, draws=2000, alpha=1e-6):
    outs = []
    for i in range(draws):
        torch.manual_seed(i)
        outs.append(fn(**kwargs))
    B, V = probs.shape
    for ids in outs:
        assert isinstance(ids, torch.Tensor) and tuple(ids.shape) == (B,), "expected ids of shape (B,)"
        assert ids.dtype == torch.int64, f"expected int64 ids, got {{ids.dtype}}"
    ids = torch.stack(outs)
    assert ids.min() >= 0 and ids.max() < V, "token ids out of range"
    counts = torch.zeros(B, V, dtype=torch.float64)
    counts.scatter_add_(1, ids.T, torch.ones(B, draws, dtype=torch.float64))
    for row in range(B):
        p, c = probs[row].double(), counts[row]
        assert not ((p == 0) & (c > 0)).any(), f"row {{row}}: drew a token of probability 0"
        exp = p * draws
        big = exp >= 5
        o = torch.cat([c[big], c[~big].sum().reshape(1)])
        x = torch.cat([exp[big], exp[~big].sum().reshape(1)])
        o, x = o[x > 0], x[x > 0]
        if len(x) < 2:
            continue
        stat = float(((o - x) ** 2 / x).sum())
        dof = torch.tensor((len(x) - 1) / 2, dtype=torch.float64)
        p_value = float(torch.special.gammaincc(dof, torch.tensor(stat / 2)))
        assert p_value >= alpha / B, f"row {{row}}: the draws do not follow the distribution (p = {{p_value:.2g}})"
"""


def _literal(value) -> str:
    import torch

    if isinstance(value, torch.Tensor):
        return f"torch.tensor({value.tolist()!r}, dtype={value.dtype})"
    return repr(value)


def _arg_code(spec) -> str:
    """Python source that builds one argument of a case, from its raw TOML form (grader/inputs.py)."""
    if not isinstance(spec, dict):
        return repr(spec)
    dtype = f"torch.{spec['dtype']}" if "dtype" in spec else None
    if "tensor" in spec:
        return f"torch.tensor({spec['tensor']!r}, dtype={dtype or 'torch.float32'})"
    if "randn" in spec:
        extra = "".join(f", {k}={spec[k]!r}" for k in ("scale", "shift") if k in spec)
        return f"_randn({spec['randn']!r}, seed={spec['seed']}{extra}" + (f", dtype={dtype})" if dtype else ")")
    if "randint" in spec:
        return f"_randint({spec['randint']!r}, high={spec['high']}, seed={spec['seed']}, low={spec.get('low', 0)}" + (
            f", dtype={dtype})" if dtype else ")"
        )
    if "model" in spec:
        return '_course("model")'
    if "encode" in spec:
        return f"_encode({spec['encode']!r})"
    if "token_id" in spec:
        return f"_token_id({spec['token_id']!r})"
    if "generator" in spec:
        return f"torch.Generator().manual_seed({spec['generator']})"
    raise SystemExit(f"speed: no nbgrader translation for the argument {spec!r}")


def nbgrader_tests(spec, plan) -> list[tuple[str, str, float, bool]]:
    """(grade_id, source, points, hidden) per case of the spec: the nbgrader version of each test."""
    from grader.spec import CloseCompare, DistributionCompare

    cells = []
    for q_spec, q_plan in zip(spec.questions, plan.questions, strict=True):
        total = sum(c.weight for c in q_plan.cases)
        for n, (c_spec, c_plan) in enumerate(zip(q_spec.cases, q_plan.cases, strict=True), 1):
            args = ",\n    ".join(f"{k}={_arg_code(v)}" for k, v in c_spec.args.items())
            expected = _literal(c_plan.expected)
            rule = c_plan.compare
            if isinstance(rule, DistributionCompare):
                body = (
                    f"_check_distribution({q_plan.function}, dict(\n    {args},\n), {expected}, "
                    f"draws={rule.draws}, alpha={rule.alpha!r})"
                )
            elif isinstance(rule, CloseCompare):
                body = (
                    f"torch.manual_seed(0)\n_check_close({q_plan.function}(\n    {args},\n), {expected}, "
                    f"rtol={rule.rtol!r}, atol={rule.atol!r})"
                )
            else:
                body = f"torch.manual_seed(0)\n_check_exact({q_plan.function}(\n    {args},\n), {expected})"
            head = f"# {q_plan.function}: {c_plan.name}\n"
            if c_plan.hidden:
                source = head + "### BEGIN HIDDEN TESTS\n" + body + "\n### END HIDDEN TESTS\n"
            else:
                source = head + body + "\n"
            points = q_plan.points * c_plan.weight / total
            cells.append((f"test_{q_plan.function}_{n}", source, points, c_plan.hidden))
    return cells


def _nbg_meta(grade_id: str, *, grade=False, solution=False, locked=False, points=None) -> dict:
    meta = {"grade": grade, "solution": solution, "locked": locked, "grade_id": grade_id, "schema_version": 3}
    if points is not None:
        meta["points"] = points
    return meta


def write_nbgrader_source(path: Path, tests, course_lm: Path) -> None:
    import nbformat

    instructor = nbformat.read(ASSIGNMENT / "sampling.ipynb", as_version=4)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cells = [
        nbformat.v4.new_markdown_cell("# Assignment 3: From logits to the next token (nbgrader version)"),
        nbformat.v4.new_code_cell(IMPORTS),
        nbformat.v4.new_code_cell(HELPERS.format(course_lm=str(course_lm))),
    ]
    ids = ["intro", "imports", "helpers"]
    for cell in cells:
        cell.metadata["nbgrader"] = _nbg_meta(ids.pop(0), locked=True)
    for fn in FUNCTIONS:  # the instructor's cells, with their ### BEGIN/END SOLUTION markers
        source = next(c.source for c in instructor.cells if c.cell_type == "code" and f"def {fn}(" in c.source)
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["nbgrader"] = _nbg_meta(f"solution_{fn}", solution=True)
        cells.append(cell)
    cells.append(nbformat.v4.new_code_cell(DEMO))  # the student's own cell, as in our submissions
    for grade_id, source, points, _hidden in tests:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["nbgrader"] = _nbg_meta(grade_id, grade=True, locked=True, points=points)
        cells.append(cell)
    nb.cells = cells
    nbformat.write(nb, path)


def write_nbgrader_submission(release: Path, path: Path, code: dict[str, str]) -> None:
    """The released notebook with the student's functions in its solution cells."""
    import nbformat

    nb = nbformat.read(release, as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        if grade_id.startswith("solution_"):
            cell.source = code[grade_id.removeprefix("solution_")]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def jupyter_env(run: Path) -> dict[str, str]:
    """Environment for nbgrader and nbconvert: their venv first, Jupyter state under ``run``, and a
    ``python3`` kernelspec (first on JUPYTER_PATH) that starts this project's .venv interpreter."""
    kernels = run / "jupyter-path" / "kernels" / "python3"
    kernels.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [str(OUR_PY), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (grader .venv)",
        "language": "python",
        "env": KERNEL_ENV,
    }
    (kernels / "kernel.json").write_text(json.dumps(spec, indent=1))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "IPYTHON", "VIRTUAL_ENV"))}
    env.update(
        PATH=f"{NBG_VENV / 'bin'}:/usr/bin:/bin",
        JUPYTER_PATH=str(run / "jupyter-path"),
        JUPYTER_CONFIG_DIR=str(run / "jupyter-config"),
        JUPYTER_DATA_DIR=str(run / "jupyter-data"),
        JUPYTER_RUNTIME_DIR=str(run / "jupyter-runtime"),
        IPYTHONDIR=str(run / "ipython"),
        PYTHONWARNINGS="ignore",
    )
    return env


def grader_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "IPYTHON"))}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PATH=f"{GRADER.parent}:/usr/bin:/bin")
    return env


# ----------------------------------------------------------------------------- measuring


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


@dataclass
class Mode:
    """One row of the table. ``run(ctx)`` returns a Measured, or None with ``reason`` set (not run)."""

    key: str
    label: str
    parallel: str
    marker: str = ""  # regex of the one output line per submission
    run: object = None
    reason: str = ""
    result: Measured | None = None
    scores: dict[str, float] = field(default_factory=dict)


@dataclass
class Ctx:
    n: int
    run: Path
    ours: Path
    course: Path
    ids: list[str]
    jenv: dict
    max_score: float
    questions: list


def grader_flags() -> str:
    done = subprocess.run([str(GRADER), "grade", "--help"], capture_output=True, text=True, env=grader_env())
    return done.stdout + done.stderr


def zygote_flag() -> str | None:
    text = grader_flags()
    return next((f for f in ZYGOTE_FLAGS if re.search(rf"{re.escape(f)}\b", text)), None)


def run_ours(ctx: Ctx, extra: list[str], name: str) -> Measured:
    out = ctx.run / f"out-{name}"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [str(GRADER), "grade", str(ASSIGNMENT), str(ctx.ours), "--out", str(out), "--jobs", "2", "--quiet", *extra]
    return measure([cmd], grader_env(), REPO, ctx.run / f"log-{name}.txt")


def run_zygote(ctx: Ctx) -> Measured | None:
    flag = zygote_flag()
    return run_ours(ctx, [flag], "a") if flag else None


def run_nbgrader(ctx: Ctx) -> Measured:
    cmd = [str(NBG_VENV / "bin" / "nbgrader"), "autograde", "ps1", "--force"]
    return measure([cmd], ctx.jenv, ctx.course, ctx.run / "log-c.txt")


def _nbconvert(paths: list[Path], out: Path) -> list[str]:
    return [str(NBG_VENV / "bin" / "jupyter"), "nbconvert", "--to", "notebook", "--execute", "--allow-errors",
            "--output-dir", str(out), *map(str, paths)]  # fmt: skip


def run_floor(ctx: Ctx, parts: int, name: str) -> Measured:
    paths = sorted(ctx.ours.glob("*.ipynb"))
    out = ctx.run / f"nbconvert-{name}"
    shutil.rmtree(out, ignore_errors=True)
    cmds = [_nbconvert(paths[i::parts], out) for i in range(parts)]
    return measure(cmds, ctx.jenv, ctx.run, ctx.run / f"log-{name}.txt")


OURS_LINE = r"^\S+: [\d.]+/[\d.]+ \("  # `grader grade --quiet`: one line per graded submission
NBCONVERT_LINE = r"Converting notebook "
MODES = [  # add a row here (and a run function) to benchmark another way of grading
    Mode("a", "our grader, fast start (zygote)", "2 jobs", OURS_LINE, run_zygote, "not built yet"),
    Mode("b", "our grader, sandboxed kernel", "2 jobs", OURS_LINE, lambda c: run_ours(c, [], "b")),
    Mode("c", "nbgrader 0.9.6 autograde", "serial", r"Autograding ", run_nbgrader),
    Mode("d1", "floor: nbconvert --execute, 1 process", "serial", NBCONVERT_LINE, lambda c: run_floor(c, 1, "d1")),
    Mode("d2", "floor: nbconvert --execute, 2 processes", "2 at once", NBCONVERT_LINE, lambda c: run_floor(c, 2, "d2")),
]


# ----------------------------------------------------------------------------- scores


def our_scores(out: Path) -> dict[str, float]:
    """Full-precision scores from results/<id>.json (gradebook.csv rounds them for people)."""
    return {p.stem: float(json.loads(p.read_text())["score"]) for p in (out / "results").glob("*.json")}


NBG_SCORES = """
import json, sys
from nbgrader.api import Gradebook
with Gradebook(sys.argv[1]) as gb:
    print(json.dumps({s.student_id: s.score for s in gb.assignment_submissions("ps1")}))
"""


def nbgrader_scores(ctx: Ctx) -> dict[str, float]:
    done = subprocess.run(
        [str(NBG_VENV / "bin" / "python"), "-c", NBG_SCORES, f"sqlite:///{ctx.course / 'gradebook.db'}"],
        capture_output=True, text=True, env=ctx.jenv, cwd=ctx.course,
    )  # fmt: skip
    if done.returncode:
        sys.exit(f"speed: reading nbgrader's gradebook failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- set-up


def run_checked(cmd: list[str], env: dict, cwd: Path, what: str) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"speed: {what} failed ({' '.join(cmd)}):\n{(done.stdout + done.stderr)[-3000:]}")
    return done.stdout + done.stderr


def prepare(n: int, run: Path) -> tuple[Ctx, list[str]]:
    from grader.groundtruth import build_plan
    from grader.spec import load_assignment

    if not (NBG_VENV / "bin" / "nbgrader").exists():
        sys.exit("speed: no nbgrader venv; run: bash bench/nbgrader_setup.sh")
    shutil.rmtree(run, ignore_errors=True)
    ours, course = run / "ours", run / "nbgrader-course"
    ours.mkdir(parents=True)
    assignment = load_assignment(ASSIGNMENT)
    plan = build_plan(assignment)
    solutions = solution_sources()
    ids, notes = [], []
    codes = {}
    for i in range(1, n + 1):
        sid = f"s{i:03d}"
        code, bug = student_code(i, solutions)
        codes[sid] = code
        ids.append(sid)
        write_our_notebook(ours / f"{sid}.ipynb", code)
        if bug:
            notes.append(f"{sid}: {bug}")
    # the nbgrader course: source notebook, database, release, submissions (not timed)
    source = course / "source" / "ps1"
    source.mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        "c.CourseDirectory.course_id = 'speedbench'\n"
        f"c.CourseDirectory.db_url = {'sqlite:///' + str(course / 'gradebook.db')!r}\n"
        f"c.Exchange.root = {str(run / 'exchange')!r}\n"
    )
    write_nbgrader_source(source / "sampling.ipynb", nbgrader_tests(assignment.spec, plan), plan.assets["course-lm"])
    jenv = jupyter_env(run)
    nbg = str(NBG_VENV / "bin" / "nbgrader")
    run_checked([nbg, "db", "assignment", "add", "ps1"], jenv, course, "nbgrader db assignment add")
    run_checked([nbg, "generate_assignment", "ps1", "--force"], jenv, course, "nbgrader generate_assignment")
    release = course / "release" / "ps1" / "sampling.ipynb"
    text = release.read_text()
    leaks = [w for w in ("BEGIN HIDDEN TESTS", "BEGIN SOLUTION", "torch.topk(", "_randn([3, 1000]")
             if w in text]  # fmt: skip
    if leaks:
        sys.exit(f"speed: the nbgrader release still holds {leaks}")
    (course / "students.csv").write_text("id,first_name,last_name\n" + "".join(f"{s},S,{s}\n" for s in ids))
    run_checked([nbg, "db", "student", "import", "students.csv"], jenv, course, "nbgrader db student import")
    for sid in ids:
        target = course / "submitted" / sid / "ps1"
        write_nbgrader_submission(release, target / "sampling.ipynb", codes[sid])
        (target / "timestamp.txt").write_text("2026-01-15 12:00:00.000000 UTC")
    kernels = run_checked([str(NBG_VENV / "bin" / "jupyter"), "kernelspec", "list", "--json"], jenv, run, "kernelspec")
    argv0 = json.loads(kernels)["kernelspecs"]["python3"]["spec"]["argv"][0]
    if argv0 != str(OUR_PY):
        sys.exit(f"speed: nbgrader's python3 kernel is {argv0}, not {OUR_PY}")
    return Ctx(n, run, ours, course, ids, jenv, plan.max_score, plan.questions), notes


def warm_up(ctx: Ctx) -> None:
    """Page cache: torch, transformers, the course model, nbgrader's and nbconvert's imports."""
    subprocess.run([str(OUR_PY), "-c", "import torch, transformers, ipykernel.kernelapp"], env=ctx.jenv)
    subprocess.run([str(NBG_VENV / "bin" / "nbgrader"), "--version"], env=ctx.jenv, capture_output=True)
    subprocess.run([str(NBG_VENV / "bin" / "jupyter"), "nbconvert", "--version"], env=ctx.jenv, capture_output=True)
    grader_flags()


# ----------------------------------------------------------------------------- one notebook


def single(ctx: Ctx, reps: int) -> dict[str, list[float]]:
    """``grader check`` of one solved notebook vs ``nbconvert --execute`` of it, CLI wall times, interleaved."""
    release = ctx.run / "release"
    run_checked([str(GRADER), "release", str(ASSIGNMENT), "--out", str(release)], grader_env(), REPO, "grader release")
    notebook = release / "solved.ipynb"
    shutil.copy(ctx.ours / "s001.ipynb", notebook)
    cmds = {
        "grader check": ([str(GRADER), "check", str(notebook)], grader_env()),
        "nbconvert --execute": (_nbconvert([notebook], ctx.run / "single-nbconvert"), ctx.jenv),
    }
    times: dict[str, list[float]] = {k: [] for k in cmds}
    for _ in range(reps):
        for name, (cmd, env) in cmds.items():
            started = time.monotonic()
            done = subprocess.run(cmd, cwd=ctx.run, env=env, capture_output=True, text=True)
            times[name].append(time.monotonic() - started)
            if done.returncode:
                sys.exit(f"speed: {name} failed:\n{(done.stdout + done.stderr)[-2000:]}")
            if name == "grader check" and "12 / 12" not in done.stdout:
                sys.exit(f"speed: grader check did not give the solved notebook 12 / 12:\n{done.stdout[-2000:]}")
    return times


TESTS_ALONE = """
import contextlib, io, json, sys, time
t0 = time.perf_counter()
import nbformat
nb = nbformat.read(sys.argv[1], as_version=4)
ns, parts = {}, {}
for cell in nb.cells:
    if cell.cell_type != "code":
        continue
    gid = cell.metadata.get("nbgrader", {}).get("grade_id", "demo")
    key = "import torch" if gid == "imports" else "tests" if gid.startswith("test_") else "functions"
    key = gid.rsplit("_", 1)[0].removeprefix("test_") if gid.startswith("test_") else key
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        exec(cell.source, ns)
    parts[key] = parts.get(key, 0.0) + time.perf_counter() - started
parts["process total"] = time.perf_counter() - t0
print(json.dumps(parts))
"""


def tests_alone(ctx: Ctx, reps: int) -> dict[str, float]:
    """The tests' own work, without any kernel: the nbgrader source notebook (solutions + all test cells)
    exec'd cell by cell in one fresh .venv process; median seconds per part over ``reps`` runs."""
    env = {**grader_env(), **KERNEL_ENV, "PYTHONWARNINGS": "ignore"}
    source = ctx.course / "source" / "ps1" / "sampling.ipynb"
    runs = []
    for _ in range(reps):
        out = run_checked([str(OUR_PY), "-c", TESTS_ALONE, str(source)], env, ctx.run, "tests alone")
        runs.append(json.loads(out.strip().splitlines()[-1]))
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def tests_in_kernel(ctx: Ctx) -> dict[str, float]:
    """The same notebook run once by ``nbconvert --execute`` in a kernel; seconds per part from nbclient's
    cell timing (execute_input to execute_reply), and the CLI's wall time as "process total"."""
    from datetime import datetime

    import nbformat

    source = ctx.course / "source" / "ps1" / "sampling.ipynb"
    out = ctx.run / "tests-in-kernel"
    started = time.monotonic()
    run_checked(_nbconvert([source], out), ctx.jenv, ctx.run, "nbconvert of the nbgrader source notebook")
    parts: dict[str, float] = {}
    for cell in nbformat.read(out / source.name, as_version=4).cells:
        timing = cell.metadata.get("execution", {})
        if cell.cell_type != "code" or "shell.execute_reply" not in timing:
            continue
        gid = cell.metadata.get("nbgrader", {}).get("grade_id", "demo")
        key = "import torch" if gid == "imports" else "functions"
        key = gid.rsplit("_", 1)[0].removeprefix("test_") if gid.startswith("test_") else key
        seconds = (
            datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
            - datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
        ).total_seconds()
        parts[key] = parts.get(key, 0.0) + seconds
    parts["process total"] = time.monotonic() - started
    return parts


# ----------------------------------------------------------------------------- report


def steady(m: Measured, marker: str) -> tuple[float | None, int]:
    """Seconds between per-submission log lines (first to last), and how many such lines there were."""
    times = [t for t, line in m.lines if re.search(marker, line)]
    if len(times) < 2:
        return None, len(times)
    return (times[-1] - times[0]) / (len(times) - 1), len(times)


def table(ctx: Ctx, modes: list[Mode]) -> str:
    head = (
        f"{'':3} {'mode':42} {'parallel':9} {'wall s':>7} {'subs/min':>8} {'s/sub':>6} {'steady':>6} "
        f"{'fixed s':>7} {'RSS MiB':>7} {'tree MiB':>8} {'CPU s/sub':>9} {'others s':>8}"
    )
    rows = [head, "-" * len(head)]
    for m in modes:
        if m.result is None:
            rows.append(f"({m.key}) {m.label:41} {m.parallel:9} {m.reason}")
            continue
        r, n = m.result, ctx.n
        gap, seen = steady(r, m.marker)
        fixed = r.wall - gap * n if gap is not None else float("nan")
        rows.append(
            f"({m.key}) {m.label:41} {m.parallel:9} {r.wall:7.1f} {60 * n / r.wall:8.1f} {r.wall / n:6.2f} "
            f"{(gap if gap is not None else float('nan')):6.2f} {fixed:7.1f} {r.hwm_mib:7.0f} {r.tree_mib:8.0f} "
            f"{r.tree_cpu_s / n:9.2f} {max(0.0, r.cpu_s - r.tree_cpu_s) + r.steal_s:8.0f}"
        )
    return "\n".join(rows)


def run_modes(ctx: Ctx, skip: list[str]) -> None:
    for mode in MODES:
        if mode.key in skip:
            mode.reason = "skipped (--skip)"
            continue
        print(f"speed: ({mode.key}) {mode.label} ...", file=sys.stderr)
        mode.result = mode.run(ctx)
        if mode.result is None:
            continue
        if any(mode.result.rcs):
            tail = "\n".join(line for _, line in mode.result.lines[-30:])
            sys.exit(f"speed: ({mode.key}) exited {mode.result.rcs}:\n{tail}")
        print(f"speed: ({mode.key}) {mode.result.wall:.1f} s", file=sys.stderr)
        if mode.key in ("a", "b"):
            mode.scores = our_scores(ctx.run / f"out-{mode.key}")
        elif mode.key == "c":
            mode.scores = nbgrader_scores(ctx)
        elif mode.key.startswith("d"):
            written = len(list((ctx.run / f"nbconvert-{mode.key}").glob("*.ipynb")))
            if written != ctx.n:
                sys.exit(f"speed: ({mode.key}) wrote {written} notebooks, not {ctx.n}")


def report(ctx: Ctx, bugs: list[str], one: dict[str, list[float]], alone: dict[str, dict[str, float]]) -> None:
    by = {m.key: m for m in MODES}
    print(
        f"03-sampling, N = {ctx.n} submissions ({len(bugs)} with a bug), {os.cpu_count()} CPU cores, "
        f"one run ({time.strftime('%Y-%m-%d %H:%M %Z')}); every kernel: {OUR_PY.relative_to(REPO)}, 1 thread"
    )
    print(table(ctx, MODES))
    b, c, d1, d2 = (by[k].result for k in ("b", "c", "d1", "d2"))
    if b and c:
        print(f"(b) vs (c): {c.wall / b.wall:.2f}x as fast as nbgrader autograde (our 2 jobs vs its serial run)")
    if b and d1 and d2:
        print(
            f"(b) vs (d): {b.wall / d1.wall:.2f}x the wall time of the serial floor, {b.wall / d2.wall:.2f}x the "
            f"2-at-a-time floor; overhead of (b) over (d2): {(b.wall - d2.wall) / ctx.n:+.2f} s wall and "
            f"{(b.tree_cpu_s - d2.tree_cpu_s) / ctx.n:+.2f} CPU-s per submission"
        )
    if c and d1:
        print(
            f"(c) vs (d1): {(c.wall - d1.wall) / ctx.n:+.2f} s wall and "
            f"{(c.tree_cpu_s - d1.tree_cpu_s) / ctx.n:+.2f} CPU-s per submission over the serial floor"
        )
    scored = [m for m in MODES if m.scores]
    for other in scored[1:]:
        same = sum(abs(scored[0].scores.get(s, -1) - other.scores.get(s, -2)) < 1e-3 for s in ctx.ids)
        print(f"scores ({scored[0].key}) vs ({other.key}): {same}/{ctx.n} students identical")
    for m in scored:
        full = sum(v >= ctx.max_score - 1e-3 for v in m.scores.values())
        mean = statistics.mean(m.scores.values())
        print(f"({m.key}) full marks: {full}/{ctx.n}, mean {mean:.2f}/{ctx.max_score:g}")
    if one:
        gc, nc = (statistics.median(one[k]) for k in ("grader check", "nbconvert --execute"))
        print(
            f"one solved notebook, CLI wall, median of {len(one['grader check'])}: grader check {gc:.2f} s "
            f"({', '.join(f'{t:.2f}' for t in one['grader check'])}; 13 public tests), nbconvert --execute "
            f"{nc:.2f} s ({', '.join(f'{t:.2f}' for t in one['nbconvert --execute'])}); difference {gc - nc:+.2f} s"
        )
    cases = sum(len(q.cases) for q in ctx.questions)
    where = {
        "plain": f"the {cases} tests' own work, no kernel (its nbgrader notebook exec'd in one fresh process, median)",
        "kernel": "the same notebook in a kernel (nbconvert --execute, 1 run, nbclient's cell timing)",
    }
    for name, parts in alone.items():
        parts = dict(parts)
        total = parts.pop("process total")
        tests = sum(v for k, v in parts.items() if k not in ("import torch", "functions"))
        detail = ", ".join(f"{k} {v:.2f}" for k, v in parts.items() if v >= 0.01)
        print(f"{where[name]}: {total:.2f} s in all, tests {tests:.2f} s; per part: {detail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=40, help="submissions in the batch (default 40)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions of the one-notebook timing (default 3)")
    parser.add_argument("--skip", nargs="*", default=[], help="rows not to run, e.g. --skip c d1")
    args = parser.parse_args()
    if args.n < 4:
        parser.error("--n must be at least 4")
    run = BENCH / "speed"
    t0 = time.monotonic()
    print(f"speed: preparing {args.n} submissions and the nbgrader course in {run} ...", file=sys.stderr)
    ctx, bugs = prepare(args.n, run)
    warm_up(ctx)
    print(f"speed: prepared in {time.monotonic() - t0:.0f} s; buggy: {'; '.join(bugs)}", file=sys.stderr)
    run_modes(ctx, args.skip)
    print(f"speed: one notebook, {args.reps} x each ...", file=sys.stderr)
    one = single(ctx, args.reps) if args.reps else {}
    alone = {"plain": tests_alone(ctx, args.reps), "kernel": tests_in_kernel(ctx)} if args.reps else {}
    print()
    report(ctx, bugs, one, alone)
    print(f"total bench time {time.monotonic() - t0:.0f} s; notebooks, outputs and logs in {run}")


if __name__ == "__main__":
    main()
