"""Autograder for the 'Engineering for LLMs' course. ARCHITECTURE.md says which subpackage does what.

Library API (the CLI in grader/cli.py is a thin shell over these):
    grader.assignment.spec.load_assignment         read and validate an assignment folder
    grader.assignment.groundtruth.build_plan       every case's inputs and expected value
    grader.assignment.release.release              build the student release
    grader.authoring.validate.validate             is an assignment ready to release?
    grader.grading.grade.grade_submission          grade one notebook against a plan
    grader.batch.run.grade_batch                   grade a class into a gradebook, resumable, in parallel
    grader.batch.run.open_batch                    the same in two steps: refusals and what is left, then grading
    grader.selfcheck.check.check_notebook          a student's self-check on the public tests
    grader.check                                   the same from inside a notebook: check("top_p_filter")
    grader.public_inputs                           a public test's inputs, to reproduce a failure
"""

__version__ = "0.1.0"


def check(function: str | None = None, namespace: dict | None = None):
    """Self-check from inside a notebook: ``from grader import check; check("top_p_filter")`` or ``check()``.

    Runs the public tests on the functions as they are defined right now in the notebook, with the same
    cases and comparisons as final grading, prints a table and says how many hidden tests exist.
    """
    from grader.selfcheck.notebook import check_in_notebook

    return check_in_notebook(function, namespace)


def public_inputs(test_name: str) -> dict:
    """The inputs of a public test, as a report names it: ``args = grader.public_inputs("top_k_filter: k = 1")``,
    then ``top_k_filter(**args)`` reproduces the call (run in the release folder, or a folder inside it)."""
    from grader.selfcheck.notebook import public_inputs as load

    return load(test_name)
