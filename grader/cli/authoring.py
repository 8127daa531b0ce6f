"""Instructors' verbs: ``new`` (a scaffold), ``import-nbgrader`` (an assignment from an nbgrader notebook),
``release`` (the student release), ``validate`` (six checks, examples, tolerance report, ``--mutants``)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from grader.cli.app import NO_FAST_START, app, console, fail, start_launcher, untrusted
from grader.errors import GraderError


@app.command()
def new(folder: Path):
    """Write a working minimal assignment into FOLDER (its name is the id): spec, instructor notebook,
    reference.py and examples. `grader validate FOLDER` passes on it as written."""
    from grader.authoring.scaffold import new_assignment

    try:
        files = new_assignment(folder)
    except GraderError as exc:
        fail(exc)
    for path in files:
        console.print(f"wrote {path}", soft_wrap=True, markup=False)
    console.print(f"next: grader validate {folder}", soft_wrap=True, markup=False)


@app.command("import-nbgrader")
def import_nbgrader(notebook: Path, out: Path = typer.Option(..., "--out", help="Empty folder for the assignment.")):
    """Make an assignment folder from a notebook written for nbgrader: a copy of it and an assignment.toml
    (manually graded cells as written questions; autograder tests listed, to turn into cases)."""
    from grader.authoring.nbgrader_import import import_nbgrader as write_folder

    try:
        spec, note = write_folder(notebook, out)
    except GraderError as exc:
        fail(exc)
    console.print(f"wrote {spec}" + (f"\nnote: {note}" if note else ""), soft_wrap=True, markup=False)
    console.print(f"next: grader release {out} --out RELEASE", soft_wrap=True, markup=False)


@app.command()
def release(assignment: Path, out: Path = typer.Option(..., "--out", help="Empty folder for the release.")):
    """Build the student release: template notebook, public tests with expected values, assets. Refused when
    a graded function passes its cases in the template (its solution would ship)."""
    from grader.assignment.spec import load_assignment
    from grader.authoring.publish import release_checked

    try:
        notebook = release_checked(load_assignment(assignment), out)
    except GraderError as exc:
        fail(exc)
    console.print(f"released {notebook}")


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
        gpu = spec.spec.limits.gpu
        launcher, notice = start_launcher(asset_paths(spec), spec.notebook_path, no_sandbox, no_fast_start, gpu)()
        console.print(notice)
        checked = run_checks(spec, launcher, jobs or None)
        analysis = _mutation_analysis(spec, launcher, jobs) if mutants else None
    except GraderError as exc:
        fail(exc)
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
