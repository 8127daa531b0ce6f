"""Mutants of an instructor's solution: small, plausible bugs, one at a time, for ``grader validate --mutants``.

Only code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` inside a graded function is mutated, one
site per mutant, by editing the cell's text (so the rest of the cell, comments included, is unchanged). The
operators (the README's "Are my tests good enough?" lists them) suit tensor code:

- ``arith``: ``+``<->``-``, ``*``<->``/``, ``/``->``//``, ``//``->``/``, ``%``->``//``, ``**``->``*``, ``@``->``*``
  (in expressions and augmented assignments);
- ``compare``: ``<``->``<=``/``>``, ``<=``->``<``/``>=``, ``>``->``>=``/``<``, ``>=``->``>``/``<=``, ``==``<->``!=``,
  ``is``<->``is not``;
- ``boolean``: ``and``<->``or``, ``not x``->``x``, ``-x``->``x``;
- ``constant``: an integer or float constant plus and minus one; ``axis``: the same for a ``dim``/``axis`` value;
- ``flag``: ``True``<->``False`` (``descending``, ``keepdim``, ``largest``, ``stable``, ...);
- ``call``: ``argmax``<->``argmin``, ``max``<->``min``, ``sum``<->``mean``, ``softmax``<->``log_softmax``,
  ``triu``<->``tril``, ``floor``<->``ceil``, ``values``<->``indices``, ... (:data:`SWAPS`);
- ``arguments``: the first two positional arguments of a call swapped when both are simple (``masked_fill(a, b)``),
  except for calls that do not care (``transpose``, ``max``, ``add``, ...: :data:`SYMMETRIC`);
- ``statement``: a statement replaced by ``pass`` (assignments, expressions, ``if``, loops, ``break``).

A mutant whose cell no longer parses, or whose text equals another's, is dropped.
"""

from __future__ import annotations

import ast
import difflib
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from grader.assignment.release import BEGIN, END

ARITH: dict[type, tuple[type, ...]] = {
    ast.Add: (ast.Sub,), ast.Sub: (ast.Add,), ast.Mult: (ast.Div,), ast.Div: (ast.Mult, ast.FloorDiv),
    ast.FloorDiv: (ast.Div,), ast.Mod: (ast.FloorDiv,), ast.Pow: (ast.Mult,), ast.MatMult: (ast.Mult,),
}  # fmt: skip
ARITH_SYMBOL = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**",
    ast.MatMult: "@",
}  # fmt: skip
COMPARE: dict[type, tuple[type, ...]] = {
    ast.Lt: (ast.LtE, ast.Gt), ast.LtE: (ast.Lt, ast.GtE), ast.Gt: (ast.GtE, ast.Lt), ast.GtE: (ast.Gt, ast.LtE),
    ast.Eq: (ast.NotEq,), ast.NotEq: (ast.Eq,), ast.Is: (ast.IsNot,), ast.IsNot: (ast.Is,),
}  # fmt: skip
COMPARE_SYMBOL = {
    ast.Lt: ("<", r"<(?!=)"), ast.LtE: ("<=", r"<="), ast.Gt: (">", r">(?!=)"), ast.GtE: (">=", r">="),
    ast.Eq: ("==", r"=="), ast.NotEq: ("!=", r"!="), ast.Is: ("is", r"\bis\b(?!\s+not\b)"),
    ast.IsNot: ("is not", r"\bis\s+not\b"),
}  # fmt: skip
PAIRS = [
    ("argmax", "argmin"), ("max", "min"), ("amax", "amin"), ("maximum", "minimum"), ("sum", "mean"),
    ("softmax", "log_softmax"), ("triu", "tril"), ("floor", "ceil"), ("any", "all"), ("values", "indices"),
    ("cumsum", "cumprod"), ("exp", "log"), ("unsqueeze", "squeeze"), ("sqrt", "rsqrt"),
]  # fmt: skip
SWAPS = {a: b for a, b in PAIRS} | {b: a for a, b in PAIRS}
AXIS_KEYWORDS = {"dim", "axis", "dims", "dim0", "dim1"}
DROPPABLE = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.If, ast.For, ast.While, ast.Break, ast.Continue)
SYMMETRIC = {"transpose", "swapaxes", "swapdims", "min", "max", "maximum", "minimum", "add", "mul", "eq", "ne"}
SIMPLE_ARGUMENT = (ast.Constant, ast.Name, ast.Attribute, ast.UnaryOp)


@dataclass(frozen=True)
class Edit:
    """Replace the cell text from ``start`` to ``end`` (``(line, column)``, as :mod:`ast` counts) by ``text``."""

    start: tuple[int, int]
    end: tuple[int, int]
    text: str
    operator: str
    change: str


