"""The client of the warm per-user ``grader check`` server (:mod:`grader.selfcheck.server`); what both share is
in :mod:`grader.selfcheck.protocol`. Standard library only.

A warm per-user server for ``grader check``, like a language server or Gradle's daemon.

A cold ``grader check`` pays for starting Python, importing torch and the grading stack, and starting the
zygote (which imports torch, ipykernel and transformers) before the student's notebook runs at all. This
server keeps all of that warm between checks: the imports, the loaded check plans (keyed by the tests
folder and a hash of its bundle's bytes) and one launcher (the zygote where the sandbox works,
else a plain local kernel: exactly what an in-process ``grader check`` picks).

The client (:func:`request_check`, used by ``grader check``) imports only the standard library, so a warm
check costs one small process plus the check itself. The server is never required: anything that stops
it from answering (no Unix sockets, an unsafe folder, a crash) makes ``grader check`` check in-process.

Where: a Unix socket in a private folder of the user, ``$LLM_GRADER_SERVER_DIR``, else
``$XDG_RUNTIME_DIR/llm-grader``, else ``<cache dir>/llm-grader`` (``$XDG_CACHE_HOME`` or ``~/.cache``;
``~/Library/Caches`` on macOS); the folder is created 0700 and refused when it is not the user's own or is
open to group or others. One server per Python environment (the socket's name hashes ``sys.prefix``).
On Linux the server also checks each peer's uid (``SO_PEERCRED``).

Protocol: one JSON line each way (a check's reply after event lines: ``started`` when the server begins it, so
that a client kept waiting behind another check can say so, and ``progress``), never pickle. A request carries
``protocol``, ``op`` (``check``, ``ping``, ``shutdown``) and the client's :func:`code_digest`; a server whose
digest differs (the grader or its environment changed since it started) answers ``{"stale": true}`` and exits,
and the client starts a fresh one. Requests are served one at a time: a client whose check has not started
within a second says that it waits for another check. A check request also carries the client's working
folder, the notebook and tests paths as typed and ``no_fast_start``; its reply is ``ok`` with the result (the
``results/<id>.json`` form of :meth:`grader.grading.results.SubmissionResult.gradescope`), the report's path
and the launcher's notice, or ``grader_error`` (shown like an in-process :class:`~grader.errors.GraderError`),
or ``error`` (the server could not do it: the client checks in-process).

Lifetime: the server exits after ``--idle`` seconds without a request (default 15 minutes), when its code
or the installed packages change, when its socket is removed, and on ``shutdown``. A client that goes
away during its check (Ctrl-C) cancels it, as Ctrl-C cancels an in-process check: its kernel is stopped,
no report is written for it, and the next check starts at once.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

from grader.common.process import child_env
from grader.common.settings import TIMEOUTS
from grader.selfcheck.protocol import (
    ENV_IDLE,
    MAX_REPLY,
    PROTOCOL,
    Lines,
    ServerUnavailable,
    code_digest,
    lock_path,
    log_path,
    private_folder,
    send,
    socket_path,
)


def request_check(
    notebook: Path, tests: Path | None, no_fast_start: bool, on_event: Callable[[dict], None] | None = None
) -> dict:
    """Ask the server (started if needed, replaced if stale) to check ``notebook``; the reply's fields are
    in the module docstring, ``on_event`` gets the events before it (:func:`_reply`). Raises
    :class:`ServerUnavailable` (or :class:`FolderRefused`) instead."""
    try:
        cwd = os.getcwd()
    except OSError as exc:  # removed under our feet: the in-process check will say what is wrong
        raise ServerUnavailable(f"no working folder: {exc}") from None
    request = {
        "op": "check",
        "cwd": cwd,
        "notebook": str(notebook),
        "tests": None if tests is None else str(tests),
        "no_fast_start": bool(no_fast_start),
    }
    reply = call(request, on_event=on_event)
    if reply.get("ok") is True and _is_check_reply(reply):
        return reply
    if reply.get("ok") is False and isinstance(reply.get("grader_error"), str):
        return reply
    raise ServerUnavailable(f"the server could not check: {reply.get('error', 'an unexpected reply')}")


def _is_check_reply(reply: dict) -> bool:
    result = reply.get("result")
    return (
        isinstance(result, dict)
        and isinstance(result.get("assignment"), str)
        and isinstance(result.get("tests"), list)
        and all(isinstance(t, dict) and {"name", "status", "output"} <= t.keys() for t in result["tests"])
        and all(isinstance(reply.get(key), (int, float)) for key in ("score", "max_score", "hidden"))
        and isinstance(reply.get("report"), str)
        and isinstance(reply.get("notice"), (str, type(None)))
        and isinstance(reply.get("guidance"), list)
        and all(isinstance(g, dict) and {"function", "text", "inputs"} <= g.keys() for g in reply["guidance"])
    )


def call(request: dict, start: bool = True, on_event: Callable[[dict], None] | None = None) -> dict:
    """Send ``request`` (protocol and digest added) and return the reply; start the server if ``start``
    and none answers, and replace a stale one once. ``on_event`` gets the event lines before the reply
    (see :func:`_reply`)."""
    folder = private_folder()
    message = {"protocol": PROTOCOL, "digest": code_digest(), **request}
    for _ in range(2):
        try:
            with _connect(folder, start) as sock:
                send(sock, message)
                reply = _reply(sock, on_event)
        except (OSError, EOFError, ValueError) as exc:  # e.g. a socket path too long, a server that died
            raise ServerUnavailable(f"the server did not answer: {exc}") from None
        if not reply.get("stale"):
            return reply
    raise ServerUnavailable("the server was stale twice")


def _reply(sock: socket.socket, on_event: Callable[[dict], None] | None) -> dict:
    """The reply, after the event lines the server sends first: ``started`` (it began this check) and
    ``progress``. With ``on_event``, a check not started within ``check_wait_note_s`` (the server is busy
    with another one: it checks one at a time) is announced once as ``{"event": "waiting"}``."""
    lines = Lines(sock, MAX_REPLY)
    deadline = time.monotonic() + TIMEOUTS.check_reply_s
    announced = on_event is None
    while True:
        left = max(0.01, deadline - time.monotonic())
        sock.settimeout(left if announced else min(left, TIMEOUTS.check_wait_note_s))
        try:
            message = lines.next()
        except TimeoutError:
            if announced or time.monotonic() >= deadline:
                raise
            announced = True
            on_event({"event": "waiting"})
            continue
        if "event" not in message:
            return message
        announced = announced or message["event"] == "started"
        if on_event is not None:
            on_event(message)


def _connect(folder: Path, start: bool) -> socket.socket:
    path = socket_path(folder)
    try:
        return _open(path)
    except (FileNotFoundError, ConnectionRefusedError):
        if not start:
            raise ServerUnavailable("no server is running") from None
    process = _spawn(folder)
    deadline = time.monotonic() + TIMEOUTS.check_server_start_s
    while time.monotonic() < deadline:
        time.sleep(TIMEOUTS.check_connect_poll_s)
        try:
            return _open(path)
        except (FileNotFoundError, ConnectionRefusedError):
            # it lost the lock to another server (which will bind soon) or failed: see its log
            if process.poll() not in (None, 0):
                raise ServerUnavailable(f"the server did not start; see {log_path(folder)}") from None
        except OSError as exc:
            raise ServerUnavailable(f"cannot reach the server: {exc}") from None
    raise ServerUnavailable(
        f"the server did not start in {TIMEOUTS.check_server_start_s:.0f} s; see {log_path(folder)}"
    )


def _open(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except BaseException:
        sock.close()
        raise
    return sock


def _spawn(folder: Path):
    """Start ``python -m grader.selfcheck.server`` detached: own session, no terminal, output to its log."""
    import subprocess

    idle = os.environ.get(ENV_IDLE) or str(TIMEOUTS.check_server_idle_s)
    log = log_path(folder)
    mode = "ab" if log.exists() and log.stat().st_size < 1 << 20 else "wb"
    env = child_env(dict(os.environ))
    with open(log, mode) as out:
        return subprocess.Popen(
            [sys.executable, "-m", "grader.selfcheck.server", "--dir", str(folder), "--idle", idle],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            cwd="/",
            env=env,
            start_new_session=True,
        )


def stop() -> bool:
    """Ask this user's server to exit and wait until it has; False if none was running (or reachable)."""
    try:
        folder = private_folder(create=False)
        call({"op": "shutdown"}, start=False)
    except ServerUnavailable:
        return False
    lock = lock_path(folder)
    deadline = time.monotonic() + TIMEOUTS.check_server_stop_s
    while time.monotonic() < deadline and _locked(lock):
        time.sleep(0.02)
    return True


def _locked(lock: Path) -> bool:
    import fcntl

    try:
        fd = os.open(lock, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
