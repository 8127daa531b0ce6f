"""The fork server ("zygote"): imports torch once, then forks a freshly sandboxed Jupyter kernel per submission.

Started by :class:`grader.sandbox.zygote.launcher.ZygoteLauncher` as ``python -m grader.sandbox.zygote.server FD``
(root, the host's namespaces, one thread per numeric library set in its environment before any import). FD is its
end of a socket pair (:mod:`grader.sandbox.zygote.protocol`).

    grader --config--> zygote: imports the preload list, builds the template mount namespace, loads the model
                       folders once there (:func:`~grader.sandbox.zygote.warmup.warm_up`), "ready"
    grader --spawn---> zygote --fork--> monitor --fork--> init --fork--> kernel  (:mod:`grader.sandbox.zygote.child`)

The template mount namespace is made once by bubblewrap from :func:`grader.sandbox.filesystem.filesystem_args`,
so a zygote kernel sees exactly the filesystem a plain sandboxed kernel sees.

subtle: everything the zygote holds is inherited by every kernel (its memory is readable from student code),
so it holds no secret: requests carry paths, the uid, limits and the kernel's environment, never the
connection key (the kernel reads its connection file itself). It never runs torch compute or starts a thread
(an OpenMP pool made before fork hangs the child's first parallel op), and each kernel reseeds every RNG. The
model folders it warms up are the assets every kernel has read-only anyway.
"""

from __future__ import annotations

import importlib
import os
import select
import signal
import socket
import subprocess
import sys
import time

from grader.common.settings import TIMEOUTS
from grader.sandbox import linux
from grader.sandbox.zygote.child import monitor, report
from grader.sandbox.zygote.protocol import SpawnError, receive, send
from grader.sandbox.zygote.warmup import warm_up

ALWAYS_PRELOAD = (  # what every kernel imports: the harness (torch, safetensors) and ipykernel itself
    "torch",
    "safetensors.torch",
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.zmqshell",
    "IPython.core.interactiveshell",
    "ipykernel.debugger",  # imported by every kernel's start (debugpy: about 70 ms)
    "IPython.core.debugger",
    # the rest of what a kernel imported after the fork (its sys.modules against the zygote's): about 6 ms
    "IPython.core.completerlib",
    "IPython.core.logger",
    "IPython.core.oinspect",
    "IPython.extensions.storemagic",
    "IPython.utils.wildcard",
    "sqlite3",
    "tornado.platform.asyncio",
)


def main(argv: list[str]) -> int:
    sock = socket.socket(fileno=int(argv[0]))
    config, _ = receive(sock)
    try:
        started = time.perf_counter()
        loaded = preload([*ALWAYS_PRELOAD, *config.get("preload", [])])
        namespace = template_namespace(config["template"])
        warm_up_errors = warm_up(config.get("models", []), namespace)
        assert_single_thread("the zygote before serving")
    except Exception as exc:
        send(sock, {"error": f"{type(exc).__name__}: {exc}"})
        return 1
    # Kernels killed together with their monitor are orphans: they come back to the zygote, which reaps
    # them (and its monitors) at once by ignoring SIGCHLD, so no zombie of a slot uid outlives its kernel.
    linux.prctl(linux.PR_SET_CHILD_SUBREAPER, 1)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    seconds = round(time.perf_counter() - started, 3)
    send(sock, {"ready": True, "preloaded": loaded, "warm_up_errors": warm_up_errors, "seconds": seconds})
    serve(sock, namespace)
    return 0


def preload(modules: list[str]) -> list[str]:
    """Import each module (skipping ones that are not installed); refuse one that starts a thread."""
    loaded = []
    for name in dict.fromkeys(modules):
        try:
            importlib.import_module(name)
        except ImportError:
            continue
        assert_single_thread(f"after importing {name}")
        loaded.append(name)
    return loaded


def assert_single_thread(when: str) -> None:
    threads = len(os.listdir("/proc/self/task"))
    if threads != 1:
        raise RuntimeError(f"{threads} threads {when}: forking would copy a half-held lock into every kernel")


def template_namespace(bwrap_args: list[str]) -> int:
    """An fd of the mount namespace bubblewrap builds from ``bwrap_args`` (the sandbox's filesystem)."""
    shell = subprocess.Popen(
        [*bwrap_args, "--", "/bin/sh", "-c", "echo $$; exec cat"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        pid = shell.stdout.readline().strip()  # printed once the namespace is complete
        if not pid.isdigit():
            raise SpawnError(f"bubblewrap could not build the sandbox filesystem: {shell.stderr.read(2000)!r}")
        return os.open(f"/proc/{int(pid)}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        shell.stdin.close()
        shell.wait(TIMEOUTS.zygote_template_exit_s)
        shell.stdout.close()
        shell.stderr.close()


def serve(sock: socket.socket, namespace: int) -> None:
    """Answer spawn requests one at a time until the grader closes its end."""
    while True:
        try:
            request, _ = receive(sock)
        except EOFError:
            return
        try:
            pid, pidfd = spawn(request, namespace, sock)
        except Exception as exc:
            send(sock, {"error": f"{type(exc).__name__}: {exc}"})
            continue
        send(sock, {"pid": pid}, [pidfd])
        os.close(pidfd)


def spawn(request: dict, namespace: int, sock: socket.socket) -> tuple[int, int]:
    """Fork a sandboxed kernel for ``request``: (host pid of its monitor, a pidfd of it)."""
    status_read, status_write = os.pipe()
    zygote = os.getpid()
    pid = os.fork()
    if pid == 0:  # the monitor; never returns
        os.close(status_read)
        try:
            sock.detach()
            monitor(request, namespace, status_write, zygote)
        except BaseException as exc:
            report(status_write, exc)
        os._exit(1)
    os.close(status_write)
    pidfd = os.pidfd_open(pid)
    try:
        status = _read_status(status_read)
    finally:
        os.close(status_read)
    if status != "ok":
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        os.close(pidfd)
        raise SpawnError(status or "the kernel process exited during set-up")
    return pid, pidfd


def _read_status(fd: int) -> str:
    chunks, deadline = [], time.monotonic() + TIMEOUTS.zygote_kernel_ready_s
    while (left := deadline - time.monotonic()) > 0 and select.select([fd], [], [], left)[0]:
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")[:2000] if chunks or left > 0 else "set-up timed out"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
