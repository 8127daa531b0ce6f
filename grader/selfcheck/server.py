"""The warm per-user ``grader check`` server: ``python -m grader.selfcheck.server --dir FOLDER --idle SECONDS``,
started detached by :func:`grader.selfcheck.client.request_check`. What it keeps warm, where it listens, its
protocol and its lifetime are described in :mod:`grader.selfcheck.client`, which it shares them with.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import select
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from pathlib import Path

from grader.common.settings import TIMEOUTS
from grader.errors import GraderError
from grader.selfcheck.protocol import (
    MAX_REQUEST,
    PROTOCOL,
    ServerUnavailable,
    checked_folder,
    code_digest,
    lock_path,
    receive,
    send,
    socket_path,
)
from grader.selfcheck.warm import Launchers, Plans, assets_hint

OPS = ("check", "ping", "shutdown")


class _Leave(Exception):
    """Stop serving (shutdown or stale)."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.selfcheck.server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, required=True, help="the private folder for the socket, lock and log")
    parser.add_argument(
        "--idle", type=float, default=TIMEOUTS.check_server_idle_s, help="exit after this many seconds unused"
    )
    args = parser.parse_args(argv)
    # The server enters each client's working folder: nothing may be imported from there (a student's
    # json.py must not shadow anything), so only absolute entries stay on the path.
    sys.path[:] = [entry for entry in sys.path if os.path.isabs(entry) and entry != "/"]
    try:
        folder = checked_folder(args.dir.absolute())
    except ServerUnavailable as exc:
        _log(f"not starting: {exc}")
        return 1
    return Server(folder, args.idle).run()


