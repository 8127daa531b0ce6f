"""The ``grader`` command: a thin shell over the library (release, check, grade, report, validate, doctor).

Exit status: 0 when the command did its job (a batch whose submissions failed still completed);
1 with a one-line reason when the grader itself could not run.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from grader.errors import GraderError

# No Hugging Face hub at run time: a model name that is not a local folder fails at once instead of
# retrying DNS for a minute. Progress bars would only clutter the batch log.
for _key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_PROGRESS_BARS"):
    os.environ.setdefault(_key, "1")

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Autograder for the 'Engineering for LLMs' course.")
console = Console(highlight=False)


def _fail(exc: Exception) -> None:
    console.print(f"[red]error:[/red] {exc}", soft_wrap=True)
    raise typer.Exit(1)


@app.command()
def release(assignment: Path, out: Path = typer.Option(..., "--out", help="Empty folder for the release.")):
    """Build the student release: template notebook, public tests with expected values, assets."""
    from grader.release import release as do_release
    from grader.spec import load_assignment

    try:
        notebook = do_release(load_assignment(assignment), out)
    except GraderError as exc:
        _fail(exc)
    console.print(f"released {notebook}")


@app.command()
def check(notebook: Path, tests: Path = typer.Option(None, help="The release's tests folder, if not found.")):
    """Run the public tests on your notebook and show the results (offline, CPU)."""
    from grader.check import check_notebook, load_check_plan
    from grader.isolation import choose_launcher

    try:
        plan = load_check_plan(notebook, tests)
        launcher, notice = choose_launcher(plan.assets, require_sandbox=False)
        console.print(f"[yellow]note:[/yellow] {notice}")
        result, plan, report = check_notebook(notebook, plan, launcher)
    except GraderError as exc:
        _fail(exc)
    _print_result(result)
    hidden = sum(q.hidden_cases for q in plan.questions)
    console.print(f"{hidden} hidden test(s) are not run here; they will be run at grading.")
    console.print(f"report: {report}")


@app.command()
def grade(
    assignment: Path,
    submissions: Path,
    out: Path = typer.Option(..., "--out", help="Folder for results, reports and the gradebook."),
    jobs: int = typer.Option(0, "--jobs", "-j", help="Kernels at once (default: number of cores)."),
    no_sandbox: bool = typer.Option(
        False, "--no-sandbox", help="Run submissions without isolation (trusted code only)."
    ),
):
    """Grade a folder of submissions (<id>.ipynb files or <id>/ folders)."""
    from grader.batch import grade_all
    from grader.groundtruth import build_plan
    from grader.isolation import choose_launcher
    from grader.spec import load_assignment
    from grader.submissions import find_submissions

    try:
        spec = load_assignment(assignment)
        subs = find_submissions(submissions, Path(spec.spec.notebook).name)
        plan = build_plan(spec)
        launcher, notice = choose_launcher(plan.assets, require_sandbox=not no_sandbox)
    except GraderError as exc:
        _fail(exc)
    console.print(notice)
    if not subs:
        _fail(GraderError(f"{submissions}: no submissions found"))

    def done(r):
        console.print(f"{r.student_id}: {r.score:.4g}/{r.max_score:.4g} ({r.status}, {r.seconds:.1f} s)")

    try:
        summary = asyncio.run(grade_all(plan, subs, out, launcher, jobs or os.cpu_count(), done))
    except GraderError as exc:  # the machine, not a submission: e.g. no kernel can start at all
        _fail(exc)
    console.print(f"graded {summary.graded}/{len(summary.results)} submissions in {summary.seconds:.1f} s -> {out}")


@app.command()
def report(out: Path):
    """Render the feedback reports again from OUT/results/*.json."""
    from grader.report import render_reports
    from grader.results import SubmissionResult

    files = sorted((out / "results").glob("*.json"))
    if not files:
        _fail(GraderError(f"{out / 'results'}: no results to render"))
    for path in files:
        render_reports(SubmissionResult.load(path), out / "reports")
    console.print(f"rendered {len(files)} report(s) into {out / 'reports'}")


@app.command()
def validate(
    assignment: Path, no_sandbox: bool = typer.Option(False, "--no-sandbox", help="Use a plain local kernel.")
):
    """Check an assignment before release: deterministic ground truth, solution full marks, template zero,
    nothing leaked. Exit 1 if any check fails."""
    from grader.groundtruth import asset_paths
    from grader.isolation import choose_launcher
    from grader.spec import load_assignment
    from grader.validate import validate as run_checks

    try:
        spec = load_assignment(assignment)
        launcher, notice = choose_launcher(asset_paths(spec), require_sandbox=not no_sandbox)
        console.print(notice)
        findings = run_checks(spec, launcher)
    except GraderError as exc:
        _fail(exc)
    table = Table(title=f"validate {spec.spec.id}")
    for column in ("check", "result", "details"):
        table.add_column(column, overflow="fold")
    for f in findings:
        table.add_row(f.check, "[green]ok[/green]" if f.passed else "[red]FAILED[/red]", f.detail[:2000])
    console.print(table)
    if not all(f.passed for f in findings):
        raise typer.Exit(1)


@app.command()
def doctor():
    """Report what isolation this machine supports for grading."""
    from grader.isolation import doctor as report

    table = Table(title="isolation on this machine")
    for column in ("feature", "status", "detail"):
        table.add_column(column, overflow="fold")
    for row in report():
        table.add_row(*row)
    console.print(table)


def _print_result(result) -> None:
    table = Table(title=f"{result.assignment}: {result.score:.4g} / {result.max_score:.4g}")
    for column in ("test", "result", "details"):
        table.add_column(column, overflow="fold")
    for t in result.tests:
        status = "[green]pass[/green]" if t.status == "passed" else "[red]FAIL[/red]"
        table.add_row(t.name, status, t.output[:300])
    console.print(table)


if __name__ == "__main__":
    app()