@dataclass(frozen=True)
class Mutant:
    id: str
    function: str
    operator: str
    change: str
    cell: int  # index among the notebook's cells
    line: int  # line of the cell
    source: str  # the mutated cell's source
    diff: str  # the changed lines, unified-diff style


def notebook_mutants(notebook: Path, functions: list[str]) -> list[Mutant]:
    """Every mutant of the graded ``functions``' solution code in the instructor ``notebook``, in source order."""
    found: list[Mutant] = []
    seen: set[tuple[int, str]] = set()
    for index, cell in enumerate(nbformat.read(notebook, as_version=4).cells):
        if cell.cell_type != "code":
            continue
        for function, edit in cell_edits(cell.source, set(functions)):
            source = apply(cell.source, edit)
            if (index, source) in seen or not _parses(source):
                continue
            seen.add((index, source))
            found.append(
                Mutant(
                    f"M{len(found) + 1}",
                    function,
                    edit.operator,
                    edit.change,
                    index,
                    edit.start[0],
                    source,
                    _diff(cell.source, source),
                )  # fmt: skip
            )
    return found


def cell_edits(source: str, functions: set[str]) -> list[tuple[str, Edit]]:
    """``(function, edit)`` for every mutation site of a graded function inside the cell's solution regions."""
    regions = solution_regions(source)
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    edits = []
    for top in tree.body:
        if not isinstance(top, ast.FunctionDef) or top.name not in functions:
            continue
        parents = {child: node for node in ast.walk(top) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(top):
            if not _inside(node, regions):
                continue
            edits += [(top.name, edit) for edit in node_edits(node, parents, source) if edit is not None]
    return sorted(edits, key=lambda e: (e[1].start, e[1].operator, e[1].text))


def solution_regions(source: str) -> list[tuple[int, int]]:
    """The (first, last) line numbers strictly between each BEGIN/END SOLUTION pair of a cell."""
    regions, begin = [], None
    for number, line in enumerate(source.splitlines(), start=1):
        if BEGIN.match(line):
            begin = number
        elif END.match(line) and begin is not None:
            regions.append((begin + 1, number - 1))
            begin = None
    return regions


def node_edits(node: ast.AST, parents: dict, source: str) -> list[Edit]:
    """The mutations of one node (an operator, a constant, a name, a call or a statement)."""
    if isinstance(node, (ast.BinOp, ast.AugAssign)):
        return _arith(node, source)
    if isinstance(node, ast.Compare):
        return _compare(node, source)
    if isinstance(node, ast.BoolOp):
        other = "or" if isinstance(node.op, ast.And) else "and"
        mine = "and" if other == "or" else "or"
        pairs = zip(node.values, node.values[1:], strict=False)
        return [_gap_edit(a, b, source, rf"\b{mine}\b", other, "boolean", f"{mine} -> {other}") for a, b in pairs]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
        if isinstance(node.operand, ast.Constant):
            return []  # -1 is a constant: its mutants are the constant's
        text = "(" + (ast.get_source_segment(source, node.operand) or "") + ")"
        symbol = "not " if isinstance(node.op, ast.Not) else "-"
        return [_node_edit(node, text, "boolean", f"{symbol}x -> x")]
    if isinstance(node, ast.Constant):
        return _constant(node, parents)
    if isinstance(node, ast.Attribute) and node.attr in SWAPS:
        line, column = node.end_lineno, node.end_col_offset
        new = SWAPS[node.attr]
        return [Edit((line, column - len(node.attr.encode())), (line, column), new, "call", f"{node.attr} -> {new}")]
    if isinstance(node, ast.Call):
        return _call(node, source)
    if isinstance(node, DROPPABLE) and not _docstring(node):
        first = (ast.get_source_segment(source, node) or "").splitlines()[0].strip()
        return [_node_edit(node, "pass", "statement", f"dropped: {first[:60]}")]
    return []


def apply(source: str, edit: Edit) -> str:
    """The cell source with ``edit`` applied."""
    start, end = _offset(source, *edit.start), _offset(source, *edit.end)
    return source[:start] + edit.text + source[end:]


def _arith(node, source: str) -> list[Edit]:
    left, right = (node.left, node.right) if isinstance(node, ast.BinOp) else (node.target, node.value)
    suffix = "" if isinstance(node, ast.BinOp) else "="
    mine = ARITH_SYMBOL.get(type(node.op))
    if mine is None:
        return []
    pattern = re.escape(mine + suffix)
    if mine in ("*", "/") and not suffix:  # not half of ** or //
        pattern = rf"(?<!{re.escape(mine)}){re.escape(mine)}(?!{re.escape(mine)})"
    return [
        _gap_edit(left, right, source, pattern, ARITH_SYMBOL[new] + suffix, "arith", f"{mine} -> {ARITH_SYMBOL[new]}")
        for new in ARITH[type(node.op)]
    ]


def _compare(node: ast.Compare, source: str) -> list[Edit]:
    edits, left = [], node.left
    for op, right in zip(node.ops, node.comparators, strict=True):
        mine, pattern = COMPARE_SYMBOL.get(type(op), (None, None))
        for new in COMPARE.get(type(op), ()):
            symbol = COMPARE_SYMBOL[new][0]
            edits.append(_gap_edit(left, right, source, pattern, symbol, "compare", f"{mine} -> {symbol}"))
        left = right
    return edits


def _constant(node: ast.Constant, parents: dict) -> list[Edit]:
    value = node.value
    if isinstance(value, bool):
        name = _keyword_of(node, parents)
        label = f"{name}={value} -> {not value}" if name else f"{value} -> {not value}"
        return [_node_edit(node, str(not value), "flag", label)]
    if not isinstance(value, (int, float)) or value != value or value in (float("inf"), float("-inf")):
        return []
    operator = "axis" if _keyword_of(node, parents) in AXIS_KEYWORDS else "constant"
    sign = "-" if isinstance(parents.get(node), ast.UnaryOp) else ""
    return [
        _node_edit(node, repr(new), operator, f"{sign}{value!r} -> {sign}{new!r}") for new in (value + 1, value - 1)
    ]


def _call(node: ast.Call, source: str) -> list[Edit]:
    edits = []
    if isinstance(node.func, ast.Name) and node.func.id in SWAPS:
        new = SWAPS[node.func.id]
        edits.append(_node_edit(node.func, new, "call", f"{node.func.id} -> {new}"))
    first = node.args[:2]
    name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
    if name not in SYMMETRIC and len(first) == 2 and all(isinstance(a, SIMPLE_ARGUMENT) for a in first):
        a, b = (ast.get_source_segment(source, x) or "" for x in first)
        if a != b and "\n" not in a + b:
            text = f"{b}, {a}"
            edits.append(Edit((first[0].lineno, first[0].col_offset), (first[1].end_lineno, first[1].end_col_offset),
                              text, "arguments", f"({a}, {b}) -> ({b}, {a})"))  # fmt: skip
    return edits


def _gap_edit(left, right, source: str, pattern: str, new: str, operator: str, change: str) -> Edit | None:
    """Replace the operator symbol found between the end of ``left`` and the start of ``right``."""
    start, end = _offset(source, left.end_lineno, left.end_col_offset), _offset(source, right.lineno, right.col_offset)
    match = re.search(pattern, source[start:end])
    if match is None:
        return None
    a, b = _position(source, start + match.start()), _position(source, start + match.end())
    return Edit(a, b, new, operator, change)


def _node_edit(node: ast.AST, text: str, operator: str, change: str) -> Edit:
    return Edit((node.lineno, node.col_offset), (node.end_lineno, node.end_col_offset), text, operator, change)


def _keyword_of(node: ast.AST, parents: dict) -> str | None:
    parent = parents.get(node)
    if isinstance(parent, ast.UnaryOp):
        parent = parents.get(parent)
    return parent.arg if isinstance(parent, ast.keyword) else None


def _docstring(node: ast.AST) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _inside(node: ast.AST, regions: list[tuple[int, int]]) -> bool:
    first, last = getattr(node, "lineno", None), getattr(node, "end_lineno", None)
    return first is not None and any(a <= first and last <= b for a, b in regions)


def _offset(source: str, line: int, column: int) -> int:
    """The character offset of ``(line, column)``; the column counts UTF-8 bytes, as :mod:`ast` does."""
    lines = source.splitlines(keepends=True)
    before = sum(len(text) for text in lines[: line - 1])
    return before + len(lines[line - 1].encode()[:column].decode("utf-8", "ignore")) if line <= len(lines) else before


def _position(source: str, offset: int) -> tuple[int, int]:
    head = source[:offset]
    line = head.count("\n") + 1
    return line, len(head[head.rfind("\n") + 1 :].encode())


def _parses(source: str) -> bool:
    try:
        ast.parse(source)
    except SyntaxError:
        return False
    return True


def _diff(before: str, after: str) -> str:
    lines = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return "\n".join(line for line in lines if not line.startswith(("---", "+++", "@@")))
