"""The filesystem a sandboxed kernel sees, defined once as bubblewrap arguments.

The plain sandbox (:mod:`grader.sandbox.bubblewrap`) passes them to each kernel's bwrap; the zygote
(:mod:`grader.sandbox.zygote.server`) has bwrap build them once as a template mount namespace and then mounts only each
kernel's own folders. Inside: /usr (and the merged-/usr links), a few /etc files plus a synthetic passwd,
group and hosts, the Python prefix and venv and the assets read-only, the work folder at :data:`WORK_DIR`,
the ipc folder, a fresh /proc and /dev, size-capped private /tmp and /dev/shm; nothing else of the host. An
assignment that needs a GPU (``[limits] gpu = true``) also gets the host's GPU device files (:func:`gpu_devices`).
"""

from __future__ import annotations

import glob
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

WORK_DIR = "/submission"  # run.work inside the sandbox: the kernel's cwd and HOME
ASSETS_DIR = "/assets"  # asset <name> is at /assets/<name>, read-only
IPC_DIR = "/ipc"  # run.ipc inside a zygote kernel (a bwrap kernel sees it at its host path)
TMP_MB, SHM_MB = 256, 64  # private tmpfs sizes (their pages also count against the memory cgroup)
ETC_FILES = ("ld.so.cache", "localtime", "nsswitch.conf", "mime.types", "os-release")
ANYONE = 65534  # the template's passwd/group owner (nobody); each zygote kernel mounts its own
# NVIDIA's device files (nvidia0.., nvidiactl, nvidia-uvm, ...) and the DRM nodes; CUDA reads /proc/driver/nvidia,
# which the sandbox's fresh /proc has, and the driver's libraries under /usr
GPU_DEVICES = ("/dev/nvidia*", "/dev/dri")


def filesystem_args(
    assets: Mapping[str, Path],
    etc: Path,
    work: Path | None = None,
    ipc: Path | None = None,
    devices: Sequence[str] = (),
) -> list[str]:
    """bwrap's arguments for the filesystem a kernel sees (the one definition of it, see the module doc).

    ``etc`` holds the synthetic passwd, group and hosts (:func:`write_etc`); ``assets`` are bound read-only at
    ``/assets/<name>``. Without ``work``/``ipc``, :data:`WORK_DIR` and
    :data:`IPC_DIR` are empty mount points (the zygote's template, see :mod:`grader.sandbox.zygote.server`).
    ``devices`` (host device files, :func:`gpu_devices`) appear at the same paths in the fresh /dev.
    """
    ro = {Path(p) for p in {sys.prefix, sys.base_prefix} if not Path(p).is_relative_to("/usr")}
    binds = [("--ro-bind", str(p), str(p)) for p in sorted(ro)]
    binds += [("--ro-bind", str(p), f"{ASSETS_DIR}/{n}") for n, p in sorted(assets.items())]
    binds += [("--bind", str(work), WORK_DIR)] if work is not None else [("--dir", WORK_DIR)]
    binds += [("--bind", str(ipc), str(ipc))] if ipc is not None else [("--dir", IPC_DIR)]
    return [
        "--ro-bind",
        "/usr",
        "/usr",
        *_usr_merge_links(),
        *[a for f in ETC_FILES for a in ("--ro-bind-try", f"/etc/{f}", f"/etc/{f}")],
        *[a for f in ("passwd", "group", "hosts") for a in ("--ro-bind", str(etc / f), f"/etc/{f}")],
        "--ro-bind-try",
        "/sys/devices/system/cpu",
        "/sys/devices/system/cpu",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        *[a for device in devices for a in ("--dev-bind", device, device)],
        "--size",
        str(TMP_MB << 20),
        "--tmpfs",
        "/tmp",
        "--size",
        str(SHM_MB << 20),
        "--tmpfs",
        "/dev/shm",
        *[a for bind in binds for a in bind],
        *[a for d in _mount_parents([b[-1] for b in binds]) for a in ("--chmod", "0755", d)],
        "--chmod",
        "0755",
        "/etc",
        "--chmod",
        "1777",
        "/tmp",
        "--chmod",
        "1777",
        "/dev/shm",
        "--remount-ro",
        "/",
    ]


def gpu_devices() -> list[str]:
    """The host's GPU device files (:data:`GPU_DEVICES`) that exist, for a kernel that needs a GPU."""
    return sorted({path for pattern in GPU_DEVICES for path in glob.glob(pattern)})


def write_etc(folder: Path, uid: int) -> Path:
    """The synthetic passwd, group and hosts the sandbox sees, for a kernel running as ``uid``."""
    folder.mkdir(mode=0o755, exist_ok=True)
    (folder / "passwd").write_text(f"student:x:{uid}:{uid}:student:{WORK_DIR}:/bin/sh\n")
    (folder / "group").write_text(f"student:x:{uid}:\n")
    (folder / "hosts").write_text("127.0.0.1\tlocalhost sandbox\n::1\tlocalhost\n")
    return folder


def _usr_merge_links() -> list[str]:
    """/bin, /lib, ... as on the host: symlinks into /usr (merged /usr) or read-only binds."""
    args = []
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = Path("/") / name
        if host.is_symlink():
            args += ["--symlink", os.readlink(host), str(host)]
        elif host.is_dir():
            args += ["--ro-bind", str(host), str(host)]
    return args


def _mount_parents(destinations: list[str]) -> list[str]:
    """The folders bwrap creates (mode 0700, as root) to hold the mount points; the kernel must traverse them.

    subtle: never a folder inside a bind, or the chmod would change the host's folder.
    """
    dests = [PurePosixPath(d) for d in destinations]
    parents: set[PurePosixPath] = set()
    for dest in dests:
        for parent in dest.parents:
            if any(parent == d or parent.is_relative_to(d) for d in dests):
                raise ValueError(f"sandbox mount {dest} lies inside another mount {parent}")
            if parent != PurePosixPath("/"):
                parents.add(parent)
    return [str(p) for p in sorted(parents)]
