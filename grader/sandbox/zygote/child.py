"""What the zygote's fork of a kernel runs: the monitor, the sandbox's pid 1, and the kernel itself.

    zygote --fork--> monitor (root: own session, joins the slot cgroup, enters a copy of the template mount
                     namespace, new pid/net/ipc/uts/cgroup namespaces)
                       --fork--> init (pid 1 there: mounts, limits, slot uid; reaps)
                                   --fork--> kernel (IPKernelApp)

Each kernel only mounts its own work and ipc folders, passwd and group (cloned from the host with
``open_tree``), and a fresh /proc, /tmp, /dev/shm and /dev/pts on a private copy of the template.
Everything here runs in a forked child and ends in ``os._exit`` or ``exec``; failures are reported on the
status pipe the zygote reads (:func:`report`).
"""

from __future__ import annotations

import os
import re
import resource
import signal
import sys

from grader.sandbox import linux

NAMESPACES = (
    linux.CLONE_NEWNS
    | linux.CLONE_NEWPID
    | linux.CLONE_NEWNET
    | linux.CLONE_NEWIPC
    | linux.CLONE_NEWUTS
    | linux.CLONE_NEWCGROUP
)
# Pid 1 of a submission after it forked the kernel: reaps orphans, exits with the kernel.
REAPER = """
import os, sys
kernel = int(sys.argv[1])
while True:
    pid, status = os.wait()
    if pid == kernel:
        os._exit(min(abs(os.waitstatus_to_exitcode(status)), 255))
"""
BIND_FLAGS = linux.MS_REMOUNT | linux.MS_BIND | linux.MS_NOSUID | linux.MS_NODEV


def report(fd: int, exc: BaseException) -> None:
    """Tell the zygote, on the status pipe, which set-up step failed."""
    try:
        os.write(fd, f"kernel set-up failed: {type(exc).__name__}: {exc}".encode())
    except OSError:
        pass


def monitor(request: dict, namespace: int, status: int, zygote: int) -> None:
    """Root, host pid namespace: the process jupyter_client signals. Its child is the kernel."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the zygote's SIG_IGN would follow into student code
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # an interrupt is for the kernel (same process group)
    os.setsid()
    linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != zygote:  # the zygote died before PDEATHSIG was armed
        os._exit(1)
    _close_fds_except(status, namespace)  # above all the zygote's socket: a kernel must not reach the grader
    for procs in request["cgroup_procs"]:
        with open(procs, "w") as file:
            file.write(str(os.getpid()))
    trees = {target: linux.clone_tree(source) for target, source in request["mounts"].items()}
    linux.setns(namespace, linux.CLONE_NEWNS)
    os.close(namespace)
    linux.unshare(NAMESPACES)
    init = os.fork()
    if init == 0:
        try:
            _init(request, trees, status)
        except BaseException as exc:
            report(status, exc)
        os._exit(1)
    for fd in (*trees.values(), status):
        os.close(fd)
    signal.signal(signal.SIGTERM, lambda *_: os.kill(init, signal.SIGKILL))  # pid 1 ignores SIGTERM
    signal.signal(signal.SIGHUP, lambda *_: os.kill(init, signal.SIGKILL))
    _, code = os.waitpid(init, 0)
    os._exit(_exit_code(code))


def _exit_code(wait_status: int) -> int:
    return min(abs(os.waitstatus_to_exitcode(wait_status)), 255)


def _close_fds_except(*keep: int) -> None:
    previous = 2
    for fd in sorted(keep):
        os.closerange(previous + 1, fd)
        previous = fd
    os.closerange(previous + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def _init(request: dict, trees: dict[str, int], status: int) -> None:
    """Pid 1 of the new pid namespace: sets the sandbox up as root, drops to the slot uid, forks the kernel and
    reaps orphans until it exits (as bubblewrap's pid 1). Killing it ends every process of the submission."""
    linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
    _mount(request, trees)
    linux.sethostname("sandbox")
    linux.loopback_up()
    for name, (soft, hard) in request["rlimits"].items():
        resource.setrlimit(getattr(resource, f"RLIMIT_{name.upper()}"), (soft, hard))
    uid = request["uid"]
    linux.drop_bounding_set()
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)  # from root to a non-root uid: every capability is gone
    linux.drop_capabilities()  # the inheritable set survives a uid change
    linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
    linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)  # a uid change clears it
    linux.prctl(linux.PR_SET_DUMPABLE, 1)  # and makes /proc/self root's: the uid's own process, as after exec
    if request["block_user_namespaces"]:
        _block_user_namespaces(uid)
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    kernel = os.fork()
    if kernel == 0:
        try:
            _kernel(request, status)
        except BaseException as exc:
            report(status, exc)
        os._exit(1)
    os.close(status)
    # subtle: a fresh small interpreter, not this fork of the zygote, whose copied heap would count again in
    # the memory the slot uid holds as seen from the host.
    os.execv(sys.executable, [sys.executable, "-I", "-S", "-c", REAPER, str(kernel)])


