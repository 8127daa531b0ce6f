"""``grader review OUT``: the review page under uvicorn, on 127.0.0.1 and a free port unless told otherwise.

The socket is bound here (port 0: the system picks a free one) so that the URL printed holds the real port; a
fresh random token goes into it (:mod:`grader.review.auth`). The gradebook is opened without the grader's lock:
the page works while ``grader grade`` runs on the same folder.
"""

from __future__ import annotations

import secrets
import socket
import threading
from functools import partial
from pathlib import Path

import uvicorn

from grader.batch.reviews import Reviews
from grader.review.app import create_app

ECHO = partial(print, flush=True)  # plain print: rich would wrap a long URL
LOCAL = {"127.0.0.1", "localhost", "::1"}
SHARED_WARNING = (
    "warning: the review page is reachable from other machines: anyone with this URL can see the answers and "
    "grade them (plain HTTP: use it on a network you trust)"
)


class ReviewServer:
    """One review page server: ``url`` to open, :meth:`run` until Ctrl-C, or :meth:`start`/:meth:`stop` (tests)."""

    def __init__(self, out: Path, *, host: str = "127.0.0.1", port: int = 0, anonymous: bool = False):
        Reviews.open(out).close()  # "no gradebook here" before anything is served
        self.token = secrets.token_urlsafe(24)
        self.socket = _bind(host, port)
        shown = socket.getfqdn() if host in ("0.0.0.0", "::") else host
        shown = f"[{shown}]" if ":" in shown else shown
        self.url = f"http://{shown}:{self.socket.getsockname()[1]}/?token={self.token}"
        self.shared = host not in LOCAL
        config = uvicorn.Config(create_app(out, self.token, anonymous=anonymous), log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def run(self) -> None:
        """Serve until interrupted (uvicorn handles Ctrl-C and stops cleanly)."""
        try:
            self.server.run(sockets=[self.socket])
        finally:
            self.socket.close()

    def start(self) -> None:
        """Serve from a background thread; returns once the server accepts requests."""
        self._thread = threading.Thread(target=self.run, name="review-server", daemon=True)
        self._thread.start()
        while not self.server.started and self._thread.is_alive():
            threading.Event().wait(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join()


def serve(out: Path, *, host: str, port: int, anonymous: bool, echo=ECHO) -> None:
    """Print the page's URL (one line, never wrapped; a warning first when it is shared beyond this machine),
    then serve until Ctrl-C."""
    server = ReviewServer(out, host=host, port=port, anonymous=anonymous)
    if server.shared:
        echo(SHARED_WARNING)
    echo(f"review page: {server.url}")
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn stops cleanly, then re-raises the Ctrl-C it caught: the normal end
        pass


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot serve the review page on {host}:{port}: {exc.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock
