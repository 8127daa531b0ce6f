"""Calling the reference on the host: ``module:function`` callables, and the host's own objects for input handles.

The reference callable of a case is ``module:function`` (see :meth:`AssignmentSpec.reference_for`). The module is
an importable name (``reference.sampling``) or a Python file of the assignment folder (``reference.py``,
``refs/norms.py``: a name ending in ``.py`` or holding a ``/``), imported by path here, on the host only: the
assignment folder is never on ``sys.path`` and never reaches a kernel or a release, so a course repository
needs no ``PYTHONPATH`` and no module inside the grader. A reference that raises is a :class:`SpecError`
naming the case, the reference and the exception (and the line of the reference file it came from). Handles
are resolved here to the host's own objects: the asset's model loaded with ``from_pretrained`` from its local
folder, a fresh seeded ``torch.Generator``, the same lookup embedder a kernel gets. Computation follows the
reference's device (:mod:`reference.device`); results come back to the CPU. Grading uses
:func:`resolve_handle` too, for comparisons that run the model (``rag``).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import traceback
from functools import lru_cache
from pathlib import Path

import torch

from grader.assignment.casekey import module_file
from grader.boundary.wire import Handle
from grader.errors import SpecError


def run_reference(target: str, args: dict, assets: dict[str, Path], where: str, folder: Path):
    """Call the reference ``module:function`` with ``args`` (handles resolved) and return a CPU value; a module
    that is a file (see :func:`module_file`) is looked up in the assignment ``folder``."""
    function = reference_callable(target, where, folder)
    from reference.device import device

    dev = device()
    resolved = {name: _resolve(value, assets, dev) for name, value in args.items()}
    try:
        with torch.no_grad():
            value = function(**resolved)
    except Exception as exc:  # noqa: BLE001 - the instructor's code: any failure is a spec error of this case
        text = (" ".join(str(exc).split()) or "(no message)") + _origin(exc, function, folder)
        raise SpecError(f"{where}: reference {target} raised {type(exc).__name__}: {text}") from None
    return _to_cpu(value)


def reference_callable(target: str, where: str, folder: Path):
    """The function ``module:function`` names; a :class:`SpecError` saying what is missing otherwise."""
    module_name, _, name = target.partition(":")
    path = module_file(module_name, folder)
    try:
        module = importlib.import_module(module_name) if path is None else load_module_file(path)
        function = getattr(module, name)
    except (ImportError, AttributeError, OSError, SyntaxError) as exc:
        raise SpecError(f"{where}: reference {target!r} not found: {type(exc).__name__}: {exc}") from None
    if not callable(function):
        raise SpecError(f"{where}: reference {target!r} is not callable")
    return function


def load_module_file(path: Path):
    """Import the Python file ``path`` as a module of its own (never via ``sys.path``), once per content."""
    path = Path(path).resolve()
    source = path.read_bytes()
    name = "grader_reference_" + hashlib.sha256(str(path).encode() + b"\0" + source).hexdigest()[:16]
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and typing look a class's module up by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _origin(exc: BaseException, function, folder: Path) -> str:
    """`` (file, line N)``: the innermost frame of the traceback in the reference's own file, or nothing."""
    own = Path(getattr(getattr(function, "__code__", None), "co_filename", "") or "/nonexistent").resolve()
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).resolve() == own]
    if not frames:
        return ""
    try:
        shown = own.relative_to(Path(folder).resolve())
    except ValueError:
        shown = own
    return f" ({shown}, line {frames[-1].lineno})"


def resolve_handle(handle: Handle, assets: dict[str, Path]):
    """The host's object for an input handle (model, tokenizer, generator, embedder), on the CPU."""
    return _resolve(handle, assets, torch.device("cpu"))


def _resolve(value, assets: dict[str, Path], dev: torch.device):
    if isinstance(value, torch.Tensor):
        return value.to(dev)
    if not isinstance(value, Handle):
        return value
    if value.kind == "generator":
        return torch.Generator(dev).manual_seed(int(value.value))
    if value.kind == "tokenizer":
        return load_tokenizer(str(assets[value.value]))
    if value.kind == "embedder":
        from grader.boundary.kernel_side import LookupEmbedder  # the same lookup the kernel gets

        return LookupEmbedder(value.value["texts"], value.value["vectors"])
    return load_model(str(assets[value.value]), str(dev))


@lru_cache(maxsize=4)
def load_tokenizer(path: str):
    """The tokenizer of a local asset folder, loaded once per process."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)


@lru_cache(maxsize=4)
def load_model(path: str, dev: str):
    """The model of a local asset folder on device ``dev``, in eval mode, loaded once per process and device."""
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging

    logging.set_verbosity_error()  # the reference decodes without attention masks on purpose (one sequence)

    return AutoModelForCausalLM.from_pretrained(path).to(dev).eval()


def _to_cpu(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, (list, tuple)):
        return type(value)(_to_cpu(v) for v in value)
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    return value
