"""The instructor's functions run on the host, to tell a surviving mutant that changes nothing from a test gap.

This executes instructor code (the solution notebook and its mutants), which is trusted; never a student's.
Only each code cell's imports, function and class definitions are executed (no demo cells, no model
downloads), each statement on its own, so a cell that fails halfway still defines what it can. Each call
runs under a wall-clock alarm (a mutant may loop forever) on fresh copies of its inputs (a mutant may
write into them). Inputs are the cases' own (handles resolved to the host's objects, a fresh generator
per call) plus random variants: of their tensors (same shape, dtype and range, other values), of their strings
(substrings) and lists (prefixes), and one with a leading batch dimension of 2 on every tensor (a mutant that
only differs on batched inputs is not equivalent).
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import torch

from grader.assignment.references import resolve_handle
from grader.boundary.wire import Handle
from grader.common.timelimit import OutOfTime, time_limit

KEPT = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)
CALL_SECONDS = 5.0
RANDOM_VARIANTS = 4


def definitions(notebook: Path, replaced: dict[int, str] | None = None) -> dict:
    """The namespace of the notebook's imports and definitions; ``replaced`` maps cell indexes to new sources."""
    namespace: dict = {"__name__": "instructor_notebook"}
    for index, cell in enumerate(nbformat.read(notebook, as_version=4).cells):
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse((replaced or {}).get(index, cell.source))
        except SyntaxError:
            continue
        for statement in tree.body:
            if isinstance(statement, KEPT):
                try:
                    exec(compile(ast.Module([statement], []), f"<cell {index}>", "exec"), namespace)  # noqa: S102
                except Exception:  # noqa: BLE001, S110 - trusted code that cannot run here defines nothing
                    pass
    return namespace


def input_sets(cases: list, seed: int = 0) -> list[dict]:
    """Each case's arguments, then ``RANDOM_VARIANTS`` random variants of each (reproducible from ``seed``)."""
    generator = torch.Generator().manual_seed(seed)
    sets = [case.args for case in cases]
    for case in cases:
        sets += [{k: _random_like(v, generator) for k, v in case.args.items()} for _ in range(RANDOM_VARIANTS)]
        sets += [{k: _part_of(v, generator) for k, v in case.args.items()} for _ in range(RANDOM_VARIANTS)]
        sets.append({k: _random_like(v, generator, batch=2) for k, v in case.args.items()})
    return sets


def outcomes(namespace: dict, function: str, inputs: list[dict], assets: dict[str, Path]) -> list:
    """What ``function`` returns (or which exception it raises) on each input set."""
    target = namespace.get(function)
    results: list = []
    for args in inputs:
        if target is None or ("timeout", "") in results:  # one endless call is enough: skip the others
            results.append(("missing", function) if target is None else ("timeout", ""))
            continue
        try:
            with time_limit(CALL_SECONDS), torch.no_grad():
                results.append(("value", _detach(target(**{k: _fresh(v, assets) for k, v in args.items()}))))
        except OutOfTime:
            results.append(("timeout", ""))
        except Exception as exc:  # noqa: BLE001 - a mutant may raise anything; its type is its behaviour
            results.append(("raised", type(exc).__name__))
    return results


def same(a, b) -> bool:
    """Whether two outcomes (values) are the same behaviour: equal, or equal to float rounding."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
            return False
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        if a.is_floating_point() or a.is_complex():
            return bool(torch.allclose(a.double(), b.double(), rtol=1e-6, atol=1e-9, equal_nan=True))
        return bool(torch.equal(a, b))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (a != a and b != b) or abs(a - b) <= 1e-9 + 1e-6 * abs(b)
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001
        return False


def effect(value, expected) -> float | None:
    """The largest absolute difference between a float tensor ``value`` and ``expected`` (None: not comparable)."""
    if not (isinstance(value, torch.Tensor) and isinstance(expected, torch.Tensor)):
        return None
    if value.shape != expected.shape or not value.is_floating_point():
        return None
    diff = (value.double() - expected.double()).abs()
    finite = torch.isfinite(diff)
    if not bool((torch.isfinite(value) == torch.isfinite(expected)).all()):
        return float("inf")
    return float(diff[finite].max()) if bool(finite.any()) else 0.0


def _fresh(value, assets: dict[str, Path]):
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, Handle):
        return resolve_handle(value, assets)
    if isinstance(value, list):
        return [_fresh(v, assets) for v in value]
    if isinstance(value, dict):
        return {k: _fresh(v, assets) for k, v in value.items()}
    return value


def _random_like(value, generator: torch.Generator, batch: int = 0):
    """Random values of the tensor's shape, dtype and range (with ``batch``: a new leading dimension of that size)."""
    if not isinstance(value, torch.Tensor) or value.numel() == 0 or (batch and value.dim() == 0):
        return value
    shape = (batch, *value.shape) if batch else value.shape
    if value.dtype == torch.bool:
        return torch.rand(shape, generator=generator) < 0.5
    if value.is_floating_point():
        finite = value[torch.isfinite(value)].double()
        scale = float(finite.std()) if finite.numel() > 1 and float(finite.std()) > 0 else 1.0
        fresh = torch.randn(shape, generator=generator, dtype=torch.float64) * scale
        return fresh.to(value.dtype).masked_fill(~torch.isfinite(value).expand(shape), float("-inf"))
    low, high = int(value.min()), int(value.max())
    return torch.randint(low, high + 1, shape, generator=generator, dtype=value.dtype)


def _part_of(value, generator: torch.Generator):
    """A random piece of a string (a substring) or a list (a prefix); anything else as it is."""
    if not isinstance(value, (str, list)) or len(value) < 2:
        return value
    stop = int(torch.randint(1, len(value) + 1, (1,), generator=generator))
    if isinstance(value, list):
        return value[:stop]
    start = int(torch.randint(0, stop, (1,), generator=generator))
    return value[start:stop]


def _detach(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, (list, tuple)):
        return type(value)(_detach(v) for v in value)
    return value
