"""The class summary: the roster and the student x test matrix, most failed tests first with their commonest
message, the score distribution, what broke, true headline counts; checked in a real browser."""

import re
import shutil
import subprocess

import pytest

from grader.batch.summary import build_summary, histogram, write_summary

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_tests_are_listed_most_failed_first_among_graded_submissions(filled_gradebook):
    gb, _ = filled_gradebook
    s = build_summary(gb)
    assert [(t["name"], t["passed"], t["n"]) for t in s.tests] == [
        ("greedy_next_token: hidden tie", 2, 4),
        ("softmax_with_temperature: t=2", 2, 4),
        ("greedy_next_token: random", 3, 4),
    ]
    assert s.tests[0]["why"] == "returned a wrong value" and s.tests[0]["hidden"] == 1
    assert (s.tests[0]["message"], s.tests[0]["message_n"]) == ("returned a wrong value", 2)
    assert s.counts == {"total": 5, "graded": 4, "invalid": 1, "skipped": 1}  # skipped: the refused zip entry
    assert [r["student_id"] for r in s.not_graded] == ["1234570"]
    assert s.questions[0]["name"] == "greedy_next_token" and s.questions[0]["mean"] == pytest.approx(0.625)


def test_the_histogram_counts_each_score_once_and_the_maximum_in_the_last_bar():
    bars = histogram([0.0, 1.5, 3.0, 3.0], 3.0, bins=3)
    assert [b.count for b in bars] == [1, 1, 2] and bars[2].height > bars[0].height > 0


