"""The client of the warm per-user ``grader check`` server (:mod:`grader.selfcheck.server`), and what both share:
the private folder, the socket, the code digest and the message framing. Standard library only.

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

Protocol: one JSON line each way, never pickle. A request carries ``protocol``, ``op`` (``check``,
``ping``, ``shutdown``) and the client's :func:`code_digest`; a server whose digest differs (the grader
or its environment changed since it started) answers ``{"stale": true}`` and exits, and the client starts
a fresh one. Requests are served one at a time. A check request also carries the client's working folder,
the notebook and tests paths as typed and ``no_fast_start``; its reply is ``ok`` with the result (the
``results/<id>.json`` form of :meth:`grader.grading.results.SubmissionResult.gradescope`), the report's path and
the launcher's notice, or ``grader_error`` (shown like an in-process :class:`~grader.errors.GraderError`),
or ``error`` (the server could not do it: the client checks in-process).

Lifetime: the server exits after ``--idle`` seconds without a request (default 15 minutes), when its code
or the installed packages change, when its socket is removed, and on ``shutdown``. A client that goes
away during its check (Ctrl-C) cancels it, as Ctrl-C cancels an in-process check.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import stat
import sys
import time
from pathlib import Path

PROTOCOL = 1
ENV_DISABLE = "LLM_GRADER_NO_SERVER"  # any value but "" and "0": ``grader check`` never uses the server
ENV_DIR = "LLM_GRADER_SERVER_DIR"  # the private folder, instead of the default one
ENV_IDLE = "LLM_GRADER_SERVER_IDLE"  # seconds a new server waits for a request before it exits
DEFAULT_IDLE_S = 15 * 60.0
START_TIMEOUT_S = 15.0  # until a freshly started server accepts connections (it imports nothing heavy first)
REPLY_TIMEOUT_S = 3600.0  # a check's own limits end it long before (default: 600 s per submission)
MAX_REQUEST = 64 << 10
MAX_REPLY = 64 << 20
_PACKAGE = Path(__file__).resolve().parents[1]  # grader/


class ServerUnavailable(Exception):
    """The server cannot be used for this check; ``grader check`` checks in-process instead, quietly."""


class FolderRefused(ServerUnavailable):
    """The server's folder is not private to this user; the message says what to fix (shown as a note)."""


# ---------------------------------------------------------------------------------------------- shared


def disabled() -> bool:
    return os.environ.get(ENV_DISABLE, "") not in ("", "0")


def private_folder(create: bool = True) -> Path:
    """The user's private server folder (see the module docstring), created 0700 if missing; see
    :func:`checked_folder`."""
    if not hasattr(socket, "AF_UNIX") or not hasattr(os, "geteuid"):
        raise ServerUnavailable("this system has no Unix sockets")
    return checked_folder(_default_folder(), create)


