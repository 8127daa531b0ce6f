"""A guard between the grader's Jupyter client and a sandboxed kernel's ZMQ sockets: it forwards the bytes both
ways and cuts a connection as soon as the kernel sends a message larger than its budget.

Why: libzmq receives a whole multi-part message before the grader sees any of it, and its own cap
(``ZMQ_MAXMSGSIZE``) applies to single frames: a kernel sending one message of a thousand frames of 2 MiB each
would make the grader hold 2 GB. The guard counts every frame of a message as the bytes pass, holds none of them
(it reads at most :data:`CHUNK` bytes at a time and waits for the client to take them), and drops the
connection when the message's total or its number of frames goes over budget. The client's libzmq then discards
the partial message and reconnects through the guard; the message is lost, as with an oversized frame.

The kernel's side speaks ZMTP 3 (rfc.zeromq.org/spec/23): a 64-octet greeting, then frames of a flags octet
(MORE 1, LONG 2, COMMAND 4), a size (1 octet, or 8 big-endian octets when LONG) and the body. A stream that
is not ZMTP 3 is cut at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

from grader.common.settings import TIMEOUTS

CHUNK = 1 << 16
MESSAGE_BYTES = 2 << 20  # the largest message on shell and iopub (all its frames)
SMALL_MESSAGE_BYTES = 1 << 16  # on control, stdin and heartbeat: nothing big is ever sent there
MAX_FRAMES = 64  # frames per message: a Jupyter message has 7 plus its buffers
CHANNELS = ("shell", "iopub", "stdin", "control", "hb")
_GREETING, _MORE, _LONG, _COMMAND = 64, 1, 2, 4


class FrameCounter:
    """Follows one kernel-to-client byte stream. :meth:`feed` returns False once the stream breaks a budget
    (or is not ZMTP 3); the caller then cuts the connection."""

    def __init__(self, message_bytes: int, max_frames: int = MAX_FRAMES):
        self.message_bytes, self.max_frames = message_bytes, max_frames
        self._head = bytearray()  # the greeting, or a frame's flags and size, while they arrive
        self._greeted = False
        self._body = 0  # bytes of the current frame's body still to pass
        self._message, self._frames = 0, 0  # the current message so far

    def feed(self, data: bytes) -> bool:
        view, i = memoryview(data), 0
        while i < len(view):
            if self._body:
                step = min(self._body, len(view) - i)
                self._body -= step
                i += step
                continue
            need = self._need()
            take = min(need - len(self._head), len(view) - i)
            self._head += view[i : i + take]
            i += take
            if len(self._head) == need and need > 1 and not self._header_done():
                return False
        return True

    def _need(self) -> int:
        """How many octets the greeting or the frame header being read has (1 until its flags are known)."""
        if not self._greeted:
            return _GREETING
        if not self._head:
            return 1
        return 9 if self._head[0] & _LONG else 2

    def _header_done(self) -> bool:
        """A greeting or frame header is complete: check it; False if the stream must be cut."""
        head, self._head = bytes(self._head), bytearray()
        if not self._greeted:
            self._greeted = True
            return head[0] == 0xFF and head[9] == 0x7F and head[10] >= 3
        flags = head[0]
        size = int.from_bytes(head[1:], "big")
        if flags & _COMMAND:
            ok = size <= SMALL_MESSAGE_BYTES
        else:
            self._message += size
            self._frames += 1
            ok = self._message <= self.message_bytes and self._frames <= self.max_frames
            if not flags & _MORE:
                self._message = self._frames = 0
        self._body = size
        return ok


class KernelGuard:
    """Listens on a unix socket per channel in ``folder`` (the grader's, out of the sandbox) and forwards each
    connection to the kernel's socket of that channel (``<kernel_prefix>-<port>``, ZMQ's ipc naming).
    Point the client at :attr:`prefix` instead of the kernel's."""

    def __init__(self, folder: Path, kernel_prefix: str, ports: dict[str, int]):
        self.folder, self.kernel_prefix, self.ports = Path(folder), kernel_prefix, ports
        self.prefix = str(self.folder / "g")
        self._servers: list[asyncio.AbstractServer] = []
        self._tasks: set[asyncio.Task] = set()
        self.cuts = 0  # connections cut for a message over budget

    async def start(self) -> None:
        self.folder.mkdir(mode=0o700, exist_ok=True)
        for channel, port in self.ports.items():
            budget = MESSAGE_BYTES if channel in ("shell", "iopub") else SMALL_MESSAGE_BYTES
            path = f"{self.prefix}-{port}"
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            server = await asyncio.start_unix_server(lambda r, w, p=port, b=budget: self._serve(r, w, p, b), path)
            self._servers.append(server)

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._servers, self._tasks = [], set()

    async def _serve(self, client_r, client_w, port: int, budget: int) -> None:
        task = asyncio.current_task()
        self._tasks.add(task)
        kernel_w = None
        try:
            kernel_r, kernel_w = await self._connect(f"{self.kernel_prefix}-{port}", client_r)
            if kernel_r is None:
                return
            upstream = asyncio.ensure_future(_pump(client_r, kernel_w, None))
            downstream = asyncio.ensure_future(_pump(kernel_r, client_w, FrameCounter(budget)))
            done, pending = await asyncio.wait({upstream, downstream}, return_when=asyncio.FIRST_COMPLETED)
            for other in pending:
                other.cancel()
            if downstream in done and downstream.result() is False:
                self.cuts += 1
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            for writer in (client_w, kernel_w):
                if writer is not None:
                    writer.close()
            self._tasks.discard(task)

    async def _connect(self, path: str, client_r):
        """Connect to the kernel's socket; it may not exist yet while the kernel starts (retry, like ZMQ)."""
        delay = TIMEOUTS.kernel_reconnect_ms / 1000
        for _ in range(int(TIMEOUTS.kernel_start_s / delay)):
            try:
                return await asyncio.open_unix_connection(path)
            except (FileNotFoundError, ConnectionRefusedError):
                if client_r.at_eof():
                    break
                await asyncio.sleep(delay)
        return None, None


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, counter: FrameCounter | None):
    """Copy ``reader`` to ``writer`` until either end closes (None) or ``counter`` says cut (False)."""
    try:
        while True:
            data = await reader.read(CHUNK)
            if not data:
                return None
            if counter is not None and not counter.feed(data):
                return False
            writer.write(data)
            await writer.drain()  # the client is slow: stop reading from the kernel, hold nothing more
    except OSError:  # either end went away
        return None
