"""The ``grader`` Typer app and what its verbs share: the console, printing untrusted text, failing with one line,
starting a kernel launcher. The verbs register themselves on :data:`app` (see :mod:`grader.cli`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from grader.common.text import printable

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Autograder for the 'Engineering for LLMs' course.")
console = Console(highlight=False)


def untrusted(value) -> str:
    """A string that may come from a submission (a file name, a message), for ``console.print``: no control
    characters, markup escaped (``[/x]`` in a file name prints as text instead of crashing rich)."""
    return escape(printable(str(value)))


OFFLINE = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_PROGRESS_BARS")


@app.callback()
def _offline() -> None:
    """No Hugging Face hub at run time: a model name that is not a local folder fails at once instead of
    retrying DNS for a minute. Progress bars would only clutter the batch log. Set when a command runs (not
    when this module is imported), before anything imports transformers."""
    for key in OFFLINE:
        os.environ.setdefault(key, "1")


def fail(exc: Exception) -> NoReturn:
    console.print(f"[red]error:[/red] {untrusted(exc)}", soft_wrap=True)
    raise typer.Exit(1)


NO_FAST_START = typer.Option(
    False, "--no-fast-start", help="Start every kernel from scratch instead of forking it from a preloaded zygote."
)


def start_launcher(
    assets: dict[str, Path], notebook: Path | None, no_sandbox: bool, no_fast_start: bool, gpu: bool = False
):
    """Begin choosing the launcher (:func:`grader.sandbox.isolation.start_launcher_for`); call the result when
    needed."""
    from grader.sandbox.isolation import start_launcher_for

    return start_launcher_for(assets, notebook, require_sandbox=not no_sandbox, fast_start=not no_fast_start, gpu=gpu)
