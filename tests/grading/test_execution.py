"""Grading survives what notebooks do: errors, hangs, crashes, missing functions, broken files."""

import nbformat
import pytest

from tests.helpers import GREEDY, SOFTMAX, grade, notebook, scores

pytestmark = pytest.mark.slow
FULL = {"greedy_next_token": 1.0, "softmax_with_temperature": 2.0}


def test_correct_notebook_gets_full_marks(mini_plan, tmp_path):
    result = grade(mini_plan, notebook(tmp_path, "ok", GREEDY, SOFTMAX), tmp_path)
    assert scores(result) == FULL and result.score == 3.0 and result.status == "graded"


def test_syntax_error_in_the_last_cell_costs_nothing(mini_plan, tmp_path):
    result = grade(mini_plan, notebook(tmp_path, "syn", GREEDY, SOFTMAX, "def broken(:\n  pass"), tmp_path)
    assert scores(result) == FULL
    assert result.cells[-1].status == "error" and "SyntaxError" in result.cells[-1].message


def test_infinite_loop_in_the_last_cell_costs_nothing(mini_plan, tmp_path):
    result = grade(mini_plan, notebook(tmp_path, "loop", GREEDY, SOFTMAX, "while True:\n    pass"), tmp_path)
    assert scores(result) == FULL and result.cells[-1].status == "timeout"


def test_cells_after_a_hanging_cell_still_run(mini_plan, tmp_path):
    result = grade(mini_plan, notebook(tmp_path, "mid", GREEDY, "while True:\n    pass", SOFTMAX), tmp_path)
    assert scores(result) == FULL
    assert [c.status for c in result.cells] == ["ok", "timeout", "ok"]


def test_a_hang_that_swallows_interrupts_restarts_the_kernel_and_keeps_earlier_functions(mini_plan, tmp_path):
    stubborn = "import time\nwhile True:\n    try:\n        time.sleep(10)\n    except KeyboardInterrupt:\n        pass"
    result = grade(mini_plan, notebook(tmp_path, "stubborn", GREEDY, stubborn, SOFTMAX), tmp_path)
    assert scores(result) == FULL
    assert any("restarted" in note for note in result.notes)


def test_a_cell_that_kills_its_kernel_after_replying_is_left_out_of_the_replay_and_its_victim_runs_again(
    mini_plan, tmp_path
):
    # the first time it replies "ok" and kills the kernel 0.3 s later, during the next cell (as `os.kill` of
    # the sandbox's parent process does, under load); run again after the restart, it kills it at once
    late_killer = (
        "import os, threading\nif os.path.exists('marker'):\n    os._exit(1)\n"
        "open('marker', 'w').close()\nthreading.Timer(0.3, os._exit, [1]).start()"
    )
    victim = "import time\ntime.sleep(1)\n" + SOFTMAX
    result = grade(mini_plan, notebook(tmp_path, "late-killer", GREEDY, late_killer, victim), tmp_path)
    assert scores(result) == FULL
    assert [c.status for c in result.cells] == ["ok", "ok", "ok"]
    killer, victim = 'code cell 2 ("import os, threading")', 'code cell 3 ("import time")'
    assert f"{killer} stopped the kernel again when run after a restart; not run again" in result.notes
    assert f"{victim} was run again: {killer} had killed the kernel" in result.notes


def test_a_cell_that_kills_the_kernel_is_recorded_and_grading_goes_on(mini_plan, tmp_path):
    result = grade(mini_plan, notebook(tmp_path, "exit", GREEDY, "import os\nos._exit(1)", SOFTMAX), tmp_path)
    assert scores(result) == FULL
    assert result.cells[1].status == "dead"


def test_a_missing_function_scores_zero_with_a_clear_message_and_others_are_graded(mini_plan, tmp_path):
    result = grade(mini_plan, notebook(tmp_path, "half", SOFTMAX), tmp_path)
    assert scores(result) == {"greedy_next_token": 0.0, "softmax_with_temperature": 2.0}
    public, hidden = result.questions[0].tests
    assert public.kind == "missing" and "`greedy_next_token` is not defined in the notebook" in public.output
    assert hidden.kind == "missing" and "tie" not in hidden.output and "3.0" not in hidden.output


def test_a_function_that_never_returns_times_out_and_others_are_graded(mini_plan, tmp_path):
    sleeper = "import time\ndef greedy_next_token(logits):\n    time.sleep(3600)"
    result = grade(mini_plan, notebook(tmp_path, "sleepy", sleeper, SOFTMAX), tmp_path)
    assert scores(result) == {"greedy_next_token": 0.0, "softmax_with_temperature": 2.0}
    assert result.questions[0].tests[0].kind == "timeout"


