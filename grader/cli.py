"""The ``grader`` command: a thin shell over the library (new, validate, release, check, grade, export, report,
doctor).

Exit status: 0 when the command did its job (a batch whose submissions failed still completed);
1 with a one-line reason when the grader itself could not run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from grader.common.text import printable
from grader.errors import GraderError

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


def _fail(exc: Exception) -> NoReturn:
    console.print(f"[red]error:[/red] {untrusted(exc)}", soft_wrap=True)
    raise typer.Exit(1)


NO_FAST_START = typer.Option(
    False, "--no-fast-start", help="Start every kernel from scratch instead of forking it from a preloaded zygote."
)


@app.command()
def new(folder: Path):
    """Write a working minimal assignment into FOLDER (its name is the id): spec, instructor notebook,
    reference.py and examples. `grader validate FOLDER` passes on it as written."""
    from grader.authoring.scaffold import new_assignment

    try:
        files = new_assignment(folder)
    except GraderError as exc:
        _fail(exc)
    for path in files:
        console.print(f"wrote {path}", soft_wrap=True, markup=False)
    console.print(f"next: grader validate {folder}", soft_wrap=True, markup=False)


@app.command()
def release(assignment: Path, out: Path = typer.Option(..., "--out", help="Empty folder for the release.")):
    """Build the student release: template notebook, public tests with expected values, assets. Refused when
    a graded function passes its cases in the template (its solution would ship)."""
    from grader.assignment.spec import load_assignment
    from grader.authoring.publish import release_checked

    try:
        notebook = release_checked(load_assignment(assignment), out)
    except GraderError as exc:
        _fail(exc)
    console.print(f"released {notebook}")


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
        _fail(GraderError(problem))
    console.print(first_line(notebook), markup=False, soft_wrap=True)
    progress = ProgressLine()
    try:
        reply = None if no_server else _check_on_server(notebook, tests, no_fast_start, progress.event)
        if reply is None:
            reply = _check_in_process(notebook, tests, no_fast_start, progress)
    finally:
        progress.close()
    if not reply["ok"]:
        _fail(GraderError(reply["grader_error"]))
    print_reply(console, reply, verbose)


def _check_in_process(notebook: Path, tests: Path | None, no_fast_start: bool, progress) -> dict:
    from grader.selfcheck.check import check_notebook, check_reply, load_check_plan

    try:
        plan = load_check_plan(notebook, tests)
        launcher, notice = _start_launcher(plan.assets, None, no_sandbox=True, no_fast_start=no_fast_start)()
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


@app.command()
def grade(
    assignment: Path,
    submissions: Path,
    out: Path = typer.Option(..., "--out", help="Folder for the gradebook, results, reports, summary and exports."),
    jobs: int = typer.Option(0, "--jobs", "-j", help="Kernels at once (default: number of cores)."),
    no_sandbox: bool = typer.Option(
        False, "--no-sandbox", help="Run submissions without isolation (trusted code only)."
    ),
    regrade: bool = typer.Option(False, "--regrade", help="Grade every submission again, even if already graded."),
    student: list[str] = typer.Option(
        [], "--student", help="Grade (again) only this student id (a Moodle participant number); repeatable."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar: one log line per submission."),
    no_fast_start: bool = NO_FAST_START,
):
    """Grade a class: a Moodle download (zip or folder), a folder of <id>.ipynb files or of <id>/ folders.
    Resumable: a rerun grades only what is not graded yet."""
    from functools import partial

    from grader.assignment.gtkey import groundtruth_key
    from grader.assignment.gtsources import cache_folder
    from grader.assignment.manual import manual_questions
    from grader.assignment.spec import load_assignment
    from grader.batch.intake import load_submissions
    from grader.batch.run import BatchSettings, open_batch, spec_info

    settings = BatchSettings(jobs=jobs, regrade=regrade, only=student)
    try:  # everything that may refuse comes first: no kernel is started, no model loaded, before it passed
        spec = load_assignment(assignment)
        intake = load_submissions(submissions, Path(spec.spec.notebook).name, out / "unpacked")
        if not intake.submissions:
            raise GraderError(f"{submissions}: no submissions found")
        groundtruth = partial(groundtruth_key, spec, cache_folder(out))  # remembered in OUT/.groundtruth
        batch = open_batch(spec_info(spec), groundtruth, intake, out, settings, manual_questions(spec))
    except GraderError as exc:
        _fail(exc)
    console.print(f"{len(intake.submissions)} submission(s) found ({intake.layout} layout)")
    for issue in intake.issues:
        console.print(f"[yellow]skipped:[/yellow] {untrusted(issue)}", soft_wrap=True)
    with batch:
        if not batch.tasks:
            _print_summary(batch.finish_without_grading(), out)
            return
        _grade_tasks(batch, spec, out, quiet, no_sandbox, no_fast_start)


def _grade_tasks(batch, spec, out: Path, quiet: bool, no_sandbox: bool, no_fast_start: bool) -> None:
    """Start the kernels (a zygote imports torch meanwhile), build the plan, grade what ``batch`` left to grade."""
    import asyncio

    from grader.assignment.assets import asset_paths
    from grader.assignment.groundtruth import build_plan
    from grader.assignment.gtsources import cache_folder

    try:
        launcher_ready = _start_launcher(asset_paths(spec), spec.notebook_path, no_sandbox, no_fast_start)
        plan = build_plan(spec, cache_dir=cache_folder(out))  # OUT/.groundtruth: computed once
        console.print(str(plan.groundtruth))
        launcher, notice = launcher_ready()
    except GraderError as exc:
        _fail(exc)
    console.print(notice)
    from grader.batch.progress import BatchProgress

    with BatchProgress(console, quiet) as progress:
        try:
            summary = asyncio.run(batch.grade(plan, launcher, progress))
        except GraderError as exc:  # the machine, not a submission: e.g. no kernel can start at all
            _fail(exc)
        except KeyboardInterrupt:
            console.print(f"interrupted: {progress.count} result(s) of this run are kept; rerun to go on")
            raise typer.Exit(130) from None
    _print_summary(summary, out)


def _start_launcher(assets: dict[str, Path], notebook: Path | None, no_sandbox: bool, no_fast_start: bool):
    """Begin choosing the launcher (:func:`grader.sandbox.isolation.start_launcher_for`); call the result when
    needed."""
    from grader.sandbox.isolation import start_launcher_for

    return start_launcher_for(assets, notebook, require_sandbox=not no_sandbox, fast_start=not no_fast_start)


def _print_summary(summary, out: Path) -> None:
    for exported in summary.exports:
        for warning in exported.warnings:
            console.print(f"[yellow]{exported.format}:[/yellow] {untrusted(warning)}", soft_wrap=True)
    if summary.warning:
        console.print(f"[red]warning:[/red] {untrusted(summary.warning)}", soft_wrap=True)
    if summary.skipped:
        console.print(f"{summary.skipped} submission(s) already graded, skipped (--regrade to grade them again)")
    if not summary.graded_now:
        console.print(f"nothing to grade -> {out} (summary: {out / 'summary.html'})")
        return
    console.print(
        f"graded {summary.graded}/{summary.graded_now} submissions in {summary.seconds:.1f} s -> {out} "
        f"(summary: {out / 'summary.html'})"
    )


@app.command()
def export(
    out: Path,
    formats: list[str] = typer.Option(
        ["all"],
        "--format",
        "-f",
        help="csv, moodle-worksheet, moodle-feedback, canvas, gradescope, junit, summary or all; repeatable.",
    ),
    to: Path = typer.Option(None, "--to", help="Folder for the files (default: OUT/exports)."),
    worksheet: Path = typer.Option(None, "--worksheet", help="A grading worksheet downloaded from Moodle to fill in."),
    delimiter: str = typer.Option(",", "--delimiter", help="Worksheet separator: ',' or ';'."),
    decimal_comma: bool = typer.Option(False, "--decimal-comma", help="Worksheet grades as 7,50 (German Moodle)."),
    canvas_column: str = typer.Option(None, "--canvas-column", help="Canvas assignment column, e.g. 'Blatt 3 (4821)'."),
):
    """Write grades and feedback from OUT's gradebook in LMS and CI formats."""
    from pydantic import ValidationError

    from grader.batch.exports import FORMATS, ExportSettings
    from grader.batch.exports import export as do_export
    from grader.batch.exports.worksheet import WorksheetSettings
    from grader.batch.gradebook import Gradebook
    from grader.batch.outfolder import REPORTS_DIR, export_into, render_missing, render_totals, unreviewed_warning
    from grader.batch.summary import write_summary

    chosen = list(FORMATS) + ["summary"] if "all" in formats else formats
    unknown = [f for f in chosen if f not in FORMATS and f != "summary"]
    try:
        if unknown:
            raise GraderError(f"unknown format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}, summary, all")
        try:
            sheet = WorksheetSettings(delimiter=delimiter, decimal_comma=decimal_comma, template=worksheet)
        except ValidationError:
            raise GraderError(f"--delimiter must be ',' or ';', not {delimiter!r}") from None
        settings = ExportSettings(worksheet=sheet, canvas_column=canvas_column)
        with Gradebook.open(out, create=False) as gb:
            render_missing(gb, out)
            render_totals(gb, out)
            files = [f for f in chosen if f != "summary"]
            if to is None:  # into OUT: gradebook.csv, exports/ (rewritten by later grades with these options)
                done = export_into(gb, out, files, settings)
            else:
                done = do_export(gb, out / REPORTS_DIR, to, files, settings)
            if "summary" in chosen:
                console.print(f"summary: {write_summary(gb, out)}")
            warnings = [w for w in (gb.mixed_groundtruths(), unreviewed_warning(gb, out)) if w]
    except GraderError as exc:
        _fail(exc)
    for warning in warnings:
        console.print(f"[red]warning:[/red] {untrusted(warning)}", soft_wrap=True)
    for exported in done:
        console.print(f"{exported.format}: {exported.path}")
        for warning in exported.warnings:
            console.print(f"  [yellow]warning:[/yellow] {untrusted(warning)}", soft_wrap=True)


