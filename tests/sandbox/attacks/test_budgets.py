"""What a notebook's messages may cost the grader: every byte the kernel sends is budgeted before the host holds
it. Floods of widget (comm) messages, huge error messages and output cost the host a bounded amount of memory
(:data:`grader.grading.execute.HOST_MESSAGE_BYTES`), and the honest functions of the same notebook are graded."""

from __future__ import annotations

import pytest

from grader.grading.execute import HOST_MESSAGE_BYTES
from tests.helpers import GREEDY, SOFTMAX
from tests.sandbox.attacks.helpers import FULL, grade, peak_growth_mb, scores

pytestmark = pytest.mark.slow  # real kernels in real sandboxes

# Sends widget messages straight through the kernel's own session: state plus binary buffers, as ipywidgets
# does, paced so ZMQ keeps every one; some in frames over the cap, some in messages of many frames.
COMM_FLOOD = """
import time
kernel = get_ipython().kernel
def send(buffers, i):
    content = {"comm_id": "c", "data": {"state": {"value": i}, "buffer_paths": [["b"]] * len(buffers)}}
    kernel.session.send(kernel.iopub_socket, "comm_msg", content, parent=kernel.get_parent(), buffers=buffers,
                        ident=b"comm-c")
open_content = {"comm_id": "c", "target_name": "jupyter.widget", "data": {"state": {}}}
kernel.session.send(kernel.iopub_socket, "comm_open", open_content, parent=kernel.get_parent())
blob, big = b"x" * (1900 << 10), b"y" * (10 << 20)
for i in range(150):
    send([blob], i)
    time.sleep(0.005)
for i in range(10):
    send([big], i)
for i in range(20):
    send([blob] * 20, i)
send([blob] * 300, 0)  # one message of 570 MB: libzmq would hold it whole, the guard cuts it at 2 MiB
"""
ERROR_FLOOD = "raise ValueError('e' * (50 << 20))"
OUTPUT_FLOOD = "import sys\nfor _ in range(40):\n    sys.stdout.write('o' * (4 << 20)); sys.stdout.flush()"


def test_floods_of_comm_error_and_output_messages_cost_the_host_a_bounded_amount(plan, sandbox, tmp_path):
    cells = (GREEDY, COMM_FLOOD, ERROR_FLOOD, ERROR_FLOOD, OUTPUT_FLOOD, SOFTMAX)
    graded, growth = peak_growth_mb(lambda: grade(plan, sandbox, tmp_path, *cells))
    print(f"host memory growth while grading: {growth} MB (bound {HOST_MESSAGE_BYTES >> 20} MB)")
    assert scores(graded.result) == FULL
    assert growth < HOST_MESSAGE_BYTES >> 20
    for cell in graded.result.cells[2:4]:
        assert len(cell.message) < 2100, cell  # the error message is clipped, whatever its size
    written = sum(p.stat().st_size for p in graded.out.rglob("*") if p.is_file())
    assert written < 200_000, f"{written} bytes of results and reports for one student"
