"""Expected values: the reference implementation run on each case's inputs, on the host only.

The reference callable of a case is ``module:function`` (see :meth:`AssignmentSpec.reference_for`).
Handles are resolved here to the host's own objects: the asset's model loaded with ``from_pretrained``
from its local folder, a fresh seeded ``torch.Generator``. Computation follows the reference's device
and determinism policy (:mod:`reference.device`); results come back to the CPU.
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from pathlib import Path

import torch

from grader.errors import SpecError
from grader.inputs import materialize
from grader.plan import CasePlan, GradingPlan, QuestionPlan
from grader.spec import Asset, Assignment, DistributionCompare
from grader.wire import Handle


def asset_paths(assignment: Assignment) -> dict[str, Path]:
    """Host folders of the assignment's assets (the course model is built on first use)."""
    return {name: _asset_path(assignment.folder, asset) for name, asset in assignment.spec.assets.items()}


def _asset_path(folder: Path, asset: Asset) -> Path:
    if asset.kind == "course-lm":
        from reference.models import course_lm_path

        return course_lm_path()
    return (folder / (asset.path or "")).resolve()


def build_plan(assignment: Assignment) -> GradingPlan:
    """Compute every case's inputs and expected value (hidden cases included)."""
    from reference import device as ref_device

    ref_device.configure_determinism()
    spec, assets = assignment.spec, asset_paths(assignment)
    questions = []
    for question in spec.questions:
        cases = []
        for case in question.cases:
            where = f"{assignment.folder / 'assignment.toml'}: question '{question.function}', case '{case.name}'"
            args = materialize(case.args, assignment.folder, assets, where)
            ref_args = (
                args
                if case.reference_args is None
                else materialize(case.reference_args, assignment.folder, assets, where)
            )
            if isinstance(case.compare, DistributionCompare):  # probabilities never depend on random numbers
                ref_args = {k: v for k, v in ref_args.items() if not (isinstance(v, Handle) and v.kind == "generator")}
            expected = run_reference(spec.reference_for(question, case), ref_args, assets, where)
            cases.append(CasePlan(case.name, case.compare, args, expected, case.hidden, case.weight))
        questions.append(QuestionPlan(question.function, question.points, cases, question.description))
    return GradingPlan(spec.id, spec.title, spec.version, spec.limits, questions, assets, ref_device.provenance())


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
        return _load_tokenizer(str(assets[value.value]))
    if value.kind == "embedder":
        from grader.kernel_side import LookupEmbedder  # the same lookup the kernel gets

        return LookupEmbedder(value.value["texts"], value.value["vectors"])
    return _load_model(str(assets[value.value]), str(dev))


@lru_cache(maxsize=4)
def _load_tokenizer(path: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)


@lru_cache(maxsize=4)
def _load_model(path: str, dev: str):
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
