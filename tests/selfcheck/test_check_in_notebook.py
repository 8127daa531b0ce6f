"""The self-check inside a notebook: a real kernel runs ``from grader import check; check(...)``."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from grader.assignment.release import release
from grader.assignment.spec import load_assignment
from tests.helpers import REPO, wait_for

pytestmark = pytest.mark.slow
SAMPLING = REPO / "assignments" / "03-sampling"


def _code(notebook: Path) -> list[str]:
    return [c.source for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code"]


def _run(folder: Path, cells: list[str]) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    NotebookClient(
        nb, timeout=120, allow_errors=True, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    ).execute()
    return "\n".join(  # printed text, cells' values and errors with their tracebacks
        o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) + "\n".join(o.get("traceback", []))
        for c in nb.cells
        for o in c.outputs
    )


@pytest.fixture(scope="module")
def release_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("rel") / "03-sampling"
    release(load_assignment(SAMPLING), out)
    return out


def test_check_in_a_notebook_shows_public_results_and_the_hidden_count(release_dir):
    cells = _code(SAMPLING / "examples" / "correct.ipynb")
    output = _run(release_dir, [*cells, 'from grader import check\ncheck("top_k_filter")'])
    assert "public tests: 2 / 2 points" in output
    assert "top_k_filter: ties with the k-th value are kept" in output and "FAIL" not in output
    assert "public tests only: 4 hidden test(s) run at grading; this is not your grade" in output
    assert "QuestionResult" not in output  # check() as the cell's last line echoes nothing long


def test_check_sees_the_current_state_of_the_notebook(release_dir):
    cells = _code(SAMPLING / "examples" / "correct.ipynb")
    broken = "def top_k_filter(logits, k):\n    return logits"  # redefined after the correct one
    output = _run(release_dir, [*cells, broken, 'from grader import check\ncheck("top_k_filter")'])
    assert "FAIL" in output and "infinity" in output


def test_check_of_everything_runs_every_public_case(release_dir):
    output = _run(release_dir, [*_code(SAMPLING / "examples" / "correct.ipynb"), "import grader\ngrader.check()"])
    assert "public tests: 12 / 12 points" in output
    assert "this is not your grade" in output and "FAIL" not in output
    assert "Loading" not in output and "it/s" not in output  # no progress bars from loading the course model


def test_check_is_a_no_op_while_grading(release_dir, monkeypatch):
    monkeypatch.setenv("LLM_GRADER_GRADING", "1")
    assert "does nothing while the notebook is being graded" in _run(release_dir, ["import grader\ngrader.check()"])


def test_check_stops_a_function_that_loops_forever_at_the_limit_and_skips_its_other_cases(release_dir):
    """The per-call limit of the assignment (here cut to 2 s through the release's own bundle), with a clear
    message; the function's other cases are not run, so the whole check costs one limit."""
    cells = _code(SAMPLING / "examples" / "correct.ipynb")
    loop = (
        "import time\n"
        "def sample_next_token(logits, temperature=1.0, top_k=None, top_p=None, generator=None):\n"
        "    while True:\n"
        "        time.sleep(0.01)"
    )
    check = (
        "import dataclasses, grader.selfcheck.notebook as nbcheck\n"
        "from grader.assignment.plan import load_bundle\n"
        "plan = load_bundle(nbcheck.bundle.find_from(nbcheck.Path.cwd()))\n"
        "nbcheck.load_bundle = lambda folder: dataclasses.replace(\n"
        "    plan, limits=plan.limits.model_copy(update={'call_timeout_s': 2}))\n"
        "from grader import check\n"
        "check('sample_next_token')"
    )
    output = _run(release_dir, [*cells, loop, check])
    assert "did not finish within 2 s" in output, output[-3000:]
    assert "timed out in an earlier case" in " ".join(output.split())  # (the table wraps it)
    assert "Traceback" not in output and "KeyboardInterrupt" not in output


def test_a_traceback_names_the_cell_as_jupyter_does(release_dir):
    cells = _code(SAMPLING / "examples" / "correct.ipynb")
    broken = "def top_k_filter(logits, k):\n    return logits / 0 + undefined_name"
    output = _run(release_dir, [*cells, broken, 'from grader import check\ncheck("top_k_filter")'])
    assert f"cell In[{len(cells) + 1}], line 2, in" in output  # (the table wraps the function's name)
    assert "ipykernel_" not in output and "<grader" not in output


def test_an_unknown_function_is_one_line_not_a_traceback(release_dir):
    output = _run(release_dir, ['from grader import check\ncheck("no_such_function")'])
    assert "check(): no public tests for 'no_such_function'" in output and "Traceback" not in output


def test_ctrl_c_during_check_is_one_line_not_a_traceback_through_the_grader(release_dir, tmp_path):
    """The student interrupts the kernel while check() runs a slow function: one line, and the kernel goes on."""
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", cwd=str(release_dir))
    try:
        marker = tmp_path / "calling"
        slow = (
            "import time, pathlib\n"
            "def top_k_filter(logits, k):\n"
            f"    pathlib.Path({str(marker)!r}).touch()\n"
            "    time.sleep(600)\n"
        )
        kc.execute_interactive(slow, timeout=60)
        outputs = []
        msg_id = kc.execute('from grader import check\ncheck("top_k_filter")')
        assert wait_for(marker.exists, 60), "check() never called the function"
        km.interrupt_kernel()
        while True:
            msg = kc.get_iopub_msg(timeout=60)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
            outputs.append(msg["content"].get("text", "") + "".join(msg["content"].get("traceback", [])))
        text = "".join(outputs)
        assert "check() was interrupted: no results." in text and "Traceback" not in text, text
        assert kc.execute_interactive("print(1 + 1)", timeout=30)["content"]["status"] == "ok"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
