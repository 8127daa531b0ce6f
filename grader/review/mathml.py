"""LaTeX to MathML for the review page, as markup we can vouch for.

latex2mathml turns ``$...$`` into MathML, but it copies ``\\text{...}`` verbatim: ``\\text{<script>}`` would
come out as a ``<script>`` element. So its output is parsed as XML and rebuilt from an allow-list of MathML
elements and attributes; ElementTree escapes every text and attribute value when it writes the tree back. An
element outside the list keeps only its text. LaTeX that does not convert (or is too long) is shown as escaped
code. Chromium renders MathML natively: the page needs no math library.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from latex2mathml.converter import convert

MAX_LATEX = 2_000  # characters of one formula converted; a longer one is shown as code
ELEMENTS = frozenset(
    "math mrow mi mn mo ms mtext mspace msub msup msubsup munder mover munderover mfrac msqrt mroot mstyle "
    "merror mpadded mphantom mfenced menclose mtable mtr mtd semantics annotation".split()
)
ATTRIBUTES = frozenset(
    "display mathvariant stretchy fence separator accent accentunder lspace rspace linethickness columnalign "
    "columnspacing rowspacing displaystyle scriptlevel open close separators notation width height depth "
    "minsize maxsize movablelimits largeop symmetric form".split()
)


def latex_to_mathml(latex: str, *, display: bool) -> str:
    """``<math>`` markup for ``latex``, or an escaped ``<code>`` of it when it cannot be converted."""
    if len(latex) <= MAX_LATEX:
        try:
            tree = _rebuilt(ET.fromstring(convert(latex, display="block" if display else "inline")))
            return ET.tostring(tree, encoding="unicode", short_empty_elements=False)
        except Exception:  # latex2mathml raises many kinds on malformed input; RecursionError on deep nesting
            pass
    code = ET.Element("code", {"class": "latex"})
    code.text = latex
    return ET.tostring(code, encoding="unicode")


def _rebuilt(node: ET.Element) -> ET.Element:
    """A copy of ``node`` with allowed elements and attributes only (no namespace: HTML puts <math> in it)."""
    tag = node.tag.rsplit("}", 1)[-1]
    if tag not in ELEMENTS:
        out = ET.Element("mtext")
        out.text = "".join(node.itertext())
        out.tail = node.tail
        return out
    out = ET.Element(tag, {k: v for k, v in node.attrib.items() if k in ATTRIBUTES})
    out.text, out.tail = node.text, node.tail
    out.extend([_rebuilt(child) for child in node])
    return out
