"""Suite-wide settings (never touch the Hugging Face hub; quiet progress bars; no warm check server) and the
fixtures of the tiny ``mini`` assignment, which every part of the suite grades.

``grader check`` would otherwise start a per-user background server (grader/selfcheck/server.py) that outlives
the test; tests/selfcheck/test_check_server.py turns it on for its own processes, in private folders.
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ["LLM_GRADER_NO_SERVER"] = "1"


import dataclasses  # noqa: E402

import pytest  # noqa: E402

from grader.assignment.groundtruth import build_plan  # noqa: E402
from grader.assignment.spec import Limits, load_assignment  # noqa: E402
from tests.helpers import GREEDY, MINI_SPEC, SOFTMAX, notebook  # noqa: E402


@pytest.fixture(scope="session")
def mini_assignment(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mini")
    (folder / "assignment.toml").write_text(MINI_SPEC)
    notebook(folder, "mini", "### BEGIN SOLUTION\n" + GREEDY + "### END SOLUTION", SOFTMAX)
    return load_assignment(folder)


@pytest.fixture(scope="session")
def mini_plan(mini_assignment):
    """The mini assignment's plan with short limits, so hangs cost seconds."""
    plan = build_plan(mini_assignment)
    return dataclasses.replace(plan, limits=Limits(cell_timeout_s=6, call_timeout_s=6, submission_timeout_s=120))
