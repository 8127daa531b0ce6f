"""Students' verb: ``check`` (the public tests, through the warm check server or in this process)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from grader.cli.app import NO_FAST_START, app, console, fail, start_launcher
from grader.errors import GraderError


@app.command()
def check(
    notebook: Path,
    tests: Path = typer.Option(None, help="The release's tests folder, if not found."),
    no_fast_start: bool = NO_FAST_START,
    no_server: bool = typer.Option(
        False,
        "--no-server",
        help="Check in this process instead of in the warm per-user check server (also: LLM_GRADER_NO_SERVER=1).",
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Also say how the kernel is isolated."),
):
    """Run the public tests on your notebook and show the results (offline, CPU).

    Checks run in a warm background server of yours (started on first use, gone after 15 idle minutes)."""
    from grader.selfcheck.preflight import notebook_problem
    from grader.selfcheck.progress import ProgressLine
    from grader.selfcheck.terminal import first_line, print_reply

    if problem := notebook_problem(notebook):
        fail(GraderError(problem))
    console.print(first_line(notebook), markup=False, soft_wrap=True)
    progress = ProgressLine()
    try:
        reply = None if no_server else _check_on_server(notebook, tests, no_fast_start, progress.event)
        if reply is None:
            reply = _check_in_process(notebook, tests, no_fast_start, progress)
    finally:
        progress.close()
    if not reply["ok"]:
        fail(GraderError(reply["grader_error"]))
    print_reply(console, reply, verbose)


def _check_in_process(notebook: Path, tests: Path | None, no_fast_start: bool, progress) -> dict:
    from grader.selfcheck.check import check_notebook, check_reply, load_check_plan

    try:
        plan = load_check_plan(notebook, tests)
        launcher, notice = start_launcher(plan.assets, None, no_sandbox=True, no_fast_start=no_fast_start)()
        result, plan, report = check_notebook(notebook, plan, launcher, progress)
    except GraderError as exc:
        return {"ok": False, "grader_error": str(exc)}
    return check_reply(result, plan, report, notice)


def _check_on_server(notebook: Path, tests: Path | None, no_fast_start: bool, on_event) -> dict | None:
    """The check, done by the warm per-user server (grader/selfcheck/server.py, started if needed); None to
    check in this process instead: the server is disabled, cannot start or did not answer. Only a server
    folder open to other users is worth a note: the user should fix it."""
    from grader.selfcheck import client, protocol

    if protocol.disabled():
        return None
    try:
        return client.request_check(notebook, tests, no_fast_start, on_event)
    except protocol.FolderRefused as exc:
        console.print(f"[yellow]note:[/yellow] not using the check server: {escape(str(exc))}", soft_wrap=True)
    except protocol.ServerUnavailable:
        pass
    return None
