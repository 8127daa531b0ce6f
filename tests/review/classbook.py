"""A class's gradebook with written answers to review, built without a kernel (as tests/batch/test_reviews.py
does): notebooks with tagged answer cells, read by grading's own ``collect_answers``, recorded with synthetic
automatic results."""

from __future__ import annotations

from pathlib import Path

import nbformat

from grader.assignment.manual import ManualQuestion
from grader.assignment.spec import RubricItem
from grader.batch.gradebook import AssignmentInfo, Gradebook, StudentRow
from grader.grading.answers import collect_answers
from tests.batch.helpers import fake_result

WHY = ManualQuestion(
    "why-scale",
    "markdown",
    2.0,
    "Why divide the attention scores by $\\sqrt{d_k}$?",
    (
        RubricItem(id="1", points=2, text="Correct: keeps the softmax out of saturation"),
        RubricItem(id="2", points=-1, text="Does not say that the dot product's variance grows with d_k"),
    ),
)
MASK = ManualQuestion(
    "causal-mask",
    "markdown",
    2.0,
    "What would go wrong without the causal mask?",
    (
        RubricItem(id="1", points=1, text="Tokens attend to the future: training cheats"),
        RubricItem(id="2", points=1, text="Generation then sees a different distribution than training"),
    ),
)
QUESTIONS = [WHY, MASK]
SCRIPT = "<script>window.__pwned=1</script>Scaling keeps the softmax soft."
ONERROR = 'Because of the variance. <img src=x onerror="window.__pwned=1">'
CLASS = {  # student id -> (why-scale answer, causal-mask answer); None: the answer cell was deleted
    "s01": ("Scaling keeps the softmax out of saturation.", "The model would see the future tokens."),
    "s02": ("scaling keeps the **softmax** out of saturation", "The model would see future tokens."),
    "s03": (SCRIPT, "It cheats during training."),
    "s04": (ONERROR, "Nothing."),
    "s05": (None, "Training looks at the next token."),
    "s06": ("The variance of $q \\cdot k$ grows with $d_k$:\n\n$$\\frac{q \\cdot k}{\\sqrt{d_k}}$$", "Leaks."),
    "s07": ("YOUR ANSWER HERE", "Attention to later positions."),
    "s08": ("Large dot products make the gradients vanish.", "Future leak."),
    "s09": ("| d_k | var |\n|---|---|\n| 64 | 64 |", "It would see the answer."),
    "s10": ("To normalize.", "Training and sampling differ."),
    "s11": ("Because the paper says so.", "No idea."),
    "s12": ("Numerical stability.", "The future is visible."),
}


def notebook(folder: Path, sid: str, answers: tuple[str | None, str | None]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1")]
    for question, text in zip(QUESTIONS, answers, strict=True):
        if text is not None:
            nb.cells.append(nbformat.v4.new_markdown_cell(text, metadata={"tags": [f"answer:{question.name}"]}))
    path = folder / f"{sid}.ipynb"
    nbformat.write(nb, path)
    return path


def class_gradebook(tmp_path: Path, answers: dict = CLASS) -> Path:
    """OUT with a gradebook of ``answers`` (all to review); returns OUT."""
    out, notebooks = tmp_path / "out", tmp_path / "notebooks"
    notebooks.mkdir()
    questions = [("greedy_next_token", 1.0), ("softmax_with_temperature", 2.0)] + [
        (q.name, q.points) for q in QUESTIONS
    ]
    with Gradebook.open(out) as gb:
        gb.bind(AssignmentInfo("mini", "Mini", "1", "spec", 7.0, questions), regrade=False)
        gb.sync_manual(QUESTIONS)
        run = gb.start_run(jobs=1, isolation="local", source="x", layout="folder", issues=[])
        gb.note_students(run, [StudentRow(sid, f"Name {sid}", "", "", "", "fp", None) for sid in answers])
        for sid, texts in answers.items():
            found = collect_answers(notebook(notebooks, sid, texts), QUESTIONS)
            gb.record(run, fake_result(sid, {"greedy_next_token: random": True}), "fp", found)
    return out
