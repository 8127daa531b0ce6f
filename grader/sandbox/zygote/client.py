"""The grader's end of a zygote process: start it, wait until it has imported everything, ask it for kernels."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence

from grader.common.process import child_env
from grader.common.settings import TIMEOUTS
from grader.errors import SandboxUnavailable
from grader.sandbox.launcher import KERNEL_ENV
from grader.sandbox.zygote.protocol import receive, send

log = logging.getLogger(__name__)


class ZygoteClient:
    """The grader's end of one zygote process: start it, ask it for kernels, stop it."""

    def __init__(self, template: list[str], preload: Sequence[str], models: Sequence[str] = ()):
        """Start the zygote; it imports (and loads ``models``, folders as kernels see them) in the background
        until :meth:`wait_ready`."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # Thread counts must be set before torch is imported; nothing else of the grader's environment goes in.
        env = child_env({**KERNEL_ENV, "PATH": "/usr/bin:/bin"})
        self._process = subprocess.Popen(
            [sys.executable, "-m", "grader.sandbox.zygote.server", str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd="/",
        )
        theirs.close()
        self._sock, self._lock, self._ready = ours, threading.Lock(), False
        self.preloaded: list[str] = []
        self.warm_up_errors: dict[str, str] = {}
        self.start_seconds = 0.0
        try:
            send(ours, {"template": template, "preload": list(preload), "models": list(models)})
        except OSError:
            pass  # it died at once: wait_ready says why

    def wait_ready(self) -> None:
        """Block until the zygote has imported everything; :class:`SandboxUnavailable` if it failed."""
        with self._lock:
            if self._ready:
                return
            try:
                reply, _ = receive(self._sock, TIMEOUTS.zygote_start_s)
            except (OSError, EOFError, TimeoutError, ValueError) as exc:
                reply = {"error": str(exc)}
            if "error" in reply:
                self.close()
                raise SandboxUnavailable(f"zygote did not start: {reply['error']}")
            self.preloaded, self.start_seconds, self._ready = reply["preloaded"], reply["seconds"], True
            self.warm_up_errors = reply.get("warm_up_errors", {})
            for folder, error in self.warm_up_errors.items():  # only costs speed: each kernel's first load is slower
                log.warning("zygote: could not warm up %s: %s", folder, error)

    def spawn(self, request: dict) -> tuple[int, int]:
        """A new kernel for ``request``: (host pid of its monitor process, a pidfd of it)."""
        self.wait_ready()
        with self._lock:
            try:
                send(self._sock, request)
                reply, fds = receive(self._sock, TIMEOUTS.zygote_spawn_s)
            except (OSError, EOFError, TimeoutError) as exc:
                raise SandboxUnavailable(f"zygote: {exc}") from None
        if "error" in reply:
            for fd in fds:
                os.close(fd)
            raise SandboxUnavailable(f"zygote: {reply['error']}")
        return reply["pid"], fds[0]

    def alive(self) -> bool:
        return self._process.poll() is None

    def close(self) -> None:
        self._sock.close()
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
