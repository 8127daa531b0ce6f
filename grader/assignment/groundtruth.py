"""Expected values: the reference implementation run on each case's inputs, on the host only.

The reference callable of a case is ``module:function`` (see :meth:`AssignmentSpec.reference_for`).
Handles are resolved here to the host's own objects: the asset's model loaded with ``from_pretrained``
from its local folder, a fresh seeded ``torch.Generator``. Computation follows the reference's device
and determinism policy (:mod:`reference.device`); results come back to the CPU. With a cache folder,
each case is computed once (:mod:`grader.assignment.gtcache`).
"""

from __future__ import annotations

import importlib
import logging
from functools import lru_cache
from pathlib import Path

import torch

from grader.assignment.gtcache import GroundTruthCache
from grader.assignment.inputs import materialize
from grader.assignment.plan import CasePlan, GradingPlan, GroundTruthCounts, QuestionPlan
from grader.assignment.spec import Assignment, Case, DistributionCompare, Question, asset_paths
from grader.boundary.wire import Handle
from grader.errors import SpecError

log = logging.getLogger(__name__)


def build_plan(assignment: Assignment, cache_dir: Path | None = None) -> GradingPlan:
    """Compute every case's inputs and expected value (hidden cases included).

    With ``cache_dir``, a case whose content hash (see :mod:`grader.assignment.gtcache`) is stored there is read
    instead of computed, and each computed case is stored. ``plan.groundtruth`` counts both.
    """
    from reference import device as ref_device

    ref_device.configure_determinism()
    spec, assets = assignment.spec, asset_paths(assignment)
    cache = None if cache_dir is None else GroundTruthCache(cache_dir, assignment.folder, assets)
    counts = GroundTruthCounts()
    questions = []
    for question in spec.questions:
        cases = []
        for case in question.cases:
            target = spec.reference_for(question, case)
            key = cache.key(case, target) if cache else None
            found = cache.get(key) if key else None
            if found:
                counts.cached += 1
                args, expected = found
            else:
                counts.computed += 1
                args, expected = _compute(assignment, question, case, target, assets)
                if key:
                    cache.put(key, args, expected)
            cases.append(CasePlan(case.name, case.compare, args, expected, case.hidden, case.weight))
        questions.append(QuestionPlan(question.function, question.points, cases, question.description))
    counts.discarded = cache.discarded if cache else 0
    if cache:
        log.info("%s (cache %s)", counts, cache.folder)
    return GradingPlan(
        spec.id, spec.title, spec.version, spec.limits, questions, assets, ref_device.provenance(), counts
    )


def _compute(assignment: Assignment, question: Question, case: Case, target: str, assets: dict[str, Path]):
    """``(args, expected)`` of one case: its inputs built from the spec, the reference run on them."""
    where = f"{assignment.folder / 'assignment.toml'}: question '{question.function}', case '{case.name}'"
    args = materialize(case.args, assignment.folder, assets, where)
    ref_args = (
        args if case.reference_args is None else materialize(case.reference_args, assignment.folder, assets, where)
    )
    if isinstance(case.compare, DistributionCompare):  # probabilities never depend on random numbers
        ref_args = {k: v for k, v in ref_args.items() if not (isinstance(v, Handle) and v.kind == "generator")}
    return args, run_reference(target, ref_args, assets, where)


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
        from grader.boundary.kernel_side import LookupEmbedder  # the same lookup the kernel gets

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
