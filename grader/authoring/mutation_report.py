"""The terminal report of ``grader validate --mutants``: per function its mutants, what killed each, the survivors
with their diffs, the score, the detectable distortion of each distribution case, and the run time.

Every string from a notebook (diffs, test names, messages) goes into a :class:`rich.text.Text`, never
through rich markup, so brackets in code print as written.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader.authoring.mutation import MutationAnalysis
from grader.authoring.power import POWER

RESULT = {"killed": "killed", "survived": "SURVIVED", "equivalent": "survived (likely equivalent)"}
STYLE = {"killed": "green", "survived": "bold red", "equivalent": "yellow"}


def print_report(console: Console, analysis: MutationAnalysis) -> None:
    functions = list(dict.fromkeys(o.mutant.function for o in analysis.outcomes))
    for function in functions:
        console.print(_function_table(analysis, function))
    survivors = [o for o in analysis.outcomes if o.status != "killed"]
    for outcome in survivors:
        m = outcome.mutant
        title = Text(f"{m.id} {m.function} ({RESULT[outcome.status]}), cell {m.cell} line {m.line}: {m.change}")
        console.print(title, style=STYLE[outcome.status], soft_wrap=True)
        console.print(Text(m.diff), soft_wrap=True)
    console.print(summary_table(analysis))
    if analysis.power:
        console.print(power_table(analysis))
    killed, survived, equivalent = analysis.counts()
    console.print(
        Text(
            f"mutation score {analysis.score():.1%}: {killed} killed, {survived} survived, {equivalent} likely "
            f"equivalent of {len(analysis.outcomes)} mutants; analysis took {analysis.seconds:.0f} s"
        ),
        soft_wrap=True,
    )


def _function_table(analysis: MutationAnalysis, function: str) -> Table:
    table = Table(title=Text(f"mutants of {function}"))
    for column in ("mutant", "operator", "line", "change", "result", "killed by"):
        table.add_column(column, overflow="fold")
    for o in (o for o in analysis.outcomes if o.mutant.function == function):
        m = o.mutant
        killers = ", ".join(o.killed_by[:2]) + (f" (+{len(o.killed_by) - 2})" if len(o.killed_by) > 2 else "")
        table.add_row(
            Text(m.id), Text(m.operator), Text(f"{m.cell}:{m.line}"), Text(m.change),
            Text(RESULT[o.status], style=STYLE[o.status]), Text(killers),
        )  # fmt: skip
    return table


def summary_table(analysis: MutationAnalysis) -> Table:
    table = Table(title=Text(f"mutation score of {analysis.assignment}"))
    for column in ("function", "mutants", "killed", "survived", "likely equivalent", "score"):
        table.add_column(column)
    for function in dict.fromkeys(o.mutant.function for o in analysis.outcomes):
        killed, survived, equivalent = analysis.counts(function)
        row = (
            function,
            killed + survived + equivalent,
            killed,
            survived,
            equivalent,
            f"{analysis.score(function):.0%}",
        )
        table.add_row(*(Text(str(v)) for v in row))
    killed, survived, equivalent = analysis.counts()
    total = (len(analysis.outcomes), killed, survived, equivalent, f"{analysis.score():.1%}")
    table.add_row(Text("all"), *(Text(str(v)) for v in total))
    return table


def power_table(analysis: MutationAnalysis) -> Table:
    table = Table(title=Text(f"distribution cases: smallest distortion detected with probability >= {POWER}"))
    for column in ("function", "case", "draws", "alpha", "total variation distance"):
        table.add_column(column, overflow="fold")
    for row in analysis.power:
        table.add_row(
            Text(row.function), Text(row.case), Text(str(row.draws)), Text(f"{row.alpha:g}"), Text(f"{row.tv:.3f}")
        )
    return table
