"""nbclient internals execution relies on: the output-polling task it leaves running after a cell timeout.

Contract: ``tests/compat/test_nbclient.py``.
"""

from __future__ import annotations

import asyncio

from nbclient import NotebookClient


def cancel_orphaned_polls(client: NotebookClient) -> None:
    """Cancel the iopub reader nbclient leaves running after a cell timeout.

    subtle: nbclient does not cancel its output-polling task on ``CellTimeoutError`` (it is a
    ``CellControlSignal``), so that task keeps reading iopub and swallows the next cells' messages: each later
    cell then waits out ``iopub_timeout`` and loses its output. The task is found by its coroutine's frame,
    whose ``self`` is the client (``NotebookClient._async_poll_output_msg``): nbclient keeps no handle on it.
    """
    for task in asyncio.all_tasks():
        frame = getattr(task.get_coro(), "cr_frame", None)
        if frame is not None and frame.f_locals.get("self") is client and not task.done():
            task.cancel()
