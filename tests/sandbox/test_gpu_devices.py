"""An assignment that needs a GPU (``[limits] gpu = true``): its sandboxed kernels see the host's GPU device files
and the variables that choose GPUs (``CUDA_VISIBLE_DEVICES``, ...); every other kernel sees neither.

No GPU here: a character device this machine has, and the sandbox's fresh /dev has not, stands in for
``/dev/nvidia*`` (:data:`grader.sandbox.filesystem.GPU_DEVICES`). CUDA in a sandboxed kernel is not tested.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader.assignment.spec import Limits
from grader.sandbox import filesystem
from grader.sandbox.launcher import RunDir
from tests.sandbox.helpers import FRESH_SLOT, LAUNCHERS, Kernel, make_launcher

pytestmark = pytest.mark.slow
STAND_INS = ("/dev/fuse", "/dev/net/tun", "/dev/kvm", "/dev/loop-control")
STAND_IN = next((path for path in STAND_INS if Path(path).is_char_device()), None)


@pytest.fixture(params=list(LAUNCHERS))
def kind(request) -> str:
    return request.param


@pytest.mark.skipif(STAND_IN is None, reason=f"none of {STAND_INS} on this machine")
@pytest.mark.parametrize("gpu", [True, False])
def test_only_a_gpu_assignments_kernels_see_the_gpu_devices_and_variables(kind, gpu, monkeypatch, tmp_path):
    monkeypatch.setattr(filesystem, "GPU_DEVICES", ("/dev/no-such-gpu*", STAND_IN))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    launcher = make_launcher(kind, gpu=gpu, uid_base=64000 + 16 * (os.getpid() % 32))
    kernel = Kernel(launcher, RunDir(tmp_path / "run").create(), Limits(), FRESH_SLOT)
    try:
        kernel.start()
        seen = kernel.value(
            f"[os.path.exists({STAND_IN!r}) and stat.S_ISCHR(os.stat({STAND_IN!r}).st_mode), "
            "os.environ.get('CUDA_VISIBLE_DEVICES'), sorted(os.listdir('/dev'))]",
            setup="import os, stat",
        )
    finally:
        kernel.stop()
        launcher.close()

    device, variable, dev = seen
    assert device is gpu and variable == ("3" if gpu else None)
    assert {"null", "urandom", "shm"} <= set(dev)  # still the sandbox's own /dev, not the host's
    assert "sda" not in dev and "vda" not in dev
