"""What the ``grader check`` client and the check server share: the private folder, the socket, the code digest
and the message framing. Standard library only (see :mod:`grader.selfcheck.client` for the whole design).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import stat
import sys
from pathlib import Path

from grader.common.templates import template_folder

PROTOCOL = 2  # 2: a check's reply may follow event lines ({"event": "started" | "progress", ...})
ENV_DISABLE = "LLM_GRADER_NO_SERVER"  # any value but "" and "0": ``grader check`` never uses the server
ENV_DIR = "LLM_GRADER_SERVER_DIR"  # the private folder, instead of the default one
ENV_IDLE = "LLM_GRADER_SERVER_IDLE"  # seconds a new server waits for a request before it exits
MAX_REQUEST = 64 << 10
MAX_REPLY = 64 << 20
_PACKAGE = Path(__file__).resolve().parents[1]  # grader/


class ServerUnavailable(Exception):
    """The server cannot be used for this check; ``grader check`` checks in-process instead, quietly."""


class FolderRefused(ServerUnavailable):
    """The server's folder is not private to this user; the message says what to fix (shown as a note)."""


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
    files = sorted(_PACKAGE.rglob("*.py")) + sorted(template_folder().glob("*.j2"))
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


def send(sock: socket.socket, message: dict) -> None:
    sock.sendall(json.dumps(message).encode() + b"\n")


def receive(sock: socket.socket, limit: int) -> dict:
    """One JSON line (an object); ``EOFError`` if the peer closed first, ``ValueError`` if malformed."""
    return Lines(sock, limit).next()


class Lines:
    """The JSON lines a peer sends, one after the other (what arrives after a line is kept for the next).
    A socket timeout leaves what was read so far in place: call :meth:`next` again to go on waiting."""

    def __init__(self, sock: socket.socket, limit: int):
        self.sock, self.limit, self.data = sock, limit, bytearray()

    def next(self) -> dict:
        while b"\n" not in self.data:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise EOFError("connection closed")
            self.data += chunk
            if len(self.data) > self.limit:
                raise ValueError(f"message over {self.limit} bytes")
        end = self.data.index(b"\n")
        message = json.loads(self.data[:end])
        del self.data[: end + 1]
        if not isinstance(message, dict):
            raise ValueError("not a JSON object")
        return message