def checked_folder(folder: Path, create: bool = False) -> Path:
    """``folder``, if it is private to this user. Raises :class:`FolderRefused` if it is a symlink or not a
    folder, belongs to another user, or is open to group or others: whoever can reach the socket can have
    a notebook run as this user."""
    if create:
        try:
            folder.parent.mkdir(parents=True, exist_ok=True)
            os.mkdir(folder, 0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            raise ServerUnavailable(f"cannot create {folder}: {exc}") from None
    try:
        st = os.lstat(folder)
    except OSError as exc:
        raise ServerUnavailable(f"{folder}: {exc}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise FolderRefused(f"{folder} is not a folder (a symlink or a file); remove it")
    if st.st_uid != os.geteuid():
        raise FolderRefused(f"{folder} belongs to uid {st.st_uid}, not to you (uid {os.geteuid()})")
    if st.st_mode & 0o077:
        raise FolderRefused(
            f"{folder} is accessible by other users (mode {stat.S_IMODE(st.st_mode):o}); run: chmod 700 {folder}"
        )
    return folder


def _default_folder() -> Path:
    if os.environ.get(ENV_DIR):
        return Path(os.environ[ENV_DIR]).absolute()
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and _owned(runtime):  # not after `su`, where it is still the other user's
        return Path(runtime) / "llm-grader"
    if sys.platform == "darwin":
        cache = Path.home() / "Library" / "Caches"
    else:
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache.absolute() / "llm-grader"


def _owned(path: str) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid()


def _tag() -> str:
    """This Python environment: two virtual environments get two servers, and ``python`` and ``python3``
    of one environment the same one. (Two grader checkouts sharing an environment share it too, and
    replace each other's server: their code digests differ.)"""
    return hashlib.sha256(sys.prefix.encode()).hexdigest()[:10]


def socket_path(folder: Path) -> Path:
    return folder / f"check-{_tag()}.sock"


def lock_path(folder: Path) -> Path:
    """Held (flock) by the live server for its whole life; holds its pid."""
    return folder / f"check-{_tag()}.lock"


def log_path(folder: Path) -> Path:
    return folder / f"check-{_tag()}.log"


def code_digest() -> str:
    """What a server's answers depend on besides the request: the grader's source and templates, the
    interpreter, and the installed packages (a site-packages folder's mtime changes when pip adds or
    removes one). A client and a server with different digests never talk: the server is replaced."""
    h = hashlib.sha256(f"{PROTOCOL}\0{sys.prefix}\0{os.path.realpath(sys.executable)}\0{sys.version}\0".encode())
    templates = _PACKAGE.parent / "templates"
    files = sorted(_PACKAGE.rglob("*.py")) + (sorted(templates.glob("*.j2")) if templates.is_dir() else [])
    for path in files:
        h.update(str(path).encode() + b"\0")
        try:
            h.update(path.read_bytes())
        except OSError:
            h.update(b"unreadable")
    for entry in sys.path:
        if entry.endswith("site-packages"):
            try:
                h.update(f"{entry}\0{os.stat(entry).st_mtime_ns}".encode())
            except OSError:
                pass
    return h.hexdigest()[:32]


def _send(sock: socket.socket, message: dict) -> None:
    sock.sendall(json.dumps(message).encode() + b"\n")


def _receive(sock: socket.socket, limit: int) -> dict:
    """One JSON line (an object); ``EOFError`` if the peer closed first, ``ValueError`` if malformed."""
    data = bytearray()
    while b"\n" not in data:
        chunk = sock.recv(1 << 16)
        if not chunk:
            raise EOFError("connection closed")
        data += chunk
        if len(data) > limit:
            raise ValueError(f"message over {limit} bytes")
    message = json.loads(data[: data.index(b"\n")])
    if not isinstance(message, dict):
        raise ValueError("not a JSON object")
    return message


# ---------------------------------------------------------------------------------------------- client


def request_check(notebook: Path, tests: Path | None, no_fast_start: bool) -> dict:
    """Ask the server (started if needed, replaced if stale) to check ``notebook``; the reply's fields are
    in the module docstring. Raises :class:`ServerUnavailable` (or :class:`FolderRefused`) instead."""
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
    reply = call(request)
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
        and isinstance(reply.get("notice"), str)
    )


def call(request: dict, start: bool = True) -> dict:
    """Send ``request`` (protocol and digest added) and return the reply; start the server if ``start``
    and none answers, and replace a stale one once."""
    folder = private_folder()
    message = {"protocol": PROTOCOL, "digest": code_digest(), **request}
    for _ in range(2):
        try:
            with _connect(folder, start) as sock:
                sock.settimeout(REPLY_TIMEOUT_S)
                _send(sock, message)
                reply = _receive(sock, MAX_REPLY)
        except (OSError, EOFError, ValueError) as exc:  # e.g. a socket path too long, a server that died
            raise ServerUnavailable(f"the server did not answer: {exc}") from None
        if not reply.get("stale"):
            return reply
    raise ServerUnavailable("the server was stale twice")


def _connect(folder: Path, start: bool) -> socket.socket:
    path = socket_path(folder)
    try:
        return _open(path)
    except (FileNotFoundError, ConnectionRefusedError):
        if not start:
            raise ServerUnavailable("no server is running") from None
    process = _spawn(folder)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        time.sleep(0.01)
        try:
            return _open(path)
        except (FileNotFoundError, ConnectionRefusedError):
            # it lost the lock to another server (which will bind soon) or failed: see its log
            if process.poll() not in (None, 0):
                raise ServerUnavailable(f"the server did not start; see {log_path(folder)}") from None
        except OSError as exc:
            raise ServerUnavailable(f"cannot reach the server: {exc}") from None
    raise ServerUnavailable(f"the server did not start in {START_TIMEOUT_S:.0f} s; see {log_path(folder)}")


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

    idle = os.environ.get(ENV_IDLE) or str(DEFAULT_IDLE_S)
    log = log_path(folder)
    mode = "ab" if log.exists() and log.stat().st_size < 1 << 20 else "wb"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_PACKAGE.parent), env.get("PYTHONPATH")]))
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


def stop(timeout_s: float = 10.0) -> bool:
    """Ask this user's server to exit and wait until it has; False if none was running (or reachable)."""
    try:
        folder = private_folder(create=False)
        call({"op": "shutdown"}, start=False)
    except ServerUnavailable:
        return False
    lock = lock_path(folder)
    deadline = time.monotonic() + timeout_s
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
