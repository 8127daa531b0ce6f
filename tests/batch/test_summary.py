"""The class summary: most failed tests first, the score distribution, what broke; checked in a real browser."""

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
    assert s.counts == {"total": 5, "graded": 4, "invalid": 1}
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


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine (apt-get install chromium)")
@pytest.mark.parametrize("page", ["summary.html", "reports/1234568.html"])
def test_reports_render_in_a_headless_browser(filled_gradebook, tmp_path, page):
    gb, out = filled_gradebook
    write_summary(gb, out)
    dom = _chromium(tmp_path, "--dump-dom", (out / page).as_uri())
    if page == "summary.html":
        assert len(re.findall(r'<rect class="bar"', dom)) == 10
        assert dom.index("softmax_with_temperature: t=2") < dom.index("greedy_next_token: random")
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
