"""``grader validate`` passes for every assignment in the course (run through the CLI, sandboxed if possible)."""

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.sandbox.isolation import sandbox_status
from tests.helpers import REPO

pytestmark = pytest.mark.slow
ASSIGNMENTS = sorted(p.parent for p in (REPO / "assignments").glob("*/assignment.toml"))


@pytest.mark.parametrize("folder", ASSIGNMENTS, ids=[a.name for a in ASSIGNMENTS])
def test_validate_passes(folder):
    args = ["validate", str(folder)] + ([] if sandbox_status()[0] else ["--no-sandbox"])
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "FAILED" not in result.output and result.output.count(" ok ") == 4
