"""What ``grader check`` prints, whichever way the check ran (in-process or on the check server): a first line
for the student (what runs, how long it may take), the table, what is not the grade, what to look at first.

Everything in a reply that came from the notebook (test names, messages, inputs) is printed without markup.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from grader.selfcheck.table import PUBLIC_ONLY, print_results


def first_line(notebook: Path) -> str:
    return (
        f"checking {notebook.name}: your saved notebook runs in a fresh kernel, then the public tests "
        "(a few seconds; a cell or a test that hangs is stopped at its time limit)"
    )


def print_reply(console: Console, reply: dict, verbose: bool) -> None:
    """Print a check's reply (:func:`grader.selfcheck.check.check_reply`); the isolation notice only if
    ``verbose``."""
    if verbose and reply.get("notice"):
        console.print(f"isolation: {reply['notice']}", markup=False, soft_wrap=True)
    result = reply["result"]
    rows = [(t["name"], t["status"], t["output"]) for t in result["tests"]]
    title = f"{result['assignment']}: public tests {reply['score']:.4g} / {reply['max_score']:.4g} points"
    print_results(console, title, rows, PUBLIC_ONLY.format(count=reply["hidden"]))
    entries = reply.get("guidance") or []
    if entries:
        console.print("what to look at:", markup=False)
    for entry in entries:
        console.print(f"  {entry['function']}: {entry['text']}", markup=False, soft_wrap=True)
        if entry.get("inputs"):
            for line in entry["inputs"].splitlines():
                console.print(f"      {line}", markup=False, soft_wrap=True)
    console.print(f"report: {reply['report']}", markup=False, soft_wrap=True)
