"""Calling the reference on the host: ``module:function`` callables, and the host's own objects for input handles.

The reference callable of a case is ``module:function`` (see :meth:`AssignmentSpec.reference_for`). Handles
are resolved here to the host's own objects: the asset's model loaded with ``from_pretrained`` from its local
folder, a fresh seeded ``torch.Generator``, the same lookup embedder a kernel gets. Computation follows the
reference's device (:mod:`reference.device`); results come back to the CPU. Grading uses
:func:`resolve_handle` too, for comparisons that run the model (``rag``).
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from pathlib import Path

import torch

from grader.boundary.wire import Handle
from grader.errors import SpecError


def run_reference(target: str, args: dict, assets: dict[str, Path], where: str):
    """Call the reference ``module:function`` with ``args`` (handles resolved) and return a CPU value."""
    function = _reference_callable(target, where)
    from reference.device import device

    dev = device()
    resolved = {name: _resolve(value, assets, dev) for name, value in args.items()}
    with torch.no_grad():
        return _to_cpu(function(**resolved))


def _reference_callable(target: str, where: str):
    module_name, _, name = target.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as exc:
        raise SpecError(f"{where}: reference {target!r} not found: {exc}") from None
    if not callable(function):
        raise SpecError(f"{where}: reference {target!r} is not callable")
    return function


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
