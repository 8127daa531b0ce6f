"""The Jinja templates of the feedback reports (``feedback.html.j2``, ``feedback.md.j2``) and of the class
summary (``summary.html.j2``).

This folder is installed as the package ``grader.templates`` (``package-dir`` in pyproject.toml), so the
templates travel inside the wheel and are found the same way from a checkout, an editable install or a wheel.
"""

from pathlib import Path

FOLDER = Path(__file__).resolve().parent