def test_the_summary_is_self_contained(filled_gradebook):
    gb, out = filled_gradebook
    html = write_summary(gb, out).read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//|@import|url\(""", html)
    assert "<script" not in html and "evil/../x: refused" in html
    assert 'id="workers"' not in html and "Graded by" not in html  # local grading: no cluster workers to list


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine (apt-get install chromium)")
@pytest.mark.parametrize("page", ["summary.html", "reports/1234568.html"])
def test_reports_render_in_a_headless_browser(filled_gradebook, tmp_path, page):
    gb, out = filled_gradebook
    write_summary(gb, out)
    dom = _chromium(tmp_path, "--dump-dom", (out / page).as_uri())
    if page == "summary.html":
        assert len(re.findall(r'<rect class="bar"', dom)) == 10
        assert dom.index("softmax_with_temperature: t=2") < dom.index("greedy_next_token: random")
        roster = dom[dom.index('id="roster-table"') : dom.index('id="matrix-table"')]
        ids = re.findall(r'<a href="reports/([^"]+)\.html">report</a>', roster)
        assert ids == ["1234567", "1234568", "1234569", "1234570", "alice"]  # student order, a link each
        assert all((out / "reports" / f"{sid}.html").is_file() for sid in ids)
        assert len(re.findall(r'<td class="cell ', dom)) == 5 * 3  # 5 students x 3 tests
        assert "5</strong> students" in dom and "1</strong> " in dom and "skipped at intake" in dom
    else:
        assert "What to look at" in dom and "Score: 0.5 / 3" in dom
    _chromium(tmp_path, f"--screenshot={tmp_path / 'shot.png'}", "--window-size=1000,1400", (out / page).as_uri())
    assert (tmp_path / "shot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _chromium(tmp_path, *args) -> str:
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        *args,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=90, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_timeouts_and_dead_kernels_are_listed_with_what_happened(filled_gradebook):
    from grader.grading.results import CellSummary
    from tests.batch.helpers import fake_result

    gb, out = filled_gradebook
    slow = fake_result("bob", {"greedy_next_token: random": True, "softmax_with_temperature: t=2": False})
    slow.cells = [CellSummary(index=0, status="ok"), CellSummary(index=1, status="timeout", message="30 s")]
    slow.questions[1].tests[0].kind = "timeout"
    gb.record(gb.start_run(jobs=1, isolation="local", source="x", layout="folder", issues=[]), slow, "fp")
    [row] = build_summary(gb).troubled
    assert row["student_id"] == "bob" and row["problems"] == "cell 2 timeout; 1 test call(s) timed out"
    assert "cell 2 timeout; 1 test call(s) timed out" in write_summary(gb, out).read_text()


def test_the_roster_lists_every_student_with_points_per_function_and_the_matrix_each_test(filled_gradebook):
    gb, _ = filled_gradebook
    s = build_summary(gb)
    assert s.functions == [("greedy_next_token", 1.0), ("softmax_with_temperature", 2.0)]
    assert [c["name"] for c in s.columns] == [
        "greedy_next_token: random",
        "greedy_next_token: hidden tie",
        "softmax_with_temperature: t=2",
    ]
    erika = s.roster[1]
    assert (erika["student_id"], erika["name"], erika["status"], erika["score"]) == (
        "1234568",
        "Erika Müller",
        "graded",
        0.5,
    )
    assert [p["score"] for p in erika["points"]] == [0.5, 0.0]
    assert erika["tests"] == ["passed", "failed", "failed"] and erika["report"] == "reports/1234568.html"
    assert [r["student_id"] for r in s.roster] == ["1234567", "1234568", "1234569", "1234570", "alice"]
    assert not any(r["other_groundtruth"] for r in s.roster) and s.warning == ""


def test_the_commonest_failure_message_of_each_test_is_shown(filled_gradebook):
    from tests.batch.helpers import fake_result

    gb, out = filled_gradebook
    run = gb.start_run(jobs=1, isolation="local", source="x", layout="folder", issues=[])
    for sid, message in [("b1", "expected 3 got 4"), ("b2", "expected 3 got 4"), ("b3", "returned None")]:
        result = fake_result(sid, {"softmax_with_temperature: t=2": False})
        result.questions[0].tests[0].output = message
        gb.record(run, result, "fp")
    [t] = [t for t in build_summary(gb).tests if t["name"] == "softmax_with_temperature: t=2"]
    assert (t["message"], t["message_n"], t["n"] - t["passed"]) == ("expected 3 got 4", 2, 5)
    assert 'expected 3 got 4 <span class="note">(2 of 5 failures)</span>' in write_summary(gb, out).read_text()


def test_everything_from_a_submission_is_escaped_and_report_links_are_encoded(filled_gradebook):
    from grader.batch.gradebook import StudentRow
    from tests.batch.helpers import fake_result

    gb, out = filled_gradebook
    run = gb.start_run(jobs=1, isolation="local", source="x", layout="folder", issues=["<b>zip</b>: refused"])
    evil = '<img src=x onerror="alert(1)">'
    gb.note_students(run, [StudentRow("a&b c", evil, "x.ipynb", "", "", "fp", None)])
    for sid in ("a&b c", "evil2"):  # the commonest failure message of a test
        result = fake_result(sid, {"greedy_next_token: random": False})
        result.questions[0].tests[0].output = "<script>alert(2)</script>"
        gb.record(run, result, "fp")
    html = write_summary(gb, out).read_text()
    assert evil not in html and "&lt;img src=x" in html
    assert "<script>" not in html and "&lt;script&gt;alert(2)" in html
    assert "<b>zip</b>" not in html and 'href="reports/a%26b%20c.html"' in html


def test_grades_against_two_ground_truths_are_flagged(filled_gradebook, mini_plan):
    import dataclasses

    from grader.batch.run import assignment_info
    from tests.batch.helpers import fake_result

    gb, out = filled_gradebook
    gb.bind(dataclasses.replace(assignment_info(mini_plan), groundtruth="another"), regrade=True)
    run = gb.start_run(jobs=1, isolation="local", source="x", layout="folder", issues=[])
    gb.record(run, fake_result("alice", {"softmax_with_temperature: t=2": True}), "fp")
    s = build_summary(gb)
    assert "5 of 5 grade(s)" not in s.warning and "4 of 5 grade(s)" in s.warning
    assert [r["student_id"] for r in s.roster if r["other_groundtruth"]] == ["1234567", "1234568", "1234569", "1234570"]
    assert 'id="groundtruth-warning"' in write_summary(gb, out).read_text()
