"""Feedback reports rendered from the Jinja templates in ``templates/`` (HTML with autoescape; Markdown
with fenced student text).

Everything that can carry student-controlled text (error messages, cell messages) is escaped: HTML by
Jinja's autoescape, Markdown by putting it in a code fence longer than any backtick run inside it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from grader.common.templates import template_folder
from grader.common.text import printable
from grader.grading.guidance import guidance
from grader.grading.results import SubmissionResult


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(template_folder())),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_printable,
    )
    env.filters["fence"] = fence
    env.filters["md_inline"] = md_inline
    env.filters["points"] = lambda x: f"{x:.4g}"
    return env


def _printable(value):
    """Every value a template prints, without control characters (a report opened in a terminal is safe too)."""
    if isinstance(value, Markup):
        return Markup(printable(value))
    return printable(value) if isinstance(value, str) else value


def fence(text: str) -> str:
    """``text`` as a Markdown code block that nothing inside can close."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}text\n{printable(text)}\n{ticks}"


def md_inline(text: str) -> str:
    """Escape Markdown's inline syntax in short text such as test names."""
    return re.sub(r"([\\`*_{}\[\]()<>#+!|~])", r"\\\1", printable(text).replace("\n", " "))


def render_reports(result: SubmissionResult, folder: Path, public_only: str = "") -> tuple[Path, Path]:
    """Write ``<id>.html`` and ``<id>.md`` into ``folder``. ``public_only``: a self-check's line saying that
    only public tests ran and this is not the grade, shown above the points (which then say so too)."""
    folder.mkdir(parents=True, exist_ok=True)
    context = {
        "r": result,
        "failing": [t for t in result.tests if t.status == "failed"],
        "guidance": guidance(result.questions, result.calls),
        "public_only": public_only,
    }
    paths = []
    for template, suffix in (("feedback.html.j2", ".html"), ("feedback.md.j2", ".md")):
        path = folder / f"{result.student_id}{suffix}"
        path.write_text(environment().get_template(template).render(**context), encoding="utf-8")
        paths.append(path)
    return paths[0], paths[1]
