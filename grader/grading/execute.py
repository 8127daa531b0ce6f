"""Running a submission's code in its kernel: cell by cell, with timeouts, surviving hangs and crashes.

:class:`KernelSession` owns one submission's kernel (started through a :class:`~grader.sandbox.launcher.Launcher`).
``run(cell)`` executes one code cell with a timeout and returns a :class:`CellRecord` instead of raising.
When a cell times out, the kernel is interrupted once; if it does not come back (code that swallows
``KeyboardInterrupt``, C code, ``os._exit``, a crash), the kernel is restarted and every cell that had
completed is replayed, so functions defined before the bad cell are still there to be graded.
Nothing the kernel sends is trusted for grading: cell statuses only go into the feedback.
"""

from __future__ import annotations

import queue
import subprocess
import time
import uuid
from dataclasses import dataclass, field

import nbformat
import zmq
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionComplete, CellTimeoutError, DeadKernelError

from grader.assignment.spec import Limits
from grader.common.settings import TIMEOUTS
from grader.common.text import clip
from grader.compat.jupyter_client import note_kernel_info
from grader.compat.nbclient import cancel_orphaned_polls
from grader.errors import KernelStartError
from grader.grading.guard import CHANNELS, KernelGuard
from grader.grading.notebook import code_cell_labels
from grader.grading.results import CellStatus
from grader.sandbox.launcher import Launcher, RunDir

MAX_RESTARTS = 3  # kernel restarts per submission (each replays the completed cells)


@dataclass
class CellRecord:
    """What happened to one cell: ``ok``, ``error`` (exception), ``timeout``, ``dead`` (kernel died) or ``skipped``."""

    index: int
    status: CellStatus
    message: str = ""
    seconds: float = 0.0


@dataclass
class SessionLog:
    cells: list[CellRecord] = field(default_factory=list)
    restarts: int = 0
    notes: list[str] = field(default_factory=list)


# What the host holds of a kernel's messages at most, whatever the kernel sends (README, "Budgets"): ZMQ drops
# the connection of a peer sending a larger frame (the client reconnects; the message is lost), and queues at
# most RECEIVE_QUEUE messages per socket before it stops reading. Comm (widget) messages are dropped unread.
MAX_FRAME_BYTES = 2 << 20
RECEIVE_QUEUE = 64
HOST_MESSAGE_BYTES = 2 * RECEIVE_QUEUE * MAX_FRAME_BYTES  # shell and iopub queues full of the largest frames
SEND_TIMEOUT_MS = 2000


class _BoundedClient(NotebookClient):
    """nbclient that keeps at most ``output_budget`` characters of output, stores no widget state (nbclient keeps
    every comm message's state and buffers for its lifetime), and records anything it cannot handle in a
    kernel's message as a failure of that message, never as the grader's."""

    output_budget: int = 1_000_000
    store_widget_state = False

    def process_message(self, msg, cell, cell_index):
        content = msg.get("content") if isinstance(msg, dict) else None
        if not isinstance(content, dict) or not isinstance(msg.get("msg_type"), str):
            return None  # a forged message: nothing in it is used
        if msg["msg_type"].startswith("comm"):
            return None
        try:
            return super().process_message(msg, cell, cell_index)
        except CellExecutionComplete:
            raise
        except Exception:  # e.g. a KeyError from a malformed field: the output is lost, grading goes on
            return None

    def output(self, outs, msg, display_id, cell_index):
        size = len(str(msg.get("content", "")))
        if self.output_budget <= 0:
            return None
        self.output_budget -= size
        if self.output_budget <= 0:
            note = nbformat.v4.new_output("stream", name="stderr", text="\n[grader: output truncated]\n")
            outs.append(note)
            return note
        return super().output(outs, msg, display_id, cell_index)


