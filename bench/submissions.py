"""The benchmark's batch: N 03-sampling submissions written from the instructor's solution.

Each submission has an ``import torch`` cell, the seven graded functions (one cell each) and a tiny demo
cell that prints a few results, as a student's notebook would. Every fifth one (5, 10, 15, ...) has one
realistic bug, cycling through :data:`BUGS`; the rest are correct.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bench.tools import ASSIGNMENT
from grader.assignment.spec import load_assignment

# the graded functions, in the spec's order (a later one may call an earlier one)
FUNCTIONS = [question.function for question in load_assignment(ASSIGNMENT).spec.questions]
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
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def instructor_cell(fn: str) -> str:
    """The instructor notebook's cell that defines ``fn``, solution markers included."""
    import nbformat

    nb = nbformat.read(ASSIGNMENT / "sampling.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and f"def {fn}(" in cell.source:
            return cell.source
    sys.exit(f"speed: no cell defines {fn} in {ASSIGNMENT / 'sampling.ipynb'}")


def solution_sources() -> dict[str, str]:
    """Each graded function's cell from the instructor notebook, solution markers removed."""
    out = {}
    for fn in FUNCTIONS:
        lines = [ln for ln in instructor_cell(fn).splitlines() if ln.strip() not in MARKERS]
        out[fn] = "\n".join(lines) + "\n"
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
    """A submission for our grader (and the nbconvert floor): imports, the functions, the demo cell."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(IMPORTS)]
    nb.cells += [nbformat.v4.new_code_cell(code[fn]) for fn in FUNCTIONS]
    nb.cells.append(nbformat.v4.new_code_cell(DEMO))
    nbformat.write(nb, path)


def write_batch(n: int, folder: Path) -> tuple[list[str], dict[str, dict[str, str]], list[str]]:
    """Write ``s001.ipynb`` ... into ``folder``; return the ids, each one's code, and "id: bug" notes."""
    folder.mkdir(parents=True, exist_ok=True)
    solutions = solution_sources()
    ids, codes, notes = [], {}, []
    for i in range(1, n + 1):
        sid = f"s{i:03d}"
        code, bug = student_code(i, solutions)
        ids.append(sid)
        codes[sid] = code
        write_our_notebook(folder / f"{sid}.ipynb", code)
        if bug:
            notes.append(f"{sid}: {bug}")
    return ids, codes, notes
