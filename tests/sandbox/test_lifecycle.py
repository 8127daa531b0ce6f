"""Starting, interrupting and cleaning up sandboxed kernels."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from grader.assignment.spec import Limits
from grader.errors import SandboxUnavailable
from grader.sandbox.bubblewrap import BubblewrapLauncher, isolation_report
from grader.sandbox.launcher import RunDir
from grader.sandbox.uids import uid_pids as _uid_pids
from tests.helpers import wait_for

pytestmark = pytest.mark.slow  # real kernels


def test_interrupt_stops_a_busy_loop_and_the_kernel_survives(fresh_kernel):
    kernel = fresh_kernel()
    msg_id = kernel.submit("print('looping', flush=True)\nwhile True:\n    pass")
    kernel.wait_for_output(msg_id, "looping")
    kernel.interrupt()
    assert kernel.wait(msg_id, timeout=20).ename == "KeyboardInterrupt"
    assert kernel.run("print(6 * 7)").stdout.strip() == "42"


def test_setsid_escapees_are_gone_after_shutdown(fresh_kernel, launcher):
    kernel = fresh_kernel()
    kernel.run(
        "import os, subprocess\n"
        "subprocess.Popen(['setsid', 'sleep', '300'], start_new_session=True)\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n        os.execvp('sleep', ['sleep', '301'])\n"
        "    os._exit(0)\n"
    )
    uid = launcher.uid(kernel.slot)
    assert len(_uid_pids(uid)) >= 3  # the kernel and two escapees
    kernel.stop()
    assert _uid_pids(uid) == []


def test_after_kernel_kills_a_running_kernel_and_removes_its_cgroup(fresh_kernel, launcher):
    kernel = fresh_kernel()
    kernel.run("import subprocess\nsubprocess.Popen(['sleep', '300'])")
    uid = launcher.uid(kernel.slot)
    support = launcher.cgroup_support
    folders = [parent / f"grader-sandbox-{uid}" for parent in (support.memory, support.pids) if parent]
    assert all(folder.is_dir() for folder in folders)
    launcher.after_kernel(kernel.run_dir, kernel.slot)
    assert _uid_pids(uid) == []
    assert not any(folder.exists() for folder in folders)


def test_two_graders_on_one_machine_never_share_a_uid(launcher, asset_dir, tmp_path):
    other = BubblewrapLauncher(uid_base=launcher.uid_base)
    run, other_run = RunDir(tmp_path / "run").create(), RunDir(tmp_path / "other").create()
    launcher.kernel_manager(run, Limits(), 5)
    try:
        other.kernel_manager(other_run, Limits(), 5)
        try:
            assert other.uid(5) != launcher.uid(5) and other.uid(5) >= launcher.uid_base + 1024
        finally:
            other.after_kernel(other_run, 5)
    finally:
        launcher.after_kernel(run, 5)
    assert other.uid(5) == other.uid_base + 5  # released: the next kernel prefers its own uid again


def test_unregistered_asset_is_refused(launcher, tmp_path):
    with pytest.raises(SandboxUnavailable, match="not registered"):
        launcher.asset_path("other-model", tmp_path)


def test_asset_must_be_readable_by_the_sandbox_uid(tmp_path):
    private = tmp_path / "private-model"
    private.mkdir(mode=0o700)
    with pytest.raises(ValueError, match="o\\+rX"):
        BubblewrapLauncher(assets={"model": private})


def test_isolation_report_names_every_feature():
    features = [row[0] for row in isolation_report()]
    assert features == [
        "bubblewrap sandbox",
        "bwrap",
        "running as root",
        "cgroup memory+pids",
        "user namespaces inside",
    ]


def test_interrupt_reaches_the_kernels_child_processes(fresh_kernel):
    kernel = fresh_kernel()
    msg_id = kernel.submit(
        "import subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print('started', flush=True)\n"
        "child.wait()"
    )
    kernel.wait_for_output(msg_id, "started")
    kernel.interrupt()
    assert kernel.wait(msg_id, timeout=20).ename == "KeyboardInterrupt"
    assert kernel.value("child.wait(timeout=5)") != 0  # the child got SIGINT too, as under a terminal


def test_sigint_to_the_wrapper_process_group_does_not_kill_the_sandbox(fresh_kernel):
    kernel = fresh_kernel()
    group = os.getpgid(kernel.km.provisioner.pid)
    kernel.loop.run_until_complete(kernel.km.provisioner.send_signal(signal.SIGINT))  # jupyter's default way
    assert wait_for(lambda: not signal_pending(group, signal.SIGINT), 10)  # delivered to every process
    assert kernel.value("6 * 7") == 42


def signal_pending(group: int, signum: int) -> bool:
    """Whether a process of process group ``group`` still has ``signum`` pending (not yet delivered)."""
    bit = 1 << (signum - 1)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[2]) != group:
                continue
            status = dict(line.split(":\t", 1) for line in (stat.parent / "status").read_text().splitlines())
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        if any(int(status.get(mask, "0"), 16) & bit for mask in ("SigPnd", "ShdPnd")):
            return True
    return False


def test_leftovers_of_a_slot_uid_are_killed_before_its_next_kernel(launcher, tmp_path):
    """What a killed grader left running as a slot uid (e.g. after kill -9) is gone when the slot is reused."""
    import subprocess

    from grader.sandbox.uids import drop_to as _drop_to

    uid = launcher.uid(6)
    leftover = subprocess.Popen([*_drop_to(uid), "sleep", "300"])
    try:
        run = RunDir(tmp_path / "run").create()
        launcher.kernel_manager(run, Limits(), 6)
        launcher.after_kernel(run, 6)
        assert leftover.wait(timeout=5) == -9
    finally:
        leftover.kill()