class KernelSession:
    """A live kernel for one submission. Use as ``async with KernelSession(...) as session``."""

    def __init__(self, launcher: Launcher, run: RunDir, limits: Limits, slot: int = 0):
        self.launcher, self.run_dir, self.limits, self.slot = launcher, run, limits, slot
        self.log = SessionLog()
        self._replay: list[tuple[int, str]] = []  # (index, source) of the cells that completed, in order
        self._reply_status: str = "ok"
        self._reply_message: str = ""
        self.client: _BoundedClient | None = None
        self.timings: dict[str, float] = {}  # seconds of the first start and the final stop (not restarts)
        self.unusable_reason = ""  # why the kernel could not be recovered; then nothing more can run
        self.guard: KernelGuard | None = None
        self.labels: dict[int, str] = {}  # how the notes name a cell (grader.grading.notebook.code_cell_labels)

    @property
    def usable(self) -> bool:
        return not self.unusable_reason

    async def __aenter__(self) -> KernelSession:
        started = time.perf_counter()
        try:
            await self._start()
        finally:
            self.timings["kernel_start"] = time.perf_counter() - started
        return self

    async def __aexit__(self, *exc) -> None:
        started = time.perf_counter()
        await self._stop()
        self.timings["kernel_stop"] = time.perf_counter() - started

    async def _start(self) -> None:
        km = self.launcher.kernel_manager(self.run_dir, self.limits, self.slot)
        budget = self.client.output_budget if self.client else self.limits.output_bytes
        client = _BoundedClient(
            nbformat.v4.new_notebook(),
            km=km,
            allow_errors=True,
            interrupt_on_timeout=False,
            shutdown_kernel="immediate",
            startup_timeout=TIMEOUTS.kernel_start_s,
            iopub_timeout=TIMEOUTS.iopub_after_reply_s,
            on_cell_executed=self._on_executed,
        )
        client.output_budget = budget
        try:
            await km.start_kernel(
                cwd=str(self.run_dir.work),
                env=self.launcher.kernel_env(self.run_dir),
                extra_arguments=["--HistoryManager.hist_file=:memory:"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,  # the kernel's own fds: never shown
            )
            client.kc = km.client()
            if self.launcher.isolated:  # the kernel is untrusted: its messages pass a guard (grading/guard.py)
                self.guard = KernelGuard(self.run_dir.root / "guard", km.ip, _ports(km))
                await self.guard.start()
                client.kc.ip = self.guard.prefix
            # subtle: the client connects before the new kernel has bound its ports; ZMQ then retries after
            # RECONNECT_IVL, 100 ms by default, which was most of a forked kernel's start (175 ms -> 35 ms).
            client.kc.context.setsockopt(zmq.RECONNECT_IVL, TIMEOUTS.kernel_reconnect_ms)
            client.kc.context.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME_BYTES)
            client.kc.context.setsockopt(zmq.RCVHWM, RECEIVE_QUEUE)
            # after such a drop the shell socket has no peer, and a send would block the event loop for good
            client.kc.context.setsockopt(zmq.SNDTIMEO, SEND_TIMEOUT_MS)
            client.kc.start_channels()
            await wait_until_ready(client.kc, TIMEOUTS.kernel_start_s)
        except Exception as exc:
            await _kill(km)
            if self.guard is not None:
                await self.guard.close()
                self.guard = None
            self.launcher.after_kernel(self.run_dir, self.slot)
            raise KernelStartError(f"kernel did not start: {type(exc).__name__}: {exc}") from exc
        self.client = client

    async def _stop(self) -> None:
        if self.client is not None:
            if self.client.kc is not None:
                self.client.kc.stop_channels()
            await _kill(self.client.km)
        if self.guard is not None:
            await self.guard.close()
            self.guard = None
        self.launcher.after_kernel(self.run_dir, self.slot)

    async def _on_executed(self, cell, cell_index, execute_reply) -> None:
        content = execute_reply.get("content") if isinstance(execute_reply, dict) else None
        content = content if isinstance(content, dict) else {}
        self._reply_status = "error" if content.get("status") == "error" else "ok"
        ename, evalue = (content.get(key) for key in ("ename", "evalue"))
        ename = ename if isinstance(ename, str) else "Error"
        self._reply_message = clip(f"{ename}: {evalue if isinstance(evalue, str) else ''}".strip(": "))

    async def run(self, source: str, index: int, timeout: float, replay: bool = True) -> CellRecord:
        """Execute ``source``; on timeout or death, recover the kernel (see module docstring)."""
        record = await self._execute(source, index, timeout)
        if record.status in ("ok", "error"):
            if replay:
                self._replay.append((index, source))
            return record
        before = self._replay[-1] if self._replay else None
        if not await self._recover(record):
            record.message += " The kernel could not be recovered."
            self.unusable_reason = record.message
        elif replay and record.status == "dead" and before is not None and before not in self._replay:
            # the cell before killed the kernel after replying (run again, it did it again: see _restart); this
            # one only ran in a dying kernel, so it gets its run now (a cell: a grading request is never made
            # twice, its calls that began fail alone)
            self.log.notes.append(f"{self.name(index)} was run again: {self.name(before[0])} had killed the kernel")
            return await self.run(source, index, timeout, replay)
        return record

    def name(self, index: int) -> str:
        """The cell at ``index`` of the notebook as the notes name it."""
        if index < 0:
            return "the grading harness"
        return self.labels.get(index, f"cell {index + 1}")

    async def interrupt(self) -> None:
        """Interrupt whatever the kernel is running (``KeyboardInterrupt`` in the running code)."""
        assert self.client is not None
        try:
            await self.client.km.interrupt_kernel()
        except Exception:  # a kernel that is already gone: the running request ends as "dead"
            pass

    async def kill(self) -> None:
        """Kill the kernel: the running request ends as ``dead`` and :meth:`run` restarts it (replaying cells)."""
        assert self.client is not None
        await _kill(self.client.km)

    async def _execute(self, source: str, index: int, timeout: float) -> CellRecord:
        assert self.client is not None
        cell = _code_cell(source)
        self.client.nb.cells = [cell]
        self.client.timeout = max(1, int(round(timeout)))
        self._reply_status, self._reply_message = "ok", ""
        started = time.monotonic()
        try:
            await self.client.async_execute_cell(cell, 0, store_history=False)
        except CellTimeoutError:
            cancel_orphaned_polls(self.client)
            return CellRecord(index, "timeout", f"did not finish within {timeout:g} s", time.monotonic() - started)
        except DeadKernelError:
            return CellRecord(index, "dead", self._death_reason(), time.monotonic() - started)
        except zmq.Again:  # the kernel's shell is gone (it sent a frame over MAX_FRAME_BYTES): restart it
            why = f"the kernel stopped answering (it sent a message larger than {MAX_FRAME_BYTES >> 20} MB)"
            return CellRecord(index, "dead", why, time.monotonic() - started)
        except Exception as exc:  # what nbclient raises on a message the kernel made: that cell's error
            message = clip(f"the kernel sent a malformed message ({type(exc).__name__}: {exc})")
            return CellRecord(index, "error", message, time.monotonic() - started)
        status = "error" if self._reply_status == "error" else "ok"
        return CellRecord(index, status, self._reply_message if status == "error" else "", time.monotonic() - started)

    def _death_reason(self) -> str:
        if self.launcher.oom_killed(self.slot):
            return f"the kernel ran out of memory (limit {self.limits.memory_mb} MB) and was killed"
        return "the kernel died (a crash, os._exit or a resource limit)"

    async def _recover(self, record: CellRecord) -> bool:
        """Bring back a responsive kernel with the state of every completed cell. False if that failed."""
        assert self.client is not None
        if record.status == "timeout":
            try:
                await self.client.km.interrupt_kernel()
                probe = await self._execute("pass", -1, TIMEOUTS.interrupt_grace_s)
                if probe.status == "ok":
                    self.log.notes.append(f"{self.name(record.index)}: interrupted after the time limit")
                    return True
            except Exception:  # interrupt failed: fall through to a restart
                pass
        return await self._restart()

    async def _restart(self) -> bool:
        while self.log.restarts < MAX_RESTARTS:
            self.log.restarts += 1
            await self._stop()
            try:
                await self._start()
            except KernelStartError as exc:
                self.log.notes.append(f"restart failed: {exc}")
                return False
            stopped = await self._replay_completed()
            if stopped is None:
                self.log.notes.append("the kernel was restarted and the completed cells were run again")
                return True
            # subtle: a cell can complete and kill its kernel just after replying (e.g. by killing its parent):
            # run again, it would kill every new kernel. It is left out of the next replays.
            index, _ = self._replay.pop(stopped)
            note = "stopped the kernel again when run after a restart; not run again"
            self.log.notes.append(f"{self.name(index)} {note}")
        return False

    async def _replay_completed(self) -> int | None:
        """Run the completed cells again, in order; the position of the first that does not complete, or None."""
        for position, (_, source) in enumerate(self._replay):
            if (await self._execute(source, -1, self.limits.cell_timeout_s)).status not in ("ok", "error"):
                return position
        return None