def _kernel(request: dict, status: int) -> None:
    """The Jupyter kernel: a fresh process state, the kernel's environment, then ``IPKernelApp``."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    _fresh_process_state()
    os.write(status, b"ok")
    os.close(status)
    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    app.initialize(["-f", request["connection_file"], "--HistoryManager.hist_file=:memory:"])
    app.start()
    os._exit(0)


def _mount(request: dict, trees: dict[str, int]) -> None:
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
    for target, tree in trees.items():
        linux.attach_tree(tree, target)
        os.close(tree)
        linux.mount(None, target, None, BIND_FLAGS | (linux.MS_RDONLY if target.startswith("/etc/") else 0))
    linux.umount("/proc", linux.MNT_DETACH)  # the template's shows the host's processes
    linux.mount("proc", "/proc", "proc", linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC)
    _fresh_tmpfs("/tmp", request["tmp_bytes"])
    _fresh_tmpfs("/dev/shm", request["shm_bytes"])
    linux.mount("devpts", "/dev/pts", "devpts", linux.MS_NOSUID | linux.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620")


def _fresh_tmpfs(path: str, size: int) -> None:
    """A private tmpfs at ``path`` that keeps the mounts below it (e.g. a venv under /tmp, bound by the template).

    subtle: a plain mount on top would hide them, and the interpreter's own files with them.
    """
    below = [point for point in _mount_points() if point.startswith(path + "/")]
    tops = [point for point in below if not any(point.startswith(other + "/") for other in below)]
    trees = {point: linux.clone_tree(point) for point in tops}
    linux.mount("tmpfs", path, "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, f"size={size},mode=1777")
    for point, tree in trees.items():
        os.makedirs(point, mode=0o755, exist_ok=True)
        linux.attach_tree(tree, point)
        os.close(tree)


def _mount_points() -> list[str]:
    """This mount namespace's mount points (field 5 of /proc/self/mountinfo, octal escapes decoded)."""
    with open("/proc/self/mountinfo", "rb") as file:
        points = [line.split()[4] for line in file]
    return [re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m[1], 8)]), point).decode() for point in points]


def _block_user_namespaces(uid: int) -> None:
    """Two nested user namespaces, the outer one allowing only one: no further one can be made (as bubblewrap's
    ``--disable-userns``). The uid stays ``uid`` inside; no capability is left in either."""
    for depth in (0, 1):
        linux.unshare(linux.CLONE_NEWUSER)
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{uid} {uid} 1")):
            with open(f"/proc/self/{name}", "w") as file:
                file.write(text)
        if depth == 0:
            with open("/proc/sys/user/max_user_namespaces", "w") as file:
                file.write("1")
    linux.drop_bounding_set()  # a new user namespace comes with every capability, bounding set included
    linux.drop_capabilities()


def _fresh_process_state() -> None:
    """What fork copied but must differ per kernel: RNG states, torch's thread settings."""
    import random

    random.seed()
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.seed()
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        numpy_random.seed()
