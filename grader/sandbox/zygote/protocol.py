"""The zygote's protocol: JSON messages over a ``SOCK_SEQPACKET`` socket pair, fds as ``SCM_RIGHTS``.

The grader (:mod:`grader.sandbox.zygote.client`) and the zygote (:mod:`grader.sandbox.zygote.server`) each hold
one end. A spawned kernel's pidfd travels with its reply.
"""

from __future__ import annotations

import json
import select
import socket

MAX_MESSAGE = 1 << 20


class SpawnError(Exception):
    """A kernel could not be set up; the message says which step failed."""


def send(sock: socket.socket, message: dict, fds: list[int] = ()) -> None:
    data = json.dumps(message).encode()
    if fds:
        socket.send_fds(sock, [data], list(fds))
    else:
        sock.send(data)


def receive(sock: socket.socket, timeout: float | None = None) -> tuple[dict, list[int]]:
    """One message and the fds that came with it; ``EOFError`` when the peer is gone."""
    if timeout is not None and not select.select([sock], [], [], timeout)[0]:
        raise TimeoutError(f"no answer from the zygote within {timeout:.0f} s")
    data, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, 4)
    if not data:
        raise EOFError("the other end closed the zygote socket")
    return json.loads(data), fds
