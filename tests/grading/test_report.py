"""The feedback reports: a self-check's says it is not the grade; cells are named as the student finds them,
escaped like everything else that comes from the notebook."""

from grader.grading.report import render_reports
from grader.grading.results import CellSummary
from tests.batch.helpers import fake_result

PUBLIC_ONLY = "public tests only: 1 hidden test(s) run at grading; this is not your grade"


def _result():
    result = fake_result("alice", {"greedy_next_token: random": False, "softmax_with_temperature: t=2": True})
    result.cells = [
        CellSummary(index=0, status="ok", label='code cell 1 ("import torch")'),
        CellSummary(index=2, status="timeout", message="did not finish", label='code cell 2 ("<b>while</b> True:")'),
    ]
    return result


def test_a_self_check_report_says_public_tests_only_and_not_a_score(tmp_path):
    html, md = render_reports(_result(), tmp_path, PUBLIC_ONLY)
    page, text = html.read_text(), md.read_text()
    assert PUBLIC_ONLY in page and "Public tests: 2 / 3 points" in page and "Score:" not in page
    assert "self-check of alice" in page and "Checked in" in page
    assert "public tests only: 1 hidden test\\(s\\) run at grading; this is not your grade" in text
    assert "Score:" not in text


def test_a_graded_report_has_a_score_and_names_cells_by_their_code_cell_number(tmp_path):
    html, md = render_reports(_result(), tmp_path)
    page, text = html.read_text(), md.read_text()
    assert "Score: 2 / 3" in page and "public tests only" not in page
    assert "code cell 2 (&#34;&lt;b&gt;while&lt;/b&gt; True:&#34;): timeout" in page  # escaped, never markup
    assert 'code cell 2 \\("\\<b\\>while\\</b\\> True:"\\): timeout' in text
    assert "start here: 1 failing test(s)" in page
