"""The batch tests' fixture: a gradebook filled with synthetic results (no kernel)."""

from __future__ import annotations

import pytest

from grader.batch.gradebook import Gradebook, StudentRow
from grader.batch.run import assignment_info, write_outputs
from tests.batch.helpers import fake_result


@pytest.fixture
def filled_gradebook(tmp_path, mini_plan):
    """A gradebook of the mini assignment with five synthetic students (two Moodle ids with names)."""
    out = tmp_path / "out"
    tests = ["greedy_next_token: random", "greedy_next_token: hidden tie", "softmax_with_temperature: t=2"]
    table = {
        "1234567": ([True, True, True], "graded", "Max Mustermann"),
        "1234568": ([True, False, False], "graded", "Erika Müller"),
        "1234569": ([False, False, True], "graded", "Jan OBrien"),
        "1234570": ([False, False, False], "invalid", "Eva_Broken"),
        "alice": ([True, True, False], "graded", ""),
    }
    gb = Gradebook.open(out)
    gb.bind(assignment_info(mini_plan), regrade=False)
    run = gb.start_run(jobs=1, isolation="local", source="x", layout="moodle", issues=["evil/../x: refused"])
    gb.note_students(
        run, [StudentRow(sid, name, f"{sid}.ipynb", "", "", "fp", 1717402500.0) for sid, (_, _, name) in table.items()]
    )
    for sid, (passed, status, _) in table.items():
        result = fake_result(sid, dict(zip(tests, passed, strict=True)), status)
        gb.record(run, result, "fp")
        write_outputs(result, out)
    gb.finish_run(run, len(table))
    yield gb, out
    gb.close()
