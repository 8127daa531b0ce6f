"""Which cell of a notebook holds the answer to a written question (or to a code question's manual part).

A cell answers written question ``<id>`` when any of these holds, checked in this order:

- its metadata says so: ``{"llm_grader": {"answer": "<id>"}}`` (what ``grader release`` writes);
- it is tagged ``answer:<id>`` (Jupyter's cell tags);
- nbgrader's metadata names it: ``{"nbgrader": {"grade_id": "<id>", ...}}``;
- its first non-blank line is the marker ``<!-- answer: <id> -->`` (Markdown) or ``# answer: <id>`` (code).

Students edit notebooks: they delete tags, copy cells, clear metadata. So grading falls back on the cell's
nbformat ``id``, which Jupyter keeps through edits and the release copies from the instructor notebook; an
answer found only that way, or in several cells, is still shown to the TA, with a status that says so.
Nothing here runs or trusts what it reads: it only looks at metadata and text.
"""

from __future__ import annotations

import re

METADATA_KEY = "llm_grader"
TAG_PREFIX = "answer:"
MARKER = re.compile(r"^\s*(?:<!--\s*answer:\s*(?P<md>[^\s>]+)\s*-->|#\s*answer:\s*(?P<code>\S+))\s*$")


def answer_id(cell) -> str | None:
    """The written question ``cell`` answers, by metadata, tag, nbgrader grade id or marker (None: none)."""
    if not isinstance(cell, dict):
        return None
    metadata = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
    ours = metadata.get(METADATA_KEY)
    if isinstance(ours, dict) and isinstance(ours.get("answer"), str):
        return ours["answer"]
    tags = metadata.get("tags")
    for tag in tags if isinstance(tags, list) else []:
        if isinstance(tag, str) and tag.startswith(TAG_PREFIX):
            return tag[len(TAG_PREFIX) :].strip()
    nbgrader = metadata.get("nbgrader")
    if isinstance(nbgrader, dict) and isinstance(nbgrader.get("grade_id"), str):
        if nbgrader.get("grade") or nbgrader.get("task"):
            return nbgrader["grade_id"]
    return marker_id(cell.get("source"))


def marker_id(source) -> str | None:
    """The id of an ``answer:`` marker on the first non-blank line of ``source`` (None: no marker)."""
    if not isinstance(source, str):
        return None
    first = next((line for line in source.splitlines() if line.strip()), "")
    match = MARKER.match(first)
    return (match.group("md") or match.group("code")) if match else None


def answer_cells(nb, ids: list[str]) -> dict[str, list[int]]:
    """For each of ``ids``, the indices (in ``nb.cells``) of the cells that say they answer it, in order."""
    found: dict[str, list[int]] = {i: [] for i in ids}
    for index, cell in enumerate(nb.get("cells", [])):
        name = answer_id(cell)
        if name in found:
            found[name].append(index)
    return found


def cells_by_id(nb) -> dict[str, int]:
    """nbformat cell id -> index in ``nb.cells`` (the fallback when a student removed a cell's answer mark)."""
    out = {}
    for index, cell in enumerate(nb.get("cells", [])):
        cell_id = cell.get("id") if isinstance(cell, dict) else None
        if isinstance(cell_id, str):
            out.setdefault(cell_id, index)
    return out


def mark(cell, question: str) -> None:
    """Mark ``cell`` as the answer to ``question`` the way grading looks first (metadata), and with a tag a
    student sees in Jupyter's tag bar."""
    cell.metadata[METADATA_KEY] = {"answer": question}
    tags = [t for t in cell.metadata.get("tags", []) if not str(t).startswith(TAG_PREFIX)]
    cell.metadata["tags"] = [*tags, TAG_PREFIX + question]
