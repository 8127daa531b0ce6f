"""Grading on a real Dask cluster (a ``dask scheduler`` and two ``dask worker`` processes, or ``local:N``) gives
each student exactly the points local grading gives, records the worker, and keeps the gradebook's guarantees."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest
from typer.testing import CliRunner

from grader.authoring.examples import example_notebooks, expected_points
from grader.cli import app
from grader.grading.results import SubmissionResult
from tests.cluster.conftest import SAMPLING, grade, submissions

pytestmark = pytest.mark.slow


def attempts(out) -> dict[str, int]:
    with sqlite3.connect(out / "gradebook.sqlite") as db:
        return dict(db.execute("SELECT student_id, count(*) FROM attempts GROUP BY student_id").fetchall())


def points(result: SubmissionResult) -> dict[str, float]:
    return {q.name: round(q.score, 6) for q in result.questions}


def expected(plan, example: str, table: dict) -> dict[str, float]:
    """The points ``examples/expected.toml`` gives ``example`` (what local grading is tested to give)."""
    return {q.function: round(float(table.get(example, {}).get(q.function, q.points)), 6) for q in plan.questions}


def per_worker_lines(output: str) -> dict[str, int]:
    """{worker: submissions} from the summary's lines "worker tcp://...: N submission(s), S s grading (M s each)"."""
    found = re.findall(r"^worker (\S+): (\d+) submission\(s\), [0-9.]+ s grading \([0-9.]+ s each\)$", output, re.M)
    return {worker: int(count) for worker, count in found}


def test_examples_get_the_points_of_local_grading(dask, sampling, sampling_plan, tmp_path):
    table = expected_points(sampling)
    names = {name: name for name in example_notebooks(sampling)}
    subs = submissions(tmp_path / "subs", names)
    dask.scheduler(without_grader=True)  # a plain `dask scheduler`: the grader's tasks travel by value
    dask.worker("w1")  # a plain `dask worker`
    dask.grader_worker("w2")  # `grader worker`
    workers = set(dask.wait_for_workers(2).values())
    out = tmp_path / "out"

    summary = grade(sampling, sampling_plan, subs, out, dask.address)

    assert summary.graded_now == len(names) and attempts(out) == dict.fromkeys(names, 1)
    for name in names:
        result = SubmissionResult.load(out / "results" / f"{name}.json")
        assert result.status == "graded", name
        assert points(result) == expected(sampling_plan, name, table), name
        assert result.provenance["worker"] in workers
        assert result.isolation in ("zygote", "bubblewrap")  # sandboxed, as local grading on this machine
    assert {json.loads((out / "results" / f"{n}.json").read_text())["provenance"]["worker"] for n in names} == workers
    assert set(summary.workers) == workers and sum(n for n, _ in summary.workers.values()) == len(names)


def test_local_cluster_from_the_command_line(tmp_path):
    subs = submissions(tmp_path / "subs", {"alice": "correct", "bob": "bug_greedy_float"})
    (subs / "carol.ipynb").write_text('{"cells": "[/red] not a notebook"')  # hostile: broken JSON, rich markup
    out = tmp_path / "out"
    run = CliRunner().invoke(app, ["grade", str(SAMPLING), str(subs), "--out", str(out), "--cluster", "local:2", "-q"])
    assert run.exit_code == 0, run.output
    assert "alice: 12/12 (graded" in run.output and "bob: 11/12 (graded" in run.output
    assert "carol: 0/12 (invalid" in run.output and ": carol.ipynb: not a readable notebook" in run.output
    assert run.output.count("1 slot(s); sandbox: bubblewrap") == 2
    assert attempts(out) == {"alice": 1, "bob": 1, "carol": 1}
    by_worker = per_worker_lines(run.output)  # the summary: each worker's submissions and grading time
    assert sum(by_worker.values()) == 3
    assert set(by_worker) == {
        SubmissionResult.load(out / "results" / f"{s}.json").provenance["worker"] for s in ("alice", "bob", "carol")
    }
    html = (out / "summary.html").read_text()  # the same in the class summary: a table, and who graded each student
    table = html[html.index('<table id="workers">') :]
    rows = re.findall(r'<tr><td>([^<]+)</td><td class="num">(\d+)</td>', table)
    assert {worker: int(n) for worker, n in rows} == by_worker
    assert "<th>Graded by</th>" in html

    again = CliRunner().invoke(app, ["grade", str(SAMPLING), str(subs), "--out", str(out), "--cluster", "local:2"])
    assert again.exit_code == 0 and "nothing to grade" in again.output  # resumes as local grading does
    assert not per_worker_lines(again.output)


def test_an_unknown_cluster_address_is_one_line(tmp_path):
    subs = submissions(tmp_path / "subs", {"alice": "correct"})
    out = tmp_path / "out"
    run = CliRunner().invoke(app, ["grade", str(SAMPLING), str(subs), "--out", str(out), "--cluster", "nowhere:1"])
    assert run.exit_code == 1
    assert "--cluster 'nowhere:1': expected local:N, slurm:N, tcp://HOST:PORT or tls://HOST:PORT" in run.output
