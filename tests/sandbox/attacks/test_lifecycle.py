"""Attacks on the kernel's life: killing every visible process, hangs that ignore interrupts, ``os._exit``, and
a batch mixing attacks with honest submissions. The batch completes, and honest functions are still graded."""

from __future__ import annotations

import asyncio

import pytest

from grader.batch.intake import Submission
from grader.batch.run import grade_all
from tests.helpers import GREEDY, SOFTMAX, notebook
from tests.sandbox.attacks.helpers import (
    FULL,
    LOOT,
    ONLY_GREEDY,
    ONLY_SOFTMAX,
    PLANT,
    SECRET,
    STEAL,
    assert_no_processes,
    assert_not_in_files,
    describe,
    grade,
    kinds,
    scores,
    shadow_lines,
)

pytestmark = pytest.mark.slow  # real kernels in real sandboxes


# -------------------------------------------------------------------------------------- killing processes


def test_killing_every_visible_process_costs_only_its_own_cell_and_spares_the_batch(plan, sandbox, tmp_path):
    killer = (
        "import os, signal\n"
        "for pid in [int(p) for p in os.listdir('/proc') if p.isdigit()]:\n"
        "    if pid != os.getpid():\n"
        "        try:\n            os.kill(pid, signal.SIGKILL)\n"
        "        except OSError as e:\n            print(pid, e)\n"
        "try:\n    os.kill(os.getppid(), signal.SIGKILL)\nexcept OSError as e:\n    print('ppid', e)\n"
        "os.kill(-1, signal.SIGKILL)\n"
        "import time; time.sleep(2)\n"
        "print('still alive')\n"
    )
    folder = tmp_path / "submissions"
    subs = [
        Submission("killer", notebook(folder, "killer", GREEDY, killer, SOFTMAX)),
        Submission("honest", notebook(folder, "honest", GREEDY, "import time; time.sleep(3)", SOFTMAX)),
    ]
    summary = asyncio.run(grade_all(plan, subs, tmp_path / "out", sandbox, jobs=2))
    by_id = {r.student_id: r for r in summary.results}
    for r in summary.results:
        describe(r)
    assert {sid: scores(r) for sid, r in by_id.items()} == {"killer": FULL, "honest": FULL}
    # Plain sandbox: the kernel dies with its killed parent ("dead"). Zygote: its parent is its pid namespace's
    # init, which nothing inside can kill, so kill(-1) finds no process and the cell fails ("error").
    assert by_id["killer"].cells[1].status in ("dead", "timeout", "error")
    assert [c.status for c in by_id["honest"].cells] == ["ok", "ok", "ok"]
    assert_no_processes(sandbox, 0, 1)


# ----------------------------------------------------------------------------------------- hangs and exits


def test_a_graded_function_that_sleeps_forever_times_out_and_the_others_are_graded(plan, sandbox, tmp_path):
    sleeper = "import time\ndef greedy_next_token(logits):\n    time.sleep(10**6)\n"
    graded = grade(plan, sandbox, tmp_path, sleeper, SOFTMAX)
    assert scores(graded.result) == ONLY_SOFTMAX
    assert kinds(graded.result)["greedy_next_token: random"] == "timeout"


def test_an_endless_loop_that_ignores_sigint_is_recovered_by_a_restart(plan, sandbox, tmp_path):
    stubborn = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass\n"
    graded = grade(plan, sandbox, tmp_path, GREEDY, stubborn, SOFTMAX)
    result = graded.result
    assert scores(result) == FULL
    assert result.cells[1].status == "timeout"
    assert any("restarted" in note for note in result.notes)


def test_os_exit_in_a_cell_is_recorded_and_the_rest_is_graded(plan, sandbox, tmp_path):
    graded = grade(plan, sandbox, tmp_path, GREEDY, "import os\nos._exit(0)", SOFTMAX)
    result = graded.result
    assert scores(result) == FULL
    assert [c.status for c in result.cells] == ["ok", "dead", "ok"]


def test_os_exit_in_a_graded_function_fails_its_calls_and_the_rest_is_graded(plan, sandbox, tmp_path):
    exiter = "import os\ndef greedy_next_token(logits):\n    os._exit(3)\n"
    graded = grade(plan, sandbox, tmp_path, exiter, SOFTMAX)
    result = graded.result
    assert scores(result) == ONLY_SOFTMAX  # the kernel was restarted after each fatal call
    assert {t.kind for t in result.questions[0].tests} == {"dead"}


# -------------------------------------------------------------------------------------------------- batch


def test_a_batch_of_attacks_and_two_honest_submissions(plan, sandbox, secret_files, tmp_path):
    folder = tmp_path / "submissions"
    targets = [str(p) for p in secret_files]
    attacks = {
        "honest-a": [GREEDY, SOFTMAX],
        "killer": [GREEDY, "import os\nos.kill(-1, 9)\nos.kill(os.getppid(), 9)", SOFTMAX],
        "thief": [GREEDY, LOOT.format(targets=targets), STEAL],
        "spawner": [
            GREEDY,
            "import subprocess\ntry:\n"
            "    [subprocess.Popen(['sleep', '600']) for _ in range(300)]\n"
            "except OSError:\n    pass",
            SOFTMAX,
        ],
        "hog": [GREEDY, "x = [bytearray(1 << 30) for _ in range(40)]", SOFTMAX],
        "planter": [GREEDY, SOFTMAX, PLANT.format(secret=targets[1], swap=True)],
        "stubborn": [GREEDY, "import signal\nsignal.signal(2, signal.SIG_IGN)\nwhile 1:\n    pass", SOFTMAX],
        "honest-b": [GREEDY, SOFTMAX],
    }
    subs = [Submission(sid, notebook(folder, sid, *cells)) for sid, cells in attacks.items()]
    out = tmp_path / "out"
    summary = asyncio.run(grade_all(plan, subs, out, sandbox, jobs=2))
    by_id = {r.student_id: r for r in summary.results}
    for r in summary.results:
        describe(r)
    assert sorted(by_id) == sorted(attacks) and summary.graded == len(attacks)
    assert scores(by_id["honest-a"]) == FULL and scores(by_id["honest-b"]) == FULL
    for sid in ("killer", "spawner", "hog", "stubborn"):
        assert scores(by_id[sid]) == FULL, (sid, by_id[sid].cells, by_id[sid].notes)
    assert scores(by_id["thief"]) == ONLY_GREEDY
    assert all(by_id["planter"].questions[i].score <= q.points for i, q in enumerate(plan.questions))
    assert_not_in_files(out, SECRET, *shadow_lines())
    assert_no_processes(sandbox, 0, 1)