@app.command()
def report(out: Path):
    """Render the feedback reports again from OUT/results/*.json."""
    from grader.grading.report import render_reports
    from grader.grading.results import SubmissionResult

    files = sorted((out / "results").glob("*.json"))
    if not files:
        _fail(GraderError(f"{out / 'results'}: no results to render"))
    for path in files:
        render_reports(SubmissionResult.load(path), out / "reports")
    console.print(f"rendered {len(files)} report(s) into {out / 'reports'}")


@app.command()
def validate(
    assignment: Path,
    no_sandbox: bool = typer.Option(False, "--no-sandbox", help="Use a plain local kernel."),
    no_fast_start: bool = NO_FAST_START,
    jobs: int = typer.Option(0, "--jobs", "-j", help="Notebooks graded at once (default: number of cores)."),
    mutants: bool = typer.Option(
        False, "--mutants", help="Also grade mutants of the solution: are the tests good enough?"
    ),
):
    """Check an assignment before release: deterministic ground truth, solution full marks, template zero,
    no solution shipped, nothing leaked, examples earn their expected points; the tolerance of each close case
    against its numerical noise. Exit 1 if any check fails (or, with --mutants, if a mutant survives)."""
    from grader.assignment.assets import asset_paths
    from grader.assignment.spec import load_assignment
    from grader.authoring.validate import validate as run_checks

    try:
        spec = load_assignment(assignment)
        launcher, notice = _start_launcher(asset_paths(spec), spec.notebook_path, no_sandbox, no_fast_start)()
        console.print(notice)
        checked = run_checks(spec, launcher, jobs or None)
        analysis = _mutation_analysis(spec, launcher, jobs) if mutants else None
    except GraderError as exc:
        _fail(exc)
    findings = checked.findings
    table = Table(title=f"validate {spec.spec.id}")
    for column in ("check", "result", "details"):
        table.add_column(column, overflow="fold")
    for f in findings:
        table.add_row(f.check, "[green]ok[/green]" if f.passed else "[red]FAILED[/red]", untrusted(f.detail[:2000]))
    console.print(table)
    from grader.authoring.tolerance_report import tolerance_table

    console.print(tolerance_table(checked.tolerances, analysis))
    if analysis is not None:
        from grader.authoring.mutation_report import print_report

        print_report(console, analysis)
    if not all(f.passed for f in findings) or (analysis is not None and analysis.counts()[1]):
        raise typer.Exit(1)


def _mutation_analysis(spec, launcher, jobs: int):
    from grader.authoring.mutation import analyse

    console.print("mutation analysis: grading every mutant of the solution (this takes a while)")
    return analyse(spec, launcher, jobs or None)


@app.command()
def doctor():
    """Report what isolation this machine supports for grading."""
    from grader.sandbox.isolation import doctor as report

    table = Table(title="isolation on this machine")
    for column in ("feature", "status", "detail"):
        table.add_column(column, overflow="fold")
    for row in report():
        table.add_row(*row)
    console.print(table)


if __name__ == "__main__":
    app()
