"""The batch loop without kernels: at most ``jobs`` at once, each slot used by one submission at a time,
every result committed, and a grader bug in one submission recorded without stopping the others."""

import asyncio

import pytest

from grader.batch import pool
from grader.batch.intake import Intake, Submission
from grader.batch.run import BatchSettings, grade_batch
from grader.errors import GraderError
from grader.sandbox.launcher import LocalLauncher
from tests.batch.helpers import fake_result

PASS = {"greedy_next_token: random": True, "softmax_with_temperature: t=2": True}


def intake(tmp_path, n: int) -> Intake:
    subs = []
    for i in range(n):
        path = tmp_path / "subs" / f"s{i}.ipynb"
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"{i}")
        subs.append(Submission(f"s{i}", path))
    return Intake(subs, "folder", tmp_path / "subs")


@pytest.fixture
def fake_kernels(monkeypatch):
    state = {"running": 0, "peak": 0, "slots": set(), "fail": set()}

    async def fake_grade(plan, notebook, student_id, launcher, workroot, slot):
        assert slot not in state["slots"], "a slot was given to two submissions at once"
        state["slots"].add(slot)
        state["running"] += 1
        state["peak"] = max(state["peak"], state["running"])
        await asyncio.sleep(0.01)
        state["running"] -= 1
        state["slots"].discard(slot)
        if student_id in state["fail"]:
            raise state["fail_with"]
        return fake_result(student_id, PASS)

    monkeypatch.setattr(pool, "grade_submission", fake_grade)
    return state


def test_the_pool_runs_at_most_jobs_at_once_and_commits_everything(tmp_path, mini_plan, fake_kernels):
    summary = asyncio.run(
        grade_batch(mini_plan, intake(tmp_path, 12), tmp_path / "out", LocalLauncher(), BatchSettings(jobs=3))
    )
    assert fake_kernels["peak"] == 3 and summary.graded_now == 12 and summary.counts == {"graded": 12}
    assert len(list((tmp_path / "out" / "results").glob("*.json"))) == 12


def test_a_grader_bug_in_one_submission_is_recorded_and_the_batch_goes_on(tmp_path, mini_plan, fake_kernels):
    fake_kernels["fail"], fake_kernels["fail_with"] = {"s2"}, RuntimeError("boom")
    summary = asyncio.run(
        grade_batch(mini_plan, intake(tmp_path, 5), tmp_path / "out", LocalLauncher(), BatchSettings(jobs=2))
    )
    assert summary.counts == {"graded": 4, "error": 1}
    assert "grader error: RuntimeError: boom" in (tmp_path / "out" / "gradebook.csv").read_text()


def test_a_machine_problem_stops_the_batch_and_keeps_what_was_committed(tmp_path, mini_plan, fake_kernels):
    fake_kernels["fail"], fake_kernels["fail_with"] = {"s3"}, GraderError("no kernel can start")
    with pytest.raises(GraderError):
        asyncio.run(
            grade_batch(mini_plan, intake(tmp_path, 6), tmp_path / "out", LocalLauncher(), BatchSettings(jobs=1))
        )
    fake_kernels["fail"] = set()
    summary = asyncio.run(
        grade_batch(mini_plan, intake(tmp_path, 6), tmp_path / "out", LocalLauncher(), BatchSettings(jobs=1))
    )
    assert summary.skipped == 3 and summary.graded_now == 3  # s0-s2 were kept; s3 (fixed now) and the rest
