"""``grader validate`` on written questions: one answer cell each (else it fails before building anything), a
warning for a rubric that cannot reach its points or an answer cell of the wrong kind, and a leak audit that
knows the written answers."""

from grader.assignment.groundtruth import build_plan
from grader.assignment.release import release
from grader.assignment.spec import load_assignment
from grader.authoring.validate import audit_release, validate, written_findings
from tests.assignment.test_written_release import SECRET_K, SECRET_MD, SECRET_PLOT, SPEC, written_assignment
from tests.helpers import MINI_SPEC, notebook


def test_each_written_question_with_its_answer_cell_passes_with_rubric_warnings(tmp_path):
    [finding] = written_findings(written_assignment(tmp_path / "w"))
    assert finding.passed
    assert "warning: the rubric of 'plot' gives at most 0 of its 1 points" in finding.detail
    assert "'explain-k'" in finding.detail and "'why-scale'" not in finding.detail


def test_an_answer_cell_of_another_kind_is_a_warning(tmp_path):
    spec = SPEC.replace('id = "why-scale"\npoints = 2\n', 'id = "why-scale"\npoints = 2\ncell = "code"\n')
    [finding] = written_findings(written_assignment(tmp_path / "w", spec=spec))
    assert finding.passed and "answer cell of 'why-scale' is a markdown cell, not code" in finding.detail


def test_a_missing_answer_cell_fails_validate_before_anything_runs(tmp_path):
    spec = SPEC + '\n[[written]]\nid = "lost"\npoints = 1\n'
    validation = validate(written_assignment(tmp_path / "w", spec=spec), launcher=None)
    assert not validation.passed and len(validation.findings) == 1
    assert "written question 'lost': 0 answer cells, not one" in validation.findings[0].detail


def test_a_manual_part_whose_rubric_falls_short_is_a_warning(tmp_path):
    spec = MINI_SPEC.replace(
        'function = "softmax_with_temperature"\npoints = 2\n',
        'function = "softmax_with_temperature"\npoints = 2\n'
        'manual = { points = 2, prompt = "Stable", rubric = [{ points = 1, text = "subtracts the max" }] }\n',
    )
    folder = tmp_path / "mini"
    folder.mkdir()
    (folder / "assignment.toml").write_text(spec)
    notebook(folder, "mini", "x = 1")
    [finding] = written_findings(load_assignment(folder))
    assert finding.passed and "'softmax_with_temperature:manual' gives at most 1 of its 2 points" in finding.detail


def test_no_finding_without_manual_questions(mini_assignment):
    assert written_findings(mini_assignment) == []


def test_the_leak_audit_knows_the_written_answers(tmp_path):
    assignment = written_assignment(tmp_path / "w")
    plan = build_plan(assignment)
    release(assignment, tmp_path / "release", plan)
    assert audit_release(tmp_path / "release", assignment, plan) == []
    (tmp_path / "release" / "notes.txt").write_text("\n".join([SECRET_MD, SECRET_PLOT, SECRET_K]))
    leaks = audit_release(tmp_path / "release", assignment, plan)
    assert {f"solution line {s!r}" for s in (SECRET_MD, SECRET_PLOT, SECRET_K)} <= set(leaks)
