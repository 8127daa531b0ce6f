"""What an instructor writes and what it becomes: the spec, its inputs, the ground truth, the release.

``spec`` (assignment.toml) -> ``inputs`` (each case's arguments) -> ``references`` (the reference run on
them, on the host) -> ``groundtruth`` (a :class:`~grader.assignment.plan.GradingPlan`, cached by
``gtcache``) -> ``release`` (the student notebook and the public-test bundle).
"""
