"""The table of test results a student sees in the terminal or a notebook: one place, whichever way the check ran
(``grader check`` in-process or on the check server, ``check()`` in a notebook).

Test names and messages come from the student's code: they are escaped, never read as rich markup.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.markup import escape
from rich.table import Table

DETAILS_CHARS = 300  # of each failing test's message
# in every self-check's output: the terminal, the notebook and the report
PUBLIC_ONLY = "public tests only: {count} hidden test(s) run at grading; this is not your grade"


def print_results(console: Console, title: str, rows: Iterable[tuple[str, str, str]], hidden_note: str) -> None:
    """A table of ``(test name, status, output)`` rows under ``title``, then ``hidden_note``."""
    table = Table(title=escape(title))
    for column in ("test", "result", "details"):
        table.add_column(column, overflow="fold")
    for name, status, output in rows:
        verdict = "[green]pass[/green]" if status == "passed" else "[red]FAIL[/red]"
        table.add_row(escape(name), verdict, escape(output[:DETAILS_CHARS]))
    console.print(table)
    console.print(hidden_note, markup=False)
