"""The host side of calling a student's function: write inputs, run the call in the kernel, read the result.

The kernel side is :mod:`grader.boundary.kernel_side`; both sides speak :mod:`grader.boundary.wire`. Inputs go in as
files the host wrote; the result comes back as files the host reads with :func:`grader.boundary.safeio.read_untrusted`
(no symlinks, regular files only, size-capped) and decodes strictly. Anything odd is the submission's
error, reported as a :class:`CallOutcome` and never raised.
"""

from __future__ import annotations

import functools
import os
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import torch

from grader.boundary import kernel_side, wire
from grader.boundary.safeio import UnsafeFile, read_untrusted
from grader.common.text import clip

HARNESS_NAME = "__grader_harness__"


# What the harness in the kernel writes as a call's status (grader/boundary/kernel_side.py), and what the host adds:
# a result it could not read, a call stopped by its time limit, a kernel that died during it.
KernelStatus = Literal["ok", "missing", "not_callable", "exception", "too_large", "unencodable", "interrupted"]
CallStatus = KernelStatus | Literal["invalid_output", "timeout", "dead", "not_run"]
KERNEL_STATUSES: frozenset[str] = frozenset(get_args(KernelStatus))


@dataclass
class CallOutcome:
    """``status`` is ``ok`` (``value`` holds the return value) or why not, with a ``message``."""

    status: CallStatus
    value: object = None
    message: str = ""
    observed: dict | None = None  # what recording inputs saw during the call (e.g. the texts tokenized)


@functools.cache
def _sources() -> tuple[str, ...]:
    """The harness's code, read once per process: a grader upgraded during a batch keeps sending the code it
    started with (the host side it pairs with is already imported)."""
    return (Path(wire.__file__).read_text(), Path(kernel_side.__file__).read_text())


def install_source(assets: dict[str, str], max_bytes: int) -> str:
    """Code that defines the harness in the kernel as ``__grader_harness__`` (wire + kernel_side, one namespace)."""
    return (
        "def __grader_install(sources, assets, max_bytes):\n"
        "    import sys, types\n"
        "    module = types.ModuleType('__grader_harness_module__')\n"
        "    sys.modules[module.__name__] = module  # dataclasses look their module up\n"
        "    for i, src in enumerate(sources):\n"
        "        exec(compile(src, f'<grader-harness-{i}>', 'exec'), module.__dict__)\n"
        "    return module.Harness(assets, get_ipython().user_ns, max_bytes)\n"
        f"{HARNESS_NAME} = __grader_install({list(_sources())!r}, {assets!r}, {max_bytes!r})\n"
        "del __grader_install\n"
    )


def harness_module() -> types.ModuleType:
    """The same harness built in this process, for the in-notebook self-check (same code as in the kernel)."""
    module = types.ModuleType("__grader_harness_module__")
    sys.modules[module.__name__] = module
    for i, src in enumerate(_sources()):
        exec(compile(src, f"<grader-harness-{i}>", "exec"), module.__dict__)
    return module


def calls_source(calls: list[tuple[str, str, int]]) -> str:
    """The kernel code making each ``(function, folder, repeat)`` call in order (see
    :mod:`grader.boundary.kernel_side`)."""
    return f"{HARNESS_NAME}.call_many({calls!r})"


def write_inputs(folder: Path, kwargs: dict) -> None:
    """Write the keyword arguments of one call into ``folder``, created fresh in a grader-owned parent.

    The folder is writable by everyone because the kernel (another uid in the sandbox) writes its result
    there; only the sandbox can see it, and the host reads results without following links.
    """
    folder.mkdir(exist_ok=False)  # no parents=True: never create folders through a planted symlink
    json_bytes, tensor_bytes = wire.dumps(kwargs)
    (folder / "in.json").write_bytes(json_bytes)
    (folder / "in.safetensors").write_bytes(tensor_bytes)
    folder.chmod(0o777)


def mark_skipped(folder: Path) -> None:
    """Tell the harness not to make the call of ``folder`` (its function already timed out twice).

    Only saves time: whatever the kernel then writes there, the host records the call as not run."""
    try:
        os.close(os.open(folder / "skip", os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644))
    except OSError:
        pass  # the kernel made it first, or a symlink: the host decides the outcome anyway


def read_outcome(folder: Path, max_bytes: int, repeat: int = 1) -> CallOutcome:
    """Read and validate what the harness wrote for a call made ``repeat`` times; every problem becomes a failed
    :class:`CallOutcome`. A repeated call's results must be exactly ``repeat`` values (a forged result of
    millions of empty rows costs its 72 bytes of data, not millions of tensors)."""
    try:
        json_bytes = read_untrusted(folder / "out.json", 1 << 20)
        tensor_bytes = read_untrusted(folder / "out.safetensors", max_bytes)
        result = wire.loads(json_bytes, tensor_bytes)
    except (UnsafeFile, wire.WireError) as exc:
        return CallOutcome("invalid_output", message=f"the call's result could not be read: {exc}")
    if not isinstance(result, dict) or not isinstance(result.get("status"), str):
        return CallOutcome("invalid_output", message="the call's result is malformed")
    status = result["status"] if result["status"] in KERNEL_STATUSES else "invalid_output"  # e.g. a forged one
    if result["status"] == "ok":
        return _ok_outcome(result, repeat)
    message = result.get("message")
    return CallOutcome(status, message=clip(message) if isinstance(message, str) else "(no message)")


def _ok_outcome(result: dict, repeat: int) -> CallOutcome:
    observed = result.get("observed")
    value = result.get("value")
    if "stacked" in result:  # a repeated call's results sent as one tensor (see grader.boundary.kernel_side)
        stacked = result["stacked"]
        if repeat == 1 or not isinstance(stacked, torch.Tensor) or stacked.dim() == 0:
            return CallOutcome("invalid_output", message="the call's result is malformed")
        if stacked.shape[0] != repeat:
            return CallOutcome("invalid_output", message=f"{stacked.shape[0]} results for {repeat} draws")
        value = list(stacked.unbind(0))
    elif repeat > 1 and not (isinstance(value, list) and len(value) == repeat):
        return CallOutcome("invalid_output", message=f"the results of {repeat} draws are malformed")
    return CallOutcome("ok", value=value, observed=observed if isinstance(observed, dict) else None)
