"""Expected values: the reference run on each case's inputs, on the host only, into a grading plan.

Each case's inputs are built from the spec (:mod:`grader.assignment.inputs`), the reference is called on
them (:mod:`grader.assignment.references`) under the reference's determinism policy
(:mod:`reference.device`). With a cache folder, each case is computed once (:mod:`grader.assignment.gtcache`).
"""

from __future__ import annotations

import logging
from pathlib import Path

from grader.assignment.assets import asset_paths
from grader.assignment.casekey import combined_key
from grader.assignment.gtcache import GroundTruthCache
from grader.assignment.inputs import materialize
from grader.assignment.manual import manual_questions
from grader.assignment.plan import CasePlan, GradingPlan, GroundTruthCounts, QuestionPlan
from grader.assignment.references import run_reference
from grader.assignment.spec import Assignment, Case, Question
from grader.boundary.wire import Handle
from grader.compare.rules import DistributionCompare

log = logging.getLogger(__name__)


def build_plan(assignment: Assignment, cache_dir: Path | None = None) -> GradingPlan:
    """Compute every case's inputs and expected value (hidden cases included).

    With ``cache_dir``, a case whose content hash (see :mod:`grader.assignment.gtcache`) is stored there is read
    instead of computed, and each computed case is stored. ``plan.groundtruth`` counts both;
    ``plan.groundtruth_key`` combines every case's hash (as :func:`grader.assignment.casekey.hash_groundtruth`,
    on the way).
    """
    from reference import device as ref_device

    ref_device.configure_determinism()
    spec, assets = assignment.spec, asset_paths(assignment)
    cache = GroundTruthCache(cache_dir, assignment.folder, assets)
    counts = GroundTruthCounts()
    questions, keys = [], []
    for question in spec.questions:
        cases = []
        for case in question.cases:
            target = spec.reference_for(question, case)
            key = cache.key(case, target)
            keys.append((question.function, case.name, key, target))
            found = cache.get(key) if key and cache_dir else None
            if found:
                counts.cached += 1
                args, expected = found
            else:
                counts.computed += 1
                args, expected = _compute(assignment, question, case, target, assets)
                if key and cache_dir:
                    cache.put(key, args, expected)
            cases.append(CasePlan(case.name, case.compare, args, expected, case.hidden, case.weight))
        questions.append(QuestionPlan(question.function, question.points, cases, question.description))
    counts.discarded = cache.discarded
    if cache_dir:
        log.info("%s (cache %s)", counts, cache.folder)
    return GradingPlan(
        spec.id,
        spec.title,
        spec.version,
        spec.limits,
        questions,
        assets,
        ref_device.provenance(),
        counts,
        combined_key(keys),
        manual_questions(assignment),
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
    return args, run_reference(target, ref_args, assets, where, assignment.folder)
