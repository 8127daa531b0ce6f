"""The Jinja templates of the feedback reports (``feedback.html.j2``, ``feedback.md.j2``) and of the class
summary (``summary.html.j2``), and the README of a student release (``release_readme.md.j2``).

This folder is installed as the package ``grader.templates`` (``package-dir`` in pyproject.toml), so the
templates travel inside the wheel; :func:`grader.common.templates.template_folder` finds them.
"""
