"""Contract: what grader/compat/nbclient.py relies on in nbclient: after a cell timeout, the output-polling task
it leaves running is a ``NotebookClient`` coroutine whose frame holds the client as ``self``."""

from __future__ import annotations

import inspect

import nbclient
from nbclient.client import NotebookClient

UPGRADE = f"nbclient {nbclient.__version__}: {{what}}; update grader/compat/nbclient.py"


def test_the_output_poller_is_a_method_coroutine_started_by_execute_cell():
    poller = getattr(NotebookClient, "_async_poll_output_msg", None)
    assert inspect.iscoroutinefunction(poller), UPGRADE.format(what="NotebookClient._async_poll_output_msg is gone")
    assert next(iter(inspect.signature(poller).parameters)) == "self"
    source = inspect.getsource(NotebookClient.async_execute_cell)
    assert "self._async_poll_output_msg(" in source, UPGRADE.format(what="async_execute_cell polls outputs otherwise")


def test_a_timeout_still_leaves_the_poller_running():
    """The reason for the compat function: CellTimeoutError is a CellControlSignal, which nbclient's cell
    execution does not cancel its poller for. If that changes, cancel_orphaned_polls may go."""
    source = inspect.getsource(NotebookClient.async_execute_cell)
    assert "CellControlSignal" in source or "task_poll_output_msg" in source, UPGRADE.format(
        what="async_execute_cell handles its poller differently"
    )
