"""Builders for class-sized inputs: Moodle download zips (three layouts, hostile entries), bad notebooks,
synthetic results (no kernel), and the command line with or without the sandbox."""

from __future__ import annotations

import dataclasses
import json
import stat
import zipfile
from pathlib import Path

import nbformat

from grader.assignment.manual import ManualQuestion
from grader.assignment.spec import RubricItem
from grader.batch.gradebook import Gradebook, StudentRow
from grader.grading.answers import collect_answers
from grader.grading.results import QuestionResult, SubmissionResult, TestResult
from grader.sandbox.isolation import sandbox_status
from tests.helpers import GREEDY, SOFTMAX

GOOD = (GREEDY, SOFTMAX)
WRONG_SOFTMAX = (  # ignores the temperature
    "import torch\ndef softmax_with_temperature(logits, temperature):\n    return torch.softmax(logits, -1)\n"
)
DATE = (2024, 6, 3, 10, 15, 0)
MINI_POINTS = {"greedy_next_token": 1.0, "softmax_with_temperature": 2.0}


def sandbox_args() -> list[str]:
    """``--no-sandbox`` where this machine has no sandbox (the CLI refuses to grade unisolated otherwise)."""
    return [] if sandbox_status()[0] else ["--no-sandbox"]


def nb_json(*cells: str, minor: int = 5, metadata: dict | None = None, cell_extra=None) -> bytes:
    """A v4 notebook's bytes; ``cell_extra(i)`` adds keys to code cell ``i`` (ids, Colab's metadata)."""
    code = []
    for i, src in enumerate(cells):
        cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": src}
        if minor >= 5:
            cell["id"] = f"cell-{i}"
        cell.update(cell_extra(i) if cell_extra else {})
        code.append(cell)
    body = {"cells": code, "metadata": metadata or {}, "nbformat": 4, "nbformat_minor": minor}
    return json.dumps(body, indent=1).encode()


def colab_notebook(*cells: str) -> bytes:
    """How Colab saves: minor 0, its own ids in cell metadata, widget metadata without 'state'."""
    meta = {
        "colab": {"provenance": [], "name": "blatt.ipynb"},
        "accelerator": "GPU",
        "widgets": {"application/vnd.jupyter.widget-state+json": {}},
        "kernelspec": {"name": "python3", "display_name": "Python 3"},
    }
    return nb_json(
        *cells,
        minor=0,
        metadata=meta,
        cell_extra=lambda i: {
            "metadata": {"id": f"Xy{i}z", "colab": {"base_uri": "https://localhost"}},
            "outputId": f"o{i}",
        },
    )


def vscode_notebook(*cells: str) -> bytes:
    """How VS Code (and tools) often save: a 4.4 file whose cells carry 4.5 ids, plus vscode metadata."""
    meta = {"vscode": {"interpreter": {"hash": "ab12"}}, "language_info": {"name": "python"}}
    return nb_json(
        *cells,
        minor=4,
        metadata=meta,
        cell_extra=lambda i: {"id": f"vs-{i}", "metadata": {"vscode": {"languageId": "python"}}},
    )


NBFORMAT3 = json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": []}]}).encode()


def write_zip(path: Path, entries: dict[str, bytes], symlinks: dict[str, str] | None = None) -> Path:
    """A zip of ``entries`` (name -> bytes; a name ending in / is a folder), plus symlink entries."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = ((stat.S_IFDIR | 0o755) if name.endswith("/") else (stat.S_IFREG | 0o644)) << 16
            zf.writestr(info, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name, DATE)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


def moodle(name: str, pid: int, layout: str, filename: str) -> str:
    """A file's path in a Moodle download: layout 'folders' (>= 4.1), 'old' (3.1-4.0) or 'flat'."""
    part = f"{name}_{pid}_assignsubmission_file"
    return {"folders": f"{part}/{filename}", "old": f"{part}_/{filename}", "flat": f"{part}_{filename}"}[layout]


def fake_result(sid: str, passed: dict[str, bool], status: str = "graded", seconds: float = 1.0) -> SubmissionResult:
    """A result of the mini assignment without a kernel: ``passed`` maps 'question: case' to pass/fail."""
    questions = {}
    for name, ok in passed.items():
        q = name.split(": ")[0]
        questions.setdefault(q, []).append((name, ok))
    qs = []
    for q, tests in questions.items():
        each = MINI_POINTS[q] / len(tests)
        ts = [
            TestResult(
                name=n,
                question=q,
                score=each if ok else 0.0,
                max_score=each,
                status="passed" if ok else "failed",
                kind="passed" if ok else "wrong",
                output="" if ok else "returned a wrong value",
                hidden="hidden" in n,
            )
            for n, ok in tests
        ]
        qs.append(QuestionResult(name=q, score=sum(t.score for t in ts), max_score=MINI_POINTS[q], tests=ts))
    total = sum(q.max_score for q in qs)
    message = "" if status == "graded" else "x.ipynb: not a readable notebook"
    return SubmissionResult(
        student_id=sid,
        assignment="mini",
        status=status,
        score=sum(q.score for q in qs),
        max_score=total,
        message=message,
        questions=qs,
        seconds=seconds,
        isolation="local",
    )


WHY = ManualQuestion(
    "why-scale",
    "markdown",
    2.0,
    "Why divide by sqrt(d_k)?",
    (RubricItem(id="1", points=2, text="Correct"), RubricItem(id="2", points=-1, text="No variance argument")),
    cell_id="answer-cell",
)


def notebook(folder: Path, sid: str, answer: str | None, *, tagged: bool = True) -> Path:
    """A submission whose Markdown answer cell to WHY holds ``answer`` (None: the student deleted the cell)."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_markdown_cell(answer or "")
    cell.id = "answer-cell"
    if tagged:
        cell.metadata["tags"] = ["answer:why-scale"]
    nb.cells = [nbformat.v4.new_code_cell("x = 1"), *([cell] if answer is not None else [])]
    path = folder / f"{sid}.ipynb"
    nbformat.write(nb, path)
    return path


def manual_gradebook(tmp_path: Path, plan, answers: dict[str, str | None]) -> Path:
    """OUT with a gradebook of the mini assignment plus WHY: each student passes one test and answered WHY with
    ``answers[sid]``, read from a real notebook (no kernel). Returns OUT."""
    from grader.batch.run import assignment_info

    out = tmp_path / "out"
    plan = dataclasses.replace(plan, manual=[WHY])
    with Gradebook.open(out) as gb:
        gb.bind(assignment_info(plan), regrade=False)
        gb.sync_manual(plan.manual)
        run = gb.start_run(jobs=1, isolation="local", source="x", layout="folder", issues=[])
        gb.note_students(run, [StudentRow(sid, f"Name {sid}", "", "", "", "fp", None) for sid in answers])
        for sid, text in answers.items():
            found = collect_answers(notebook(tmp_path, sid, text), plan.manual)
            gb.record(run, fake_result(sid, {"greedy_next_token: random": True}), "fp", found)
    return out
