"""The tolerance report's verdicts, in their exact words, and the table that prints them; the noise of a real
case (the scaffold's reference recomputed in float64 and with other thread counts)."""

from rich.console import Console

from grader.assignment.spec import load_assignment
from grader.authoring.mutants import Mutant
from grader.authoring.mutation import MutantOutcome, MutationAnalysis
from grader.authoring.scaffold import new_assignment
from grader.authoring.tolerance import CaseTolerance, tolerances
from grader.authoring.tolerance_report import tolerance_table, verdict


def row(ratio: float, noise: float = 1e-7) -> CaseTolerance:
    return CaseTolerance("rms_norm", "random [rows]", 1e-6, 1e-5, 1e-6, noise, ratio, "float64, 1 thread")


def analysis(effect: float, killed_by: list[str]) -> MutationAnalysis:
    mutant = Mutant("M1", "rms_norm", "arith", "+ -> -", 1, 2, "", "")
    return MutationAnalysis("a", [MutantOutcome(mutant, "killed", killed_by, {"random [rows]": effect})], [], 1.0)


def test_verdicts():
    assert verdict(row(120.0)) == "ok"
    assert verdict(row(4.2)) == "fragile: the tolerance is only 4.2x the noise (below 10x) on some element"
    loose = analysis(3e-6, ["rms_norm: other case"])
    assert verdict(row(120.0, noise=1e-9), loose) == (
        "too loose: a killed mutant changed this value by 3e-06 and still passed this case"
    )
    assert verdict(row(120.0, noise=1e-9), analysis(3e-6, ["rms_norm: random [rows]"])) == "ok"  # this case killed it
    assert verdict(row(120.0, noise=1e-7), loose) == "ok"  # within 100x the noise: rounding, not an effect


def test_the_table_prints_spec_text_as_written():
    console = Console(record=True, width=200)
    console.print(tolerance_table([row(120.0), row(4.2)]))
    text = console.export_text()
    assert "rms_norm: random [rows]" in text and "1.2e+02x" in text and "fragile: the tolerance is only 4.2x" in text


def test_the_noise_of_a_real_case(tmp_path):
    new_assignment(tmp_path / "norms")
    rows = tolerances(load_assignment(tmp_path / "norms"))
    assert [r.case for r in rows] == ["random rows", "small values, where eps matters"]
    assert all(0 < r.noise < 1e-6 and r.ratio >= 10 and not r.fragile for r in rows)
    assert rows[0].sources.startswith("float64, 1 thread, 2 threads, 4 threads")
