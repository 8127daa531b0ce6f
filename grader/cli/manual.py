"""TAs' verbs for what is graded by hand: ``review`` (the review page), ``suggest`` (rubric items from a model,
for a TA to confirm)."""

from __future__ import annotations

from pathlib import Path

import typer

from grader.cli.app import app, console, fail, untrusted
from grader.errors import GraderError


@app.command()
def review(
    out: Path,
    host: str = typer.Option("127.0.0.1", help="Address to serve on; another than 127.0.0.1 shares the page."),
    port: int = typer.Option(0, help="Port (default: a free one)."),
    anonymous: bool = typer.Option(False, "--anonymous", help="Hide names: 'Student 7' instead."),
):
    """Serve the review page for OUT's written answers (TAs tick rubric items) until Ctrl-C."""
    from grader.review.serve import serve

    try:
        serve(out, host=host, port=port, anonymous=anonymous)
    except (GraderError, OSError) as exc:
        fail(exc)


@app.command()
def suggest(
    out: Path,
    endpoint: str = typer.Option(
        None, "--endpoint", help="An OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1."
    ),
    model: str = typer.Option("default", "--model", help="The model name the server knows."),
    local: Path = typer.Option(None, "--local", help="Instead of a server: a causal LM folder on this machine."),
    question: str = typer.Option(None, "--question", help="Only this manual question (default: all)."),
    allow_remote: bool = typer.Option(
        False, "--allow-remote", help="Allow an endpoint on another machine (student answers are sent there)."
    ),
    api_key_env: str = typer.Option(None, "--api-key-env", help="Environment variable holding the server's API key."),
):
    """Suggest rubric items for OUT's unreviewed answers with a model; a TA confirms each on the review page.
    Off unless run; answers go only to the endpoint given."""
    import os

    from grader.suggest.run import suggest_answers
    from grader.suggest.suggester import LocalModel, OpenAICompatible

    try:
        if (endpoint is None) == (local is None):
            raise GraderError("give exactly one of --endpoint URL or --local MODEL_FOLDER")
        key = os.environ.get(api_key_env, "") if api_key_env else ""
        suggester = (
            LocalModel(local) if local else OpenAICompatible(endpoint, model, api_key=key, allow_remote=allow_remote)
        )
        stats = suggest_answers(out, suggester, question, lambda line: console.print(untrusted(line), soft_wrap=True))
    except GraderError as exc:
        fail(exc)
    console.print(
        f"suggested for {stats.suggested} answer(s) ({stats.skipped} skipped: reviewed, already suggested, blank or "
        f"missing); confirm them on the review page: grader review {untrusted(out)}",
        soft_wrap=True,
    )
