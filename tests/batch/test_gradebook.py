"""The SQLite gradebook: complete attempts only, what a rerun must grade, one grader per folder."""

import dataclasses
import sqlite3

import pytest

from grader.batch.gradebook import Gradebook
from grader.batch.run import assignment_info
from grader.errors import GraderError
from tests.batch.helpers import fake_result

PASS = {"greedy_next_token: random": True, "softmax_with_temperature: t=2": True}


@pytest.fixture
def gb(tmp_path, mini_plan):
    book = Gradebook.open(tmp_path / "out")
    book.bind(assignment_info(mini_plan), regrade=False)
    yield book
    book.close()


def run(gb):
    return gb.start_run(jobs=1, isolation="local", source="s", layout="folder", issues=[])


def count(gb, rows: str) -> int:
    """The number of rows of a table, as a TA's own query sees them."""
    return gb.db.execute(f"SELECT count(*) FROM {rows}").fetchone()[0]


def test_an_attempt_and_its_tests_are_one_row_each(gb):
    gb.record(run(gb), fake_result("alice", PASS), "fp1")
    assert count(gb, "attempts") == 1
    assert count(gb, "tests") == 2
    [row] = list(gb.rows())
    assert (row.student_id, row.status, row.score) == ("alice", "graded", 3.0)


def test_a_failed_write_leaves_no_half_attempt(gb):
    result = fake_result("alice", PASS)
    result.questions[0].tests[0].output = None  # NOT NULL column: the tests insert fails after the attempt's
    with pytest.raises(sqlite3.IntegrityError):
        gb.record(run(gb), result, "fp")
    assert count(gb, "attempts") == 0 and count(gb, "tests") == 0


def test_what_a_rerun_grades(gb):
    r = run(gb)
    assert gb.needs_grading("alice", "fp1", regrade=False) == "new"
    gb.record(r, fake_result("alice", PASS), "fp1")
    assert gb.needs_grading("alice", "fp1", regrade=False) is None
    assert gb.needs_grading("alice", "fp1", regrade=True) == "regrade"
    assert "changed" in gb.needs_grading("alice", "fp2", regrade=False)
    gb.record(r, fake_result("alice", PASS, status="error"), "fp1")
    assert "grader error" in gb.needs_grading("alice", "fp1", regrade=False)


def test_the_latest_attempt_is_current(gb):
    r = run(gb)
    gb.record(r, fake_result("alice", {"greedy_next_token: random": False}), "fp")
    gb.record(r, fake_result("alice", PASS), "fp")
    assert [row.score for row in gb.rows()] == [3.0]
    assert count(gb, "attempts WHERE student_id = 'alice'") == 2


def test_another_assignment_or_a_changed_spec_is_refused(gb, mini_plan):
    info = assignment_info(mini_plan)
    with pytest.raises(GraderError, match="holds grades of assignment"):
        gb.bind(dataclasses.replace(info, id="other"), regrade=False)
    with pytest.raises(GraderError, match="--regrade"):
        gb.bind(dataclasses.replace(info, spec_hash="changed"), regrade=False)
    gb.bind(dataclasses.replace(info, spec_hash="changed"), regrade=True)
    assert gb.assignment().spec_hash == "changed"


def test_one_grader_per_output_folder(gb, tmp_path):
    with pytest.raises(GraderError, match="another grader"):
        Gradebook.open(tmp_path / "out")


def test_export_needs_an_existing_gradebook(tmp_path):
    with pytest.raises(GraderError, match="no gradebook here"):
        Gradebook.open(tmp_path / "nothing", create=False)


def test_a_changed_ground_truth_is_refused_until_regrade_and_a_mix_is_flagged(gb, mini_plan):
    info = assignment_info(mini_plan)
    r = run(gb)
    gb.record(r, fake_result("alice", PASS), "fp")
    gb.record(r, fake_result("bob", PASS), "fp")
    assert gb.groundtruths() == {info.groundtruth: 2} and gb.mixed_groundtruths() == ""
    changed = dataclasses.replace(info, groundtruth="another")
    with pytest.raises(GraderError, match=r"2 grade\(s\) graded against another ground truth: .* pass --regrade"):
        gb.bind(changed, regrade=False)
    gb.bind(changed, regrade=True)
    gb.record(r, fake_result("alice", PASS), "fp")  # a --regrade that stopped after one student
    assert "1 of 2 grade(s) were graded against another" in gb.mixed_groundtruths()
    with pytest.raises(GraderError, match="graded against another ground truth"):
        gb.bind(changed, regrade=False)  # the rerun may not leave bob's old grade beside alice's new one
    gb.record(r, fake_result("bob", PASS), "fp")
    assert gb.mixed_groundtruths() == "" and gb.groundtruths() == {"another": 2}


OLD_ATTEMPTS = """CREATE TABLE attempts (
    id INTEGER PRIMARY KEY, student_id TEXT NOT NULL, run_id INTEGER NOT NULL, fingerprint TEXT,
    status TEXT NOT NULL, score REAL NOT NULL, max_score REAL NOT NULL, message TEXT NOT NULL,
    problems TEXT NOT NULL DEFAULT '', seconds REAL NOT NULL, finished REAL NOT NULL, result TEXT NOT NULL)"""


def test_a_gradebook_from_before_ground_truths_were_recorded_opens_and_asks_for_a_regrade(tmp_path, mini_plan):
    out = tmp_path / "old"
    out.mkdir()
    db = sqlite3.connect(out / "gradebook.sqlite")
    db.execute(OLD_ATTEMPTS)
    db.execute("INSERT INTO attempts VALUES (1, 'alice', 1, 'fp', 'graded', 3, 3, '', '', 1.0, 0, '{}')")
    db.commit()
    db.close()
    info = assignment_info(mini_plan)
    with Gradebook.open(out) as book:
        assert book.groundtruths() == {None: 1}
        with pytest.raises(GraderError, match=r"1 of them before the gradebook recorded it\).*--regrade"):
            book.bind(info, regrade=False)
        book.bind(info, regrade=True)
        book.record(run(book), fake_result("alice", PASS), "fp")
        assert book.groundtruths() == {info.groundtruth: 1}
