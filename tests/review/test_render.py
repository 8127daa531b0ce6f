"""Students' answers rendered for the review page: Markdown and math shown, everything active removed."""

from __future__ import annotations

import re

import pytest

from grader.batch.review_rows import AnswerRow
from grader.review.mathml import latex_to_mathml
from grader.review.render import MAX_CHARS, render_answer, render_markdown

PNG = (  # one pixel
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAcCBlCwAAAABJRU5ErkJggg=="
)


def answer(text: str, kind: str = "markdown", images=(), outputs: str = "") -> AnswerRow:
    return AnswerRow("s1", "", "q", kind, text, list(images), outputs, "ok", "", "d", None)


def active_markup(html: str) -> list[str]:
    """What could run or load something: script/style/svg/iframe elements, event handlers, javascript: URLs,
    and image sources other than data: URIs."""
    found = re.findall(r"<(?:script|style|svg|iframe|object|embed|link|meta|base|form)\b", html, re.I)
    found += re.findall(r"\son\w+\s*=", html, re.I) + re.findall(r"=\"\s*javascript:", html, re.I)
    found += [src for src in re.findall(r'<img[^>]*\ssrc="([^"]*)"', html) if not src.startswith("data:image/")]
    return found


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>window.__pwned=1</script>",
        '<img src=x onerror="window.__pwned=1">',
        "[click](javascript:alert(1))",
        '<a href="javascript:alert(1)">click</a>',
        '<svg onload="alert(1)"><circle r="4"/></svg>',
        "<style>body { display: none }</style>",
        '<p style="background:url(https://evil.example/x)">styled</p>',
        '<iframe src="https://evil.example"></iframe>',
        "![tracker](https://evil.example/pixel.png)",
        '<a href="data:text/html,<script>alert(1)</script>">x</a>',
        "<math><mtext><script>alert(1)</script></mtext></math>",
        "$\\text{<script>alert(1)</script>}$",
        "<details open ontoggle=alert(1)>x</details>",
    ],
)
def test_hostile_markup_in_an_answer_is_removed(hostile):
    html = render_answer(answer(f"Before {hostile} after"))
    assert active_markup(html) == []
    assert "Before" in html and "after" in html


def test_markdown_tables_and_links_are_rendered():
    html = render_markdown("**bold** and [docs](https://example.org)\n\n| a | b |\n|---|---|\n| 1 | 2 |")
    assert "<strong>bold</strong>" in html and '<a href="https://example.org"' in html
    assert "<table>" in html and "<td>1</td>" in html


def test_math_becomes_mathml():
    html = render_markdown("Inline $\\sqrt{d_k}$ and\n\n$$\\frac{q \\cdot k}{\\sqrt{d_k}}$$")
    assert '<math display="inline"><mrow><msqrt>' in html
    assert '<math display="block">' in html and "<mfrac>" in html


def test_latex_that_does_not_convert_is_shown_as_escaped_code():
    assert latex_to_mathml("\\frac{", display=False) == '<code class="latex">\\frac{</code>'
    assert "&lt;b&gt;" in latex_to_mathml("x" * 3000 + "<b>", display=False)


def test_a_text_macro_cannot_smuggle_markup_into_the_mathml():
    html = latex_to_mathml("\\text{<script>alert(1)</script>} < 3", display=False)
    assert html.startswith("<math") and "<mo>&lt;</mo>" in html
    assert "<script" not in html and "<mtext>alert(1)</mtext>" in html
    unclosed = latex_to_mathml("\\text{<img src=x onerror=alert(1)>}", display=False)
    assert "<img" not in unclosed and "&lt;img" in unclosed


def test_images_are_shown_only_from_data_uris_of_image_types():
    html = render_answer(answer("![plot](" + PNG + ")"))
    assert f'src="{PNG}"' in html
    stored = render_answer(
        answer("x = 1", "code", images=[PNG, "data:image/svg+xml;base64,PHN2Zz4=", "https://x/y.png"])
    )
    assert stored.count("<img") == 1 and PNG in stored


def test_code_answers_and_their_outputs_are_escaped():
    html = render_answer(answer("print('<b>hi</b>')", "code", outputs="<script>alert(1)</script>\n"))
    assert "&lt;b&gt;hi&lt;/b&gt;" in html and "&lt;script&gt;" in html
    assert active_markup(html) == []


def test_a_5_mb_answer_renders_bounded():
    for kind in ("markdown", "code"):
        html = render_answer(answer("x" * 5_000_000, kind))
        assert MAX_CHARS <= len(html) < MAX_CHARS + 1_000
        assert "only its first 200,000 characters" in html


def test_many_formulas_are_bounded_too():
    html = render_markdown("$x$ " * 2_000)
    assert html.count("<math") == 500


def test_deeply_nested_latex_is_shown_as_code_instead_of_failing():
    nested = "{" * 900 + "x" + "}" * 900
    assert latex_to_mathml(nested, display=False).startswith('<code class="latex">')
    assert "<code" in render_markdown(f"${nested}$ and $x$") and "<math" in render_markdown(f"${nested}$ and $x$")


def test_markdown_that_fails_to_render_is_shown_escaped(monkeypatch):
    import grader.review.render as render

    def broken(text):
        raise RecursionError("a parser bug")

    monkeypatch.setattr(render, "render_markdown", broken)
    html = render.render_answer(answer("<b>my answer</b>"))
    assert "&lt;b&gt;my answer&lt;/b&gt;" in html and "<b>" not in html