class Server:
    """The serve loop: one connection, one request, one reply, one at a time."""

    def __init__(self, folder: Path, idle_s: float):
        self.folder, self.idle_s = folder, idle_s
        self.path = socket_path(folder)
        self.plans, self.launchers = Plans(), Launchers()
        self.listener: socket.socket | None = None
        self.inode = 0
        self.digest = ""

    def run(self) -> int:
        lock = self._lock()
        if lock is None:
            _log("another server holds the lock: not starting")
            return 0
        signal.signal(signal.SIGTERM, _terminate)
        try:
            self.digest = code_digest()
            self._listen()
            _log(f"serving on {self.path} (idle timeout {self.idle_s:g} s, code {self.digest[:12]})")
            self._loop()
        finally:
            self._retire()
            self.launchers.close()
            os.close(lock)
            _log("stopped")
        return 0

    def _lock(self) -> int | None:
        """The lock file's fd, locked: at most one server per installation. A stale server that is exiting
        still holds it for a moment, so wait a little."""
        fd = os.open(lock_path(self.folder), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        deadline = time.monotonic() + TIMEOUTS.check_server_lock_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    return None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        return fd

    def _listen(self) -> None:
        try:
            self.path.unlink()  # a dead server's: we hold the lock, so no live server owns it
        except FileNotFoundError:
            pass
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            self.listener.bind(str(self.path))
        finally:
            os.umask(old)
        self.listener.listen(16)
        self.inode = os.stat(self.path).st_ino

    def _retire(self) -> None:
        """Stop accepting and remove the socket (if it is still ours), so clients start a new server."""
        if self.listener is None:
            return
        self.listener.close()
        self.listener = None
        try:
            if os.stat(self.path).st_ino == self.inode:
                self.path.unlink()
        except FileNotFoundError:
            pass

    def _loop(self) -> None:
        last = time.monotonic()
        while True:
            left = self.idle_s - (time.monotonic() - last)
            if left <= 0:
                _log(f"idle for {self.idle_s:g} s: exiting")
                return
            if not select.select([self.listener], [], [], min(left, TIMEOUTS.check_server_tick_s))[0]:
                if reason := self._outdated():
                    _log(f"{reason}: exiting")
                    return
                continue
            try:
                conn, _ = self.listener.accept()
            except OSError as exc:  # e.g. the client gave up before we got to it
                _log(f"accept: {exc}")
                continue
            try:
                with conn:
                    self._serve(conn)
            except _Leave as leave:
                _log(f"{leave}: exiting")
                return
            except Exception:  # a bug in serving one request must not take the server down
                _log(f"request failed:\n{traceback.format_exc()}")
            finally:
                last = time.monotonic()

    def _outdated(self) -> str | None:
        try:
            if os.stat(self.path).st_ino != self.inode:
                return "the socket was replaced"
        except FileNotFoundError:
            return "the socket was removed"
        if code_digest() != self.digest:
            return "the grader's code or packages changed"
        return None

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(TIMEOUTS.check_request_s)
        uid = _peer_uid(conn)
        if uid is not None and uid != os.geteuid():
            _log(f"refused a connection from uid {uid}")
            return
        try:
            request = receive(conn, MAX_REQUEST)
            digest = request.get("digest")
            if not isinstance(digest, str):
                raise ValueError("no 'digest' string")
        except (OSError, EOFError):
            return  # the client is gone
        except ValueError as exc:  # not JSON, not UTF-8, not an object, too long
            _reply(conn, {"ok": False, "error": f"bad request: {exc}"})
            return
        if digest != self.digest:
            self._retire()
            _reply(conn, {"ok": False, "stale": True})
            raise _Leave("a client runs other code (stale server)")
        try:
            _validate(request)
        except ValueError as exc:
            _reply(conn, {"ok": False, "error": f"bad request: {exc}"})
            return
        if request["op"] == "ping":
            _reply(conn, {"ok": True, "pid": os.getpid(), "digest": self.digest})
        elif request["op"] == "shutdown":
            self._retire()
            _reply(conn, {"ok": True})
            raise _Leave("asked to shut down")
        else:
            conn.settimeout(TIMEOUTS.check_request_s)
            _reply(conn, {"event": "started"})  # the client stops saying that it waits for another check
            reply = self._check(request, conn)
            if code_digest() != self.digest:  # changed during the check: it may have run a mix of both
                self._retire()
                _reply(conn, {"ok": False, "stale": True})
                raise _Leave("the grader's code changed during a check (stale server)")
            if reply is not None:
                conn.settimeout(TIMEOUTS.check_request_s)
                _reply(conn, reply)

    def _check(self, request: dict, conn: socket.socket) -> dict | None:
        """Run one check in the client's working folder; None if the client went away meanwhile."""
        started = time.monotonic()
        try:
            os.chdir(request["cwd"])
        except OSError as exc:
            return {"ok": False, "error": f"cannot enter {request['cwd']}: {exc}"}
        try:
            with _CancelWhenGone(conn) as watch:
                reply = self._run_check(request, _Progress(conn), watch.gone)
        except KeyboardInterrupt:
            _log("the client went away: its check was cancelled")
            return None
        except Exception as exc:  # a bug: the client checks in-process and shows it as it would there
            _log(f"check failed:\n{traceback.format_exc()}")
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        finally:
            os.chdir("/")
        _log(f"checked {request['notebook']} in {time.monotonic() - started:.2f} s")
        return reply

    def _run_check(self, request: dict, progress, cancelled: threading.Event) -> dict:
        """What ``grader check`` does in-process (grader/cli.py), with the plan and launcher kept warm."""
        notebook = Path(request["notebook"])
        tests = None if request["tests"] is None else Path(request["tests"])
        fast_start = not request["no_fast_start"]
        hint = assets_hint(notebook, tests)
        if hint is not None:
            self.launchers.start(hint, fast_start)  # the zygote imports while this process imports below
        from grader.selfcheck.check import check_notebook, check_reply

        notice = None
        try:
            plan = self.plans.get(notebook, tests)
            launcher, notice = self.launchers.get(plan.assets, fast_start)
            result, plan, report = check_notebook(notebook, plan, launcher, progress, cancelled)
        except GraderError as exc:
            return {"ok": False, "grader_error": str(exc), "notice": notice}
        return check_reply(result, plan, report, notice)


def _validate(request: dict) -> None:
    if request.get("protocol") != PROTOCOL:
        raise ValueError(f"protocol {request.get('protocol')!r}, expected {PROTOCOL}")
    if request.get("op") not in OPS:
        raise ValueError(f"'op' must be one of {', '.join(OPS)}")
    if request["op"] != "check":
        return
    for key, kinds in (("cwd", str), ("notebook", str), ("tests", (str, type(None))), ("no_fast_start", bool)):
        if not isinstance(request.get(key), kinds) or key not in request:
            raise ValueError(f"{key!r} is missing or of the wrong type")
    if not os.path.isabs(request["cwd"]):
        raise ValueError("'cwd' must be an absolute path")
    if "\0" in request["notebook"] + (request["tests"] or ""):
        raise ValueError("a path holds a NUL character")


def _reply(conn: socket.socket, reply: dict) -> None:
    try:
        send(conn, reply)
    except OSError:
        pass  # the client is gone


def _peer_uid(conn: socket.socket) -> int | None:
    """The connecting process's uid (Linux); None where the folder's permissions are the only check."""
    if not hasattr(socket, "SO_PEERCRED"):
        return None
    _, uid, _ = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    return uid


def _terminate(signum, frame) -> None:
    raise SystemExit(0)  # unwinds a running check (its kernel is shut down) and the server's clean-up


def _log(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} [{os.getpid()}] {message}", file=sys.stderr, flush=True)


class _Progress:
    """Sends a check's progress to its client as event lines; a client that is gone is the watch's business."""

    def __init__(self, conn: socket.socket):
        self.conn = conn

    def __call__(self, text: str) -> None:
        _reply(self.conn, {"event": "progress", "text": text})


class _CancelWhenGone:
    """While a check runs, watch its connection: a client that closes it (Ctrl-C) gets its check cancelled
    with SIGINT to the main thread, exactly as Ctrl-C cancels an in-process check (asyncio.run cancels the
    grading task, whose clean-up stops the kernel). ``gone`` is set first: a check that finishes anyway
    writes no report."""

    def __init__(self, conn: socket.socket):
        self.conn = conn
        self.gone = threading.Event()
        self.wake, self.woken = socket.socketpair()  # ends the watch at once when the check is done
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.wake.send(b"x")
        self.thread.join()
        self.wake.close()
        self.woken.close()

    def _watch(self) -> None:
        readable = select.select([self.conn, self.woken], [], [])[0]
        if self.woken in readable:
            return
        try:
            gone = self.conn.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            gone = True
        if gone:
            self.gone.set()
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
        # else the client sent more than its request: nothing more to watch


if __name__ == "__main__":
    sys.exit(main())
