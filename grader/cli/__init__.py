"""The ``grader`` command: a thin shell over the library, one function per verb, grouped by who uses it.

    app.py        the Typer app, the console, what the verbs share
    authoring.py  new, import-nbgrader, release, validate  (instructors)
    students.py   check                                 (students)
    grading.py    grade, export, report, doctor         (TAs)
    manual.py     review, suggest                       (TAs: what is graded by hand)
    cluster.py    worker                                (course staff: a machine of a grading cluster)

Exit status: 0 when the command did its job (a batch whose submissions failed still completed);
1 with a one-line reason when the grader itself could not run.
"""

from grader.cli import authoring, students, grading, manual, cluster  # noqa: F401, I001 (each registers its verbs on app, in this order)
from grader.cli.app import app, untrusted

__all__ = ["app", "untrusted"]