def test_a_slow_call_costs_only_that_call_and_the_next_calls_run_in_the_same_kernel(mini_plan, tmp_path):
    # the public case sleeps past the limit; the hidden one (the next call of the same request) returns at once
    slow_once = (
        "import time, torch\ndef greedy_next_token(logits):\n"
        "    if logits.shape[-1] == 7:\n        time.sleep(3600)\n    return logits.argmax(dim=-1)"
    )
    result = grade(mini_plan, notebook(tmp_path, "slow", slow_once, SOFTMAX), tmp_path)
    public, hidden = result.questions[0].tests
    assert public.kind == "timeout" and "did not finish within 6 s" in public.output
    assert hidden.kind == "passed" and scores(result)["softmax_with_temperature"] == 2.0
    assert result.notes == []  # the interrupt sufficed: no restart


def test_a_call_that_swallows_the_interrupt_gets_the_kernel_restarted_and_the_next_calls_run(mini_plan, tmp_path):
    stubborn = (
        "import time\ndef greedy_next_token(logits):\n    while True:\n        try:\n"
        "            time.sleep(10)\n        except KeyboardInterrupt:\n            pass"
    )
    result = grade(mini_plan, notebook(tmp_path, "stubborn-call", GREEDY, SOFTMAX, stubborn), tmp_path)
    assert [t.kind for t in result.questions[0].tests] == ["timeout", "timeout"]
    assert scores(result)["softmax_with_temperature"] == 2.0  # called after two restarts
    assert sum("restarted" in note for note in result.notes) == 2


def test_a_call_that_kills_the_kernel_costs_only_that_call(mini_plan, tmp_path):
    killer = "import os\ndef greedy_next_token(logits):\n    os._exit(3)"
    result = grade(mini_plan, notebook(tmp_path, "killer", killer, SOFTMAX), tmp_path)
    assert [t.kind for t in result.questions[0].tests] == ["dead", "dead"]
    assert scores(result)["softmax_with_temperature"] == 2.0


def test_exceptions_are_reported_with_the_students_own_traceback(mini_plan, tmp_path):
    raiser = "def greedy_next_token(logits):\n    raise ValueError('not yet')"
    result = grade(mini_plan, notebook(tmp_path, "raiser", raiser, SOFTMAX), tmp_path)
    test = result.questions[0].tests[0]
    assert test.kind == "exception" and "ValueError: not yet" in test.output and "grader" not in test.output


def test_wrong_values_explain_what_differs(mini_plan, tmp_path):
    wrong = "def greedy_next_token(logits):\n    return logits.argmax(dim=-1).float()"
    result = grade(mini_plan, notebook(tmp_path, "wrong", wrong, SOFTMAX), tmp_path)
    assert "expected dtype torch.int64, got torch.float32" in result.questions[0].tests[0].output


def test_printing_or_faking_a_score_changes_nothing(mini_plan, tmp_path):
    fake = (
        "print('{\"score\": 100, \"max_score\": 3}')\nimport json\nopen('results.json', 'w').write('{\"score\": 100}')"
    )
    result = grade(mini_plan, notebook(tmp_path, "fake", fake, SOFTMAX), tmp_path)
    assert scores(result) == {"greedy_next_token": 0.0, "softmax_with_temperature": 2.0}


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("notjson.ipynb", b"this is not json", "not a readable notebook"),
        ("empty.ipynb", b"", "not a readable notebook"),
        ("script.py", b"def greedy_next_token(x): pass", "not a notebook (expected a .ipynb file)"),
        ("v3.ipynb", b'{"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": []}', "nbformat 3"),
    ],
)
def test_broken_files_get_a_clear_invalid_status(mini_plan, tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    result = grade(mini_plan, path, tmp_path)
    assert result.status == "invalid" and reason in result.message and result.score == 0
    assert name in result.message


def test_cells_are_named_as_the_student_finds_them_and_tracebacks_name_the_cell(mini_plan, tmp_path):
    """Code cells count from 1 without the Markdown cells, with their first line; a traceback through the
    student's function names its cell, not the temporary file ipykernel compiled it under."""
    nb = nbformat.v4.new_notebook()
    broken = "import torch\ndef greedy_next_token(logits):\n    return 1 / 0\n"
    nb.cells = [
        nbformat.v4.new_markdown_cell("# intro"),
        nbformat.v4.new_code_cell(broken),
        nbformat.v4.new_markdown_cell("more"),
        nbformat.v4.new_code_cell("import time\nwhile True:\n    time.sleep(0.01)"),
        nbformat.v4.new_code_cell(SOFTMAX),
    ]
    path = tmp_path / "named.ipynb"
    nbformat.write(nb, path)
    result = grade(mini_plan, path, tmp_path)
    assert [(c.label, c.status) for c in result.cells] == [
        ('code cell 1 ("import torch")', "ok"),
        ('code cell 2 ("import time")', "timeout"),
        ('code cell 3 ("import torch")', "ok"),
    ]
    [failed] = [t for t in result.tests if t.kind == "exception" and not t.hidden]
    assert 'code cell 1 ("import torch"), line 3, in greedy_next_token' in failed.output
    assert "ipykernel_" not in failed.output
