"""TAs' verbs: ``grade`` (a class, resumable), ``export`` (LMS and CI formats), ``report`` (reports again),
``doctor`` (this machine's isolation)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from grader.cli.app import NO_FAST_START, app, console, fail, start_launcher, untrusted
from grader.errors import GraderError

GPU_HERE = (
    "note: this assignment asks for a GPU ([limits] gpu = true): its kernels see this machine's GPU devices, if it "
    "has any; only --cluster places it on GPU workers"
)


@app.command()
def grade(
    assignment: Path,
    submissions: Path,
    out: Path = typer.Option(..., "--out", help="Folder for the gradebook, results, reports, summary and exports."),
    jobs: int = typer.Option(
        0, "--jobs", "-j", help="Kernels at once (default: number of cores; with --cluster, each worker's threads)."
    ),
    no_sandbox: bool = typer.Option(
        False, "--no-sandbox", help="Run submissions without isolation (trusted code only)."
    ),
    regrade: bool = typer.Option(False, "--regrade", help="Grade every submission again, even if already graded."),
    student: list[str] = typer.Option(
        [], "--student", help="Grade (again) only this student id (a Moodle participant number); repeatable."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar: one log line per submission."),
    no_fast_start: bool = NO_FAST_START,
    cluster: str = typer.Option(
        None,
        "--cluster",
        help="Grade on Dask workers: local:N (processes here), slurm:N (SLURM jobs), tcp:// or tls://HOST:PORT.",
    ),
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
        if cluster:
            from grader.cluster.connect import check_address  # imports distributed: only with --cluster

            check_address(cluster)
        spec = load_assignment(assignment)
        intake = load_submissions(submissions, Path(spec.spec.notebook).name, out / "unpacked")
        if not intake.submissions:
            raise GraderError(f"{submissions}: no submissions found")
        groundtruth = partial(groundtruth_key, spec, cache_folder(out))  # remembered in OUT/.groundtruth
        batch = open_batch(spec_info(spec), groundtruth, intake, out, settings, manual_questions(spec))
    except GraderError as exc:
        fail(exc)
    console.print(f"{len(intake.submissions)} submission(s) found ({intake.layout} layout)")
    for issue in intake.issues:
        console.print(f"[yellow]skipped:[/yellow] {untrusted(issue)}", soft_wrap=True)
    with batch:
        if not batch.tasks:
            _print_summary(batch.finish_without_grading(), out)
            return
        if cluster:
            _grade_on_cluster(batch, spec, out, quiet, cluster, no_sandbox, no_fast_start)
        else:
            _grade_tasks(batch, spec, out, quiet, no_sandbox, no_fast_start)


def _grade_tasks(batch, spec, out: Path, quiet: bool, no_sandbox: bool, no_fast_start: bool) -> None:
    """Start the kernels (a zygote imports torch meanwhile), build the plan, grade what ``batch`` left to grade."""
    from grader.assignment.assets import asset_paths

    try:
        gpu = spec.spec.limits.gpu
        launcher_ready = start_launcher(asset_paths(spec), spec.notebook_path, no_sandbox, no_fast_start, gpu)
        plan = _plan(spec, out)
        launcher, notice = launcher_ready()
    except GraderError as exc:
        fail(exc)
    console.print(notice)
    if gpu:
        console.print(escape(GPU_HERE), soft_wrap=True)  # "[limits]" is not markup
    _run(quiet, lambda progress: batch.grade(plan, launcher, progress), out)


def _grade_on_cluster(batch, spec, out: Path, quiet: bool, address: str, no_sandbox: bool, no_fast_start: bool):
    """Build the plan here (its ground truth computed once), grade what ``batch`` left to grade on Dask workers."""
    from grader.cluster.run import ClusterSettings, grade_on_cluster

    try:
        plan = _plan(spec, out)
    except GraderError as exc:
        fail(exc)
    settings = ClusterSettings(address, require_sandbox=not no_sandbox, fast_start=not no_fast_start)

    def say(line: str) -> None:
        console.print(untrusted(line), soft_wrap=True)

    _run(quiet, lambda progress: grade_on_cluster(batch, spec, plan, settings, progress, say), out)


def _plan(spec, out: Path):
    from grader.assignment.groundtruth import build_plan
    from grader.assignment.gtsources import cache_folder

    plan = build_plan(spec, cache_dir=cache_folder(out))  # OUT/.groundtruth: computed once
    console.print(str(plan.groundtruth))
    return plan


def _run(quiet: bool, grading, out: Path) -> None:
    """Run ``grading(progress)`` (a coroutine) under the progress display; print the summary."""
    import asyncio

    from grader.batch.progress import BatchProgress

    with BatchProgress(console, quiet) as progress:
        try:
            summary = asyncio.run(grading(progress))
        except GraderError as exc:  # the machine, not a submission: e.g. no kernel can start at all
            fail(exc)
        except KeyboardInterrupt:
            console.print(f"interrupted: {progress.count} result(s) of this run are kept; rerun to go on")
            raise typer.Exit(130) from None
    _print_summary(summary, out)


def _print_summary(summary, out: Path) -> None:
    for exported in summary.exports:
        for warning in exported.warnings:
            console.print(f"[yellow]{exported.format}:[/yellow] {untrusted(warning)}", soft_wrap=True)
    if summary.warning:
        console.print(f"[red]warning:[/red] {untrusted(summary.warning)}", soft_wrap=True)
    if summary.skipped:
        console.print(f"{summary.skipped} submission(s) already graded, skipped (--regrade to grade them again)")
    if summary.to_review:
        console.print(f"{summary.to_review} written answer(s) to review by hand: grader review {untrusted(out)}")
    if not summary.graded_now:
        console.print(f"nothing to grade -> {out} (summary: {out / 'summary.html'})")
        return
    for worker, (done, seconds) in sorted(summary.workers.items()):
        console.print(
            f"worker {untrusted(worker)}: {done} submission(s), {seconds:.1f} s grading ({seconds / done:.2f} s each)",
            soft_wrap=True,
        )
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
        fail(exc)
    for warning in warnings:
        console.print(f"[red]warning:[/red] {untrusted(warning)}", soft_wrap=True)
    for exported in done:
        console.print(f"{exported.format}: {exported.path}")
        for warning in exported.warnings:
            console.print(f"  [yellow]warning:[/yellow] {untrusted(warning)}", soft_wrap=True)


@app.command()
def report(out: Path):
    """Render the feedback reports again from OUT/results/*.json (with the TAs' manual points, if any)."""
    from grader.batch.gradebook import Gradebook
    from grader.batch.outfolder import render_totals
    from grader.grading.report import render_reports
    from grader.grading.results import SubmissionResult

    count = 0
    if (out / "gradebook.sqlite").is_file():
        try:
            with Gradebook.open(out, create=False) as gb:
                count = render_totals(gb, out)
        except GraderError as exc:
            fail(exc)
    if not count:
        files = sorted((out / "results").glob("*.json"))
        if not files:
            fail(GraderError(f"{out / 'results'}: no results to render"))
        for path in files:
            render_reports(SubmissionResult.load(path), out / "reports")
        count = len(files)
    console.print(f"rendered {count} report(s) into {out / 'reports'}")


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
