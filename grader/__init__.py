"""Autograder for the 'Engineering for LLMs' course.

Library API (the CLI is a thin shell over these):
    grader.spec.load_assignment     read and validate an assignment folder
    grader.release.release          build the student release
    grader.grade.grade_batch        grade a folder of submissions
    grader.check.check              self-check from inside a student's notebook
"""

__version__ = "0.1.0"


def check(function: str | None = None, notebook: str | None = None):
    """Self-check the running notebook's public tests; see :func:`grader.check.check_in_notebook`."""
    from grader.check import check_in_notebook

    return check_in_notebook(function, notebook)
