"""Limits hold for the whole submission: each test starts its own kernel and pushes one limit over."""

from __future__ import annotations

import pytest

from grader.assignment.spec import Limits
from grader.sandbox.bubblewrap import BubblewrapLauncher

pytestmark = pytest.mark.slow  # real kernels


def test_memory_cap_stops_a_3gb_allocation(fresh_kernel, launcher):
    kernel = fresh_kernel(Limits(memory_mb=1024))
    result = kernel.run("x = bytearray(3 << 30)\nprint('allocated')")
    assert "allocated" not in result.stdout
    assert result.status == "dead" or result.ename == "MemoryError"
    if result.status == "dead" and launcher.cgroup_support.usable:
        assert launcher.oom_killed(kernel.slot)  # recorded, so the pipeline can say why it died


def test_memory_cap_covers_child_processes_together(fresh_kernel, launcher):
    if not launcher.cgroup_support.usable:
        pytest.skip("no cgroup: memory is capped per process only")
    kernel = fresh_kernel(Limits(memory_mb=1024))
    code = (
        "import subprocess, sys\n"
        "hog = 'import time; x = bytearray(400 << 20); time.sleep(30)'\n"
        "procs = [subprocess.Popen([sys.executable, '-c', hog]) for _ in range(4)]\n"
        "import time; time.sleep(4)\n"
        "print(sum(p.poll() is None for p in procs))"
    )
    result = kernel.run(code)
    # 4 x 400 MB do not fit in 1024 MB together: the OOM killer ends some (or the kernel itself).
    assert result.status == "dead" or int(result.stdout.split()[-1]) < 4


def test_process_limit_stops_a_spawn_of_300(fresh_kernel):
    kernel = fresh_kernel(Limits(max_processes=64))
    result = kernel.run(
        "import subprocess\nprocs = []\n"
        "try:\n"
        "    for _ in range(300):\n        procs.append(subprocess.Popen(['sleep', '60']))\n"
        "except OSError as e:\n    print('stopped', e.errno)\n"
        "for p in procs:\n    p.kill(); p.wait()\n"
        "print(len(procs))"
    )
    assert result.status == "ok", result
    assert "stopped 11" in result.stdout  # EAGAIN
    assert int(result.stdout.split()[-1]) < 64


def test_file_size_limit_stops_a_large_write(fresh_kernel):
    kernel = fresh_kernel(Limits(file_size_mb=1))
    result = kernel.run(
        "open('small.bin', 'wb').write(b'x' * (512 << 10))\n"
        "try:\n    open('big.bin', 'wb').write(b'x' * (2 << 20)); print('wrote')\n"
        "except OSError as e:\n    print(e.errno)"
    )
    assert result.stdout.split() == ["27"]  # EFBIG: a Python kernel ignores SIGXFSZ
    assert (kernel.run_dir.work / "small.bin").stat().st_size == 512 << 10
    assert (kernel.run_dir.work / "big.bin").stat().st_size <= 1 << 20


def test_without_a_cgroup_memory_falls_back_to_rlimit_as_with_a_notice(launcher, fresh_kernel):
    plain = BubblewrapLauncher(uid_base=launcher.uid_base, cgroup_parent="/no-such-cgroup-for-grader-tests")
    assert not plain.cgroup_support.usable and "RLIMIT_AS" in plain.notices[0]
    kernel = fresh_kernel(Limits(memory_mb=2048), other_launcher=plain, slot=3)
    result = kernel.run("try:\n    x = bytearray(3 << 30)\nexcept MemoryError:\n    print('MemoryError')")
    assert result.stdout.strip() == "MemoryError"  # per process, and the kernel survives
