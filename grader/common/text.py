"""Strings from a submission, made safe for where they go. Nothing a student controls is printed or written raw.

Student ids (from file names), Moodle names, intake messages and every message a notebook causes (cell errors,
exceptions, results) pass through :func:`printable` when they enter the grader, and through the function for
their destination when they leave it: ``rich`` markup escaped where the CLI prints (``grader.cli.untrusted``),
:func:`csv_cell` for spreadsheets, Jinja's autoescape for HTML and the report's own escaping for Markdown.
"""

from __future__ import annotations

import re

MESSAGE_CHARS = 2000  # the longest message kept from a submission (a cell's error, a call's exception)

# C0 and C1 control characters except tab and newline, DEL, and the Unicode bidirectional overrides and isolates
# (they reorder what a reader sees: "Trojan Source"). Carriage returns go too: they overwrite terminal lines.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# What a spreadsheet evaluates at the start of a cell (OWASP, "CSV Injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?[0-9]+(?:[.,][0-9]+)?")


def printable(text: str) -> str:
    """``text`` without control characters (terminal escapes, carriage returns, bidi overrides); ``\\n`` and
    ``\\t`` stay."""
    return _UNPRINTABLE.sub("", text)


def clip(text: str, limit: int = MESSAGE_CHARS) -> str:
    """A submission's message, printable and at most ``limit`` characters (the end cut, and said so)."""
    if len(text) > limit:
        text = text[:limit] + f" [... {len(text) - limit} more characters cut]"
    return printable(text)


def one_line(text: str, limit: int = 200) -> str:
    """``text`` printable, on one line, at most ``limit`` characters (for ids, names and file names)."""
    return clip(" ".join(text.split()), limit)


def csv_cell(value):
    """A value for a CSV cell that a spreadsheet opens: strings printable and, when they start like a formula,
    prefixed with ``'`` (OWASP's guidance: ``=1+2`` shows as text, never evaluates). Numbers (also ``-1.5`` or
    ``7,50`` as text) and Moodle's lone ``-`` stay as they are."""
    if not isinstance(value, str):
        return value
    value = printable(value)
    if value.startswith(_FORMULA_START) and value != "-" and not _NUMBER.fullmatch(value):
        return "'" + value
    return value
