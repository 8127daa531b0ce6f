"""nbgrader's side of the benchmark: the same assignment as an nbgrader 0.9.6 course, with the same checks.

:func:`build_course` writes, in ``RUN/nbgrader-course``: the source notebook (the instructor's solution
cells, a demo cell, and one autograded test cell per case of the spec, public and hidden, the latter in
``### BEGIN HIDDEN TESTS``), the database, the student release (``generate_assignment``, checked to hold
no solution and no hidden test) and one submission per student: the release with that student's
functions in its solution cells. Nothing of this is timed.

Each test cell builds its inputs like grader/assignment/inputs.py builds them (the helpers in :data:`HELPERS`), has
the expected value as a literal computed by our reference, and compares like grader/compare/__init__.py (close,
exact, chi-square for the sampler), worth the case's share of its question's points. So nbgrader and our
grader must give every student the same score, which the benchmark checks (:func:`nbgrader_scores`).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.submissions import DEMO, FUNCTIONS, IMPORTS, instructor_cell
from bench.tools import ASSIGNMENT, NBG_VENV, OUR_PY, run_checked

ASSIGNMENT_ID = "ps1"
NOTEBOOK = "sampling.ipynb"

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
    torch.manual_seed(0)  # once, as an instructor would write it (per-draw reseeding costs ~0.4 ms in a kernel)
    outs = [fn(**kwargs) for _ in range(draws)]
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
    """Python source that builds one argument of a case, from its raw TOML form (grader/assignment/inputs.py)."""
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
    from grader.compare.rules import CloseCompare, DistributionCompare

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
        cell = nbformat.v4.new_code_cell(instructor_cell(fn))
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


def build_course(course: Path, exchange: Path, ids: list[str], codes: dict, jenv: dict):
    """The whole nbgrader course for ``ids`` (see the module docstring); returns our assignment's plan."""
    from grader.assignment.groundtruth import build_plan
    from grader.assignment.spec import load_assignment

    assignment = load_assignment(ASSIGNMENT)
    plan = build_plan(assignment)
    source = course / "source" / ASSIGNMENT_ID
    source.mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        "c.CourseDirectory.course_id = 'speedbench'\n"
        f"c.CourseDirectory.db_url = {'sqlite:///' + str(course / 'gradebook.db')!r}\n"
        f"c.Exchange.root = {str(exchange)!r}\n"
    )
    write_nbgrader_source(source / NOTEBOOK, nbgrader_tests(assignment.spec, plan), plan.assets["course-lm"])
    nbg = str(NBG_VENV / "bin" / "nbgrader")
    run_checked([nbg, "db", "assignment", "add", ASSIGNMENT_ID], jenv, course, "nbgrader db assignment add")
    run_checked([nbg, "generate_assignment", ASSIGNMENT_ID, "--force"], jenv, course, "nbgrader generate_assignment")
    release = course / "release" / ASSIGNMENT_ID / NOTEBOOK
    text = release.read_text()
    leaks = [w for w in ("BEGIN HIDDEN TESTS", "BEGIN SOLUTION", "torch.topk(", "_randn([3, 1000]")
             if w in text]  # fmt: skip
    if leaks:
        sys.exit(f"speed: the nbgrader release still holds {leaks}")
    (course / "students.csv").write_text("id,first_name,last_name\n" + "".join(f"{s},S,{s}\n" for s in ids))
    run_checked([nbg, "db", "student", "import", "students.csv"], jenv, course, "nbgrader db student import")
    for sid in ids:
        target = course / "submitted" / sid / ASSIGNMENT_ID
        write_nbgrader_submission(release, target / NOTEBOOK, codes[sid])
        (target / "timestamp.txt").write_text("2026-01-15 12:00:00.000000 UTC")
    jupyter = str(NBG_VENV / "bin" / "jupyter")
    kernels = run_checked([jupyter, "kernelspec", "list", "--json"], jenv, course, "jupyter kernelspec list")
    argv0 = json.loads(kernels)["kernelspecs"]["python3"]["spec"]["argv"][0]
    if argv0 != str(OUR_PY):
        sys.exit(f"speed: nbgrader's python3 kernel is {argv0}, not {OUR_PY}")
    return plan


def source_notebook(course: Path) -> Path:
    """The course's source notebook: the solutions and every test cell."""
    return course / "source" / ASSIGNMENT_ID / NOTEBOOK


def autograde_cmd() -> list[str]:
    return [str(NBG_VENV / "bin" / "nbgrader"), "autograde", ASSIGNMENT_ID, "--force"]


NBG_SCORES = """
import json, sys
from nbgrader.api import Gradebook
with Gradebook(sys.argv[1]) as gb:
    print(json.dumps({s.student_id: s.score for s in gb.assignment_submissions(sys.argv[2])}))
"""


def nbgrader_scores(course: Path, jenv: dict) -> dict[str, float]:
    """Each student's total from nbgrader's gradebook, after ``autograde``."""
    done = subprocess.run(
        [str(NBG_VENV / "bin" / "python"), "-c", NBG_SCORES, f"sqlite:///{course / 'gradebook.db'}", ASSIGNMENT_ID],
        capture_output=True, text=True, env=jenv, cwd=course,
    )  # fmt: skip
    if done.returncode:
        sys.exit(f"speed: reading nbgrader's gradebook failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