async def wait_until_ready(kc, timeout: float) -> None:
    """Return once the kernel answers ``kernel_info`` on shell and iopub reaches us.

    jupyter_client's ``wait_for_ready`` does the same, then waits for 0.2 s of silence on iopub: idle time
    in every kernel start. Stray iopub messages need no flushing here: nbclient only takes a cell's own.
    """
    deadline = time.monotonic() + timeout
    while True:
        kc.kernel_info()
        try:
            reply = await kc.shell_channel.get_msg(timeout=TIMEOUTS.kernel_info_poll_s)
        except queue.Empty:
            reply = None
        if reply is not None and reply["msg_type"] == "kernel_info_reply":
            try:
                await kc.iopub_channel.get_msg(timeout=TIMEOUTS.iopub_connect_s)
            except queue.Empty:
                pass  # iopub not connected yet: ask again
            else:
                note_kernel_info(kc, reply)
                return
        if not await kc.is_alive():
            raise RuntimeError("the kernel died before replying to kernel_info")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the kernel did not answer within {timeout:.0f} s")


def _ports(km) -> dict[str, int]:
    return {channel: getattr(km, f"{channel}_port") for channel in CHANNELS}


def _code_cell(source: str) -> nbformat.NotebookNode:
    """A code cell, as ``nbformat.v4.new_code_cell`` makes it minus its JSON-schema validation (~1 ms a cell)."""
    return nbformat.NotebookNode(
        {
            "id": uuid.uuid4().hex[:8],
            "cell_type": "code",
            "metadata": {},
            "execution_count": None,
            "source": source,
            "outputs": [],
        }
    )


async def _kill(km) -> None:
    try:
        if await km.is_alive():
            await km.shutdown_kernel(now=True)
        else:
            await km.cleanup_resources()
    except Exception:
        pass  # a half-started kernel: the launcher's after_kernel removes whatever is left


async def run_notebook(session: KernelSession, nb, deadline: float, progress=None) -> list[CellRecord]:
    """Run every code cell of ``nb`` in order; errors and timeouts are recorded and the next cell runs.
    ``progress`` (a callable, optional) is told each cell as it starts ("code cell 3 of 24")."""
    records = []
    session.labels = code_cell_labels(nb)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        if progress is not None:
            progress(f"{session.name(index).split(' (')[0]} of {len(session.labels)}")
        remaining = deadline - time.monotonic()
        if remaining <= 1:
            records.append(CellRecord(index, "skipped", "the submission's time limit was reached"))
            continue
        timeout = min(session.limits.cell_timeout_s, remaining)
        records.append(await session.run(cell.source, index, timeout))
    session.log.cells.extend(records)
    return records


def submission_deadline(limits: Limits) -> float:
    return time.monotonic() + limits.submission_timeout_s
