"""The command line, run in-process: exit codes, one-line errors, and the files each command writes."""

import json
import re
import shutil

import pytest
from typer.testing import CliRunner

from grader.cli import app
from tests.helpers import GREEDY, REPO, SOFTMAX, notebook

runner = CliRunner()
SAMPLING = REPO / "assignments" / "03-sampling"


def test_a_bad_assignment_folder_fails_with_one_line(tmp_path):
    result = runner.invoke(app, ["grade", str(tmp_path), str(tmp_path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert result.output.strip().startswith("error:") and "assignment.toml" in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_grade_completes_and_exits_zero_even_when_submissions_are_broken(mini_assignment, tmp_path):
    subs = tmp_path / "subs"
    notebook(subs, "alice", GREEDY, SOFTMAX)
    (subs / "bob.ipynb").write_text("{ not json")
    notebook(subs / "carol", "mini", SOFTMAX)  # a per-student folder
    out = tmp_path / "out"
    result = runner.invoke(app, ["grade", str(mini_assignment.folder), str(subs), "--out", str(out), "-j", "2"])
    assert result.exit_code == 0, result.output
    assert "graded 2/3 submissions" in result.output
    scores = {p.stem: json.loads(p.read_text())["score"] for p in (out / "results").glob("*.json")}
    assert scores == {"alice": 3.0, "bob": 0.0, "carol": 2.0}
    assert {p.name for p in (out / "reports").iterdir()} == {f"{s}.{x}" for s in scores for x in ("html", "md")}
    assert (out / "gradebook.csv").read_text().count("\n") == 4

    (out / "reports" / "alice.html").unlink()
    result = runner.invoke(app, ["report", str(out)])
    assert result.exit_code == 0 and (out / "reports" / "alice.html").is_file()


@pytest.mark.slow
def test_release_then_check_the_template_and_a_solution(tmp_path):
    release_dir = tmp_path / "release"
    result = runner.invoke(app, ["release", str(SAMPLING), "--out", str(release_dir)])
    assert result.exit_code == 0, result.output

    result = runner.invoke(app, ["check", str(release_dir / "sampling.ipynb")])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("checking sampling.ipynb: your saved notebook runs in a fresh kernel")
    assert "bubblewrap" not in result.output and "isolation" not in result.output  # that is behind --verbose
    assert "0 / 12" in result.output and "this is not your grade" in result.output
    report = (release_dir / ".feedback" / "sampling.html").read_text()
    assert re.search(r"public tests only: \d+ hidden test\(s\) run at grading; this is not your grade", report)
    assert "Public tests: 0 / 12 points" in report and "Score:" not in report

    solved = release_dir / "solved.ipynb"
    shutil.copy(SAMPLING / "examples" / "correct.ipynb", solved)
    result = runner.invoke(app, ["check", str(solved)])
    assert result.exit_code == 0 and "FAIL" not in result.output, result.output


def test_check_without_tests_says_where_it_looked(tmp_path):
    path = notebook(tmp_path, "lonely", GREEDY)
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 1 and "no public tests found" in result.output


def test_doctor_reports_isolation():
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 0 and "sandbox" in result.output


@pytest.mark.parametrize(
    "name, content, why",
    [
        ("missing.ipynb", None, "no such file"),
        ("folder.ipynb", "dir", "is a folder"),
        ("notes.txt", "hello", "not a notebook (expected a .ipynb file)"),
        ("corrupt.ipynb", '{"cells": [', "not valid JSON"),
        ("other.ipynb", '{"a": 1}', "it has no list of cells"),
    ],
)
def test_check_refuses_what_is_not_a_notebook_with_one_line_and_no_report(tmp_path, name, content, why):
    notebook(tmp_path, "solved", GREEDY)  # a release would be here: the path alone is wrong
    (tmp_path / "tests").mkdir()
    path = tmp_path / name
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_text(content)
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 1, result.output
    assert result.output.strip().count("\n") == 0 and why in result.output, result.output
    assert not (tmp_path / ".feedback").exists()
