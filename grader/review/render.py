"""A student's answer as HTML that is safe to show a TA: rendered and sanitized on the server.

- Markdown (CommonMark and tables, markdown-it-py), with math in ``$...$`` and ``$$...$$`` (mdit-py-plugins'
  dollarmath) turned into MathML (:mod:`grader.review.mathml`).
- Everything markdown-it produces, the student's own HTML included, goes through nh3 (the Ammonia sanitizer):
  an allow-list of tags and attributes, no event handlers, no ``style``, links only to http(s) and mailto,
  images only as ``data:image/png|jpeg|gif`` URIs. The MathML we generate is put in after sanitizing, in place
  of placeholders carrying a random nonce (a student cannot forge one).
- Code answers, their text outputs and the images grading stored are put into a Jinja template with autoescape.

The page's Content-Security-Policy (:mod:`grader.review.auth`) is the second line: no inline script could run
even if something slipped through. Input is bounded (:data:`MAX_CHARS`, :data:`MAX_FORMULAS`).
"""

from __future__ import annotations

import re
import secrets
from functools import cache

import jinja2
import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup
from mdit_py_plugins.dollarmath import dollarmath_plugin

from grader.batch.review_rows import AnswerRow
from grader.common.templates import template_folder
from grader.review.mathml import latex_to_mathml

MAX_CHARS = 200_000  # characters of an answer rendered (grading already keeps at most 100,000)
MAX_FORMULAS = 500  # formulas converted per answer; the rest are shown as LaTeX source
DATA_IMAGE = re.compile(r"data:image/(png|jpeg|gif);base64,[A-Za-z0-9+/]+={0,2}")
LINK = re.compile(r"(https?:|mailto:)", re.IGNORECASE)
TAGS = nh3.ALLOWED_TAGS - {"area", "map"}


def render_markdown(text: str) -> str:
    """Sanitized HTML for Markdown ``text`` (a student's answer, or a prompt)."""
    nonce, formulas = secrets.token_hex(8), []

    def formula(latex: str, options: dict) -> str:
        if len(formulas) >= MAX_FORMULAS:
            return f"${latex}$"  # escaped with the rest by nh3
        formulas.append(latex_to_mathml(latex, display=bool(options.get("display_mode"))))
        return f"MATH{nonce}x{len(formulas) - 1}x"

    body = _markdown(formula).render(text[:MAX_CHARS])
    clean = nh3.clean(body, tags=TAGS, attribute_filter=_attribute, url_schemes={"http", "https", "mailto", "data"})
    return re.sub(f"MATH{nonce}x(\\d+)x", lambda m: formulas[int(m.group(1))], clean)


def render_answer(answer: AnswerRow) -> str:
    """The answer's body for the page: Markdown rendered, or code and its outputs escaped, then its images. Markdown
    that fails to render (a parser bug on some input) is shown escaped, as code: the TA still sees the answer."""
    try:
        markdown = render_markdown(answer.text) if answer.kind == "markdown" else None
    except Exception:  # noqa: BLE001 - never lose an answer to a renderer's failure
        markdown = None
    images = [uri for uri in answer.images if DATA_IMAGE.fullmatch(uri)]
    return _template().render(
        markdown=Markup(markdown) if markdown is not None else None,  # sanitized above
        code=answer.text[:MAX_CHARS],
        outputs=answer.outputs[:MAX_CHARS],
        images=images,
        cut=len(answer.text) > MAX_CHARS,
    )


def _attribute(tag: str, attribute: str, value: str) -> str | None:
    """nh3's per-attribute check: images only from data: URIs of our image types, links only to the web."""
    if tag == "img" and attribute == "src":
        return value if DATA_IMAGE.fullmatch(value) else None
    if tag == "a" and attribute == "href":
        return value if LINK.match(value) else None
    return value


def _markdown(formula) -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True}).enable("table")
    dollarmath_plugin(md, allow_labels=False, double_inline=True, renderer=formula)
    return md


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_folder() / "review"), autoescape=True, undefined=jinja2.StrictUndefined
    )
    return env.get_template("answer.html.j2")
