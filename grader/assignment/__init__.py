"""What an instructor writes and what it becomes: the spec, its inputs, the ground truth, the release.

``spec`` (assignment.toml) -> ``inputs`` (each case's arguments) -> ``references`` (the reference run on
them, on the host) -> ``groundtruth`` (a :class:`~grader.assignment.plan.GradingPlan`, cached by
``gtcache`` under the keys of ``casekey``) -> ``release`` (the student notebook and the public-test bundle).
``gtkey`` remembers the hash of a whole ground truth between runs, without torch (``gtsources``: what it covers).
"""
