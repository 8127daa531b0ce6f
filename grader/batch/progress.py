"""What ``grader grade`` shows while it grades: a progress bar on a terminal, one line per submission otherwise."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from grader.common.text import printable


class BatchProgress:
    """A rich progress bar (counts, not-graded, ETA) on a terminal; one line per submission otherwise."""

    def __init__(self, console: Console, quiet: bool):
        self.console = console
        self.live = not quiet and console.is_terminal
        self.failed = self.count = 0
        self.bar = Progress(
            TextColumn("grading"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[red]{task.fields[failed]} not graded[/red]"),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            disable=not self.live,
        )
        self.task = None

    def __enter__(self):
        self.bar.__enter__()
        return self

    def __exit__(self, *exc):
        self.bar.__exit__(*exc)

    def start(self, total: int, skipped: int) -> None:
        self.task = self.bar.add_task("grading", total=total, failed=0)

    def done(self, r) -> None:
        self.count += 1
        self.failed += r.status != "graded"
        self.bar.update(self.task, advance=1, failed=self.failed)
        line = f"{r.student_id}: {r.score:.4g}/{r.max_score:.4g} ({r.status}, {r.seconds:.1f} s)"
        if r.provenance.get("worker"):  # graded on a cluster (grader.cluster)
            line += f" on {r.provenance['worker']}"
        if r.status != "graded":
            line += f": {r.message[:200]}"
        line = printable(line)  # ids and messages come from submissions
        if self.live:
            if r.status != "graded":
                self.bar.console.print(line, soft_wrap=True, markup=False)
        else:
            self.console.print(line, soft_wrap=True, markup=False)
