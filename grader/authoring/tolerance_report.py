"""The tolerance report of ``grader validate``: each ``close`` case's atol/rtol next to its numerical noise,
flagged *fragile* or *too loose* (:mod:`grader.authoring.tolerance`). Text from the spec goes into
:class:`rich.text.Text`, never through markup."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from grader.authoring.tolerance import FRAGILE, CaseTolerance, too_loose


def verdict(row: CaseTolerance, analysis=None) -> str:
    """``ok``, ``fragile: ...`` or ``too loose: ...`` for one case (one line)."""
    if row.fragile:
        return f"fragile: the tolerance is only {row.ratio:.2g}x the noise (below {FRAGILE:g}x) on some element"
    loose = too_loose(row, analysis)
    if loose is not None:
        return f"too loose: a killed mutant changed this value by {loose:.2g} and still passed this case"
    return "ok"


def tolerance_table(rows: list[CaseTolerance], analysis=None) -> Table:
    table = Table(title="tolerances of the close cases (noise: float64 and thread-count recomputations)")
    for column in ("case", "atol", "rtol", "tolerance", "noise", "ratio", "verdict"):
        table.add_column(column, overflow="fold")
    for row in rows:
        ratio = f"{row.ratio:.2g}x" if row.noise else "exact"
        text = verdict(row, analysis)
        style = "green" if text == "ok" else "red"
        cells = (f"{row.function}: {row.case}", f"{row.atol:g}", f"{row.rtol:g}", f"{row.tolerance:.2g}",
                 f"{row.noise:.2g}", ratio)  # fmt: skip
        table.add_row(*(Text(c) for c in cells), Text(text, style=style))
    return table
