"""A graded result says where its time went: execution.timings, one entry per phase and the total."""

import json

import pytest

from grader.grading.results import PHASES, SubmissionResult
from tests.helpers import GREEDY, SOFTMAX, grade, notebook


@pytest.mark.slow
def test_a_graded_result_records_each_phase_within_its_total(mini_plan, tmp_path):
    result = grade(mini_plan, notebook(tmp_path, "ok", GREEDY, SOFTMAX, "print('hello')"), tmp_path)
    assert result.status == "graded" and result.score == 3.0
    timings = result.timings
    assert list(timings) == [*PHASES, "total"]
    assert all(v >= 0 for v in timings.values())
    assert sum(timings[p] for p in PHASES) <= timings["total"]
    assert timings["total"] <= result.seconds + 0.05
    for phase in ("kernel_start", "cells", "harness_install", "calls", "compare", "kernel_stop"):
        assert timings[phase] > 0, phase  # every phase happened: 3 cells, 3 calls, 3 comparisons

    saved = json.loads(result.save(tmp_path / "results").read_text())
    assert set(saved["execution"]["timings"]) == {*PHASES, "total"}
    assert SubmissionResult.load(tmp_path / "results" / "ok.json").timings == pytest.approx(timings, abs=1e-4)


@pytest.mark.slow
def test_a_missing_function_costs_no_comparison_time(mini_plan, tmp_path):
    result = grade(mini_plan, notebook(tmp_path, "half", SOFTMAX), tmp_path)
    assert sum(result.timings[p] for p in PHASES) <= result.timings["total"]
    assert result.timings["calls"] > 0 and result.timings["compare"] > 0  # softmax is still compared


def test_an_unreadable_notebook_has_only_a_total(mini_plan, tmp_path):
    path = tmp_path / "broken.ipynb"
    path.write_text("{not json")
    result = grade(mini_plan, path, tmp_path)
    assert result.status == "invalid" and list(result.timings) == ["total"] and result.timings["total"] >= 0


def test_results_saved_before_timings_existed_still_load(tmp_path):
    old = SubmissionResult(student_id="a", assignment="mini", status="graded", score=1.0, max_score=3.0)
    data = old.gradescope()
    del data["execution"]["timings"]
    (tmp_path / "a.json").write_text(json.dumps(data))
    assert SubmissionResult.load(tmp_path / "a.json").timings == {}
