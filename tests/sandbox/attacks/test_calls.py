"""Attacks (and honest mistakes) around the graded calls: reading the hidden cases' inputs, results that cannot
be sent, functions that loop forever or are merely slow once, and malformed widget messages. The honest
functions of each notebook keep their points; what goes wrong costs only the call it happens in."""

from __future__ import annotations

import dataclasses

import pytest

from grader.assignment.groundtruth import build_plan
from grader.assignment.spec import load_assignment
from grader.grading.calls import NOT_RUN
from tests.helpers import GREEDY, MINI_SPEC, SOFTMAX
from tests.sandbox.attacks.helpers import FULL, LIMITS, grade, kinds, scores

pytestmark = pytest.mark.slow  # real kernels in real sandboxes

SPY = """
import glob, os, torch
def softmax_with_temperature(logits, temperature):
    folders = sorted(glob.glob('/submission/io/*/'))
    inputs = [open(f + 'in.safetensors', 'rb').read().hex() for f in folders if os.path.exists(f + 'in.safetensors')]
    raise RuntimeError(f'folders={len(folders)} ' + ' '.join(inputs))
"""


def test_a_public_call_never_sees_a_hidden_cases_inputs(plan, sandbox, tmp_path):
    graded = grade(plan, sandbox, tmp_path, GREEDY, SPY)
    result = graded.result
    assert scores(result) == {"greedy_next_token": 1.0, "softmax_with_temperature": 0.0}
    (spied,) = result.questions[1].tests
    assert "folders=2 " in spied.output, spied.output  # its own and the public greedy call's: no hidden one
    hidden_tie = "0000803f00004040" + "00004040"  # float32 1.0, 3.0, 3.0 of the hidden case
    assert hidden_tie not in spied.output
    assert all(hidden_tie not in p.read_text() for p in graded.out.rglob("*") if p.is_file())


def test_a_result_that_cannot_be_sent_fails_its_call_only(plan, sandbox, tmp_path):
    object_array = (
        "import numpy as np, time, torch\n"
        "def greedy_next_token(logits):\n"
        "    return np.array([object()] * logits.shape[0], dtype=object)  # an honest mistake\n"
        "def softmax_with_temperature(logits, temperature):\n"
        "    time.sleep(4)  # under its own limit, over what is left of the previous call's\n"
        "    return torch.softmax(logits / temperature, dim=-1)\n"
    )
    result = grade(plan, sandbox, tmp_path, object_array).result
    assert scores(result) == {"greedy_next_token": 0.0, "softmax_with_temperature": 2.0}
    greedy = result.questions[0].tests[0]
    assert greedy.kind == "unencodable"
    assert "returned a value that cannot be sent (cannot send a numpy array of dtype object" in greedy.output


@pytest.fixture(scope="module")
def three_cases(assignment_folder):
    """``mini`` with a second public greedy case: public calls run before the hidden one."""
    folder = assignment_folder.parent / "mini-three"
    folder.mkdir(exist_ok=True)
    extra = '\n  [[questions.cases]]\n  name = "small"\n  args = { logits = { randn = [1, 4], seed = 3 } }\n'
    extra += '  compare = { kind = "exact" }\n'
    spec = MINI_SPEC.replace(
        '\n[[questions]]\nfunction = "softmax_with_temperature"',
        extra + '\n[[questions]]\nfunction = "softmax_with_temperature"',
    )
    (folder / "assignment.toml").write_text(spec)
    (folder / "mini.ipynb").write_bytes((assignment_folder / "mini.ipynb").read_bytes())
    return dataclasses.replace(build_plan(load_assignment(folder)), limits=LIMITS)


def test_a_function_that_loops_forever_costs_one_limit_per_batch_and_its_other_cases_are_not_run(
    three_cases, sandbox, tmp_path
):
    loops = "def greedy_next_token(logits):\n    while True:\n        pass\n"
    result = grade(three_cases, sandbox, tmp_path, loops, SOFTMAX).result
    got = kinds(result)
    assert got["greedy_next_token: small"] == "timeout"  # its smallest public case, made first
    assert got["greedy_next_token: random"] == "not_run"  # not made at all
    assert got["greedy_next_token: hidden tie"] == "timeout"  # the hidden calls get their own chance
    assert got["softmax_with_temperature: t=2"] == "passed"
    public = {t.name: t.output for t in result.tests}
    assert public["greedy_next_token: small"] == "did not finish in time: did not finish within 6 s"
    assert public["greedy_next_token: random"] == f"could not be run: {NOT_RUN}"


def test_a_function_slow_on_one_large_case_still_passes_its_other_cases(three_cases, sandbox, tmp_path):
    slow_once = (
        "import time, torch\n"
        "def greedy_next_token(logits):\n"
        "    if logits.shape == (3, 7):\n        time.sleep(60)  # the large case\n"
        "    return torch.argmax(logits, dim=-1)\n"
    )
    result = grade(three_cases, sandbox, tmp_path, slow_once, SOFTMAX).result
    got = kinds(result)
    assert got["greedy_next_token: random"] == "timeout"
    assert got["greedy_next_token: small"] == got["greedy_next_token: hidden tie"] == "passed"
    assert got["softmax_with_temperature: t=2"] == "passed"


def test_malformed_widget_messages_are_not_the_graders_error(plan, sandbox, tmp_path):
    forged = (
        "kernel = get_ipython().kernel\n"
        "for content in ({'comm_id': 'x', 'target_name': 'jupyter.widget'}, {'comm_id': 7}, {}, {'data': None}):\n"
        "    kernel.session.send(kernel.iopub_socket, 'comm_open', content, parent=kernel.get_parent())\n"
        "    kernel.session.send(kernel.iopub_socket, 'comm_msg', content, parent=kernel.get_parent())\n"
        "parent = kernel.get_parent()\n"
        "kernel.session.send(kernel.iopub_socket, 'display_data', {'data': 5, 'transient': 'x'}, parent=parent)\n"
    )
    graded = grade(plan, sandbox, tmp_path, GREEDY, forged, SOFTMAX)
    assert scores(graded.result) == FULL
    assert graded.result.cells[1].status == "ok"
