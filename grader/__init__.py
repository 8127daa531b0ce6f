"""Autograder for the 'Engineering for LLMs' course.

Library API (the CLI in grader/cli.py is a thin shell over these):
    grader.spec.load_assignment       read and validate an assignment folder
    grader.groundtruth.build_plan     every case's inputs and expected value
    grader.release.release            build the student release
    grader.grade.grade_submission     grade one notebook against a plan
    grader.batch.grade_all            grade a folder of submissions in parallel
    grader.check.check_notebook       a student's self-check on the public tests
"""

__version__ = "0.1.0"
