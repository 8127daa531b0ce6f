"""Attacks on the machine's resources: memory, processes and disk. Each is capped for the whole submission
(cgroup or rlimits), leaves no process of the slot behind, and costs the attacker only its own cells."""

from __future__ import annotations

import subprocess

import pytest

from grader.sandbox.bubblewrap import WRAPPER_TASKS
from grader.sandbox.launcher import RunDir
from tests.helpers import GREEDY, SOFTMAX
from tests.sandbox.attacks.helpers import (
    FULL,
    LIMITS,
    ProcessWatch,
    grade,
    grade_kept,
    scores,
)

pytestmark = pytest.mark.slow  # real kernels in real sandboxes


# ------------------------------------------------------------------------------------------------- memory


def test_allocating_40_gb_is_stopped_and_earlier_functions_are_still_graded(plan, sandbox, tmp_path):
    hog = "chunks = []\nfor _ in range(40):\n    chunks.append(bytearray(1 << 30))  # zero-filled: used\n"
    with ProcessWatch(sandbox, 0) as watch:
        graded = grade(plan, sandbox, tmp_path, GREEDY, hog, SOFTMAX)
    result = graded.result
    print("peak anonymous resident memory of the slot uid:", watch.peak_rss_mb, "MB")
    assert watch.peak_rss_mb <= LIMITS.memory_mb + 64  # seen from the host: the rest of the machine was safe
    assert scores(result) == FULL  # the kernel was restarted, GREEDY replayed, SOFTMAX ran
    hog_cell = result.cells[1]
    if sandbox.cgroup_support.usable:  # the memory cgroup kills; the pipeline says why
        assert hog_cell.status == "dead", hog_cell
        assert f"ran out of memory (limit {LIMITS.memory_mb} MB)" in hog_cell.message
        assert any("restarted" in note for note in result.notes)
    else:  # RLIMIT_AS: the allocation fails in the kernel, which survives
        assert hog_cell.status == "error" and "MemoryError" in hog_cell.message


def test_a_single_40_gb_request_is_a_memory_error_and_the_kernel_survives(plan, sandbox, tmp_path):
    graded = grade(plan, sandbox, tmp_path, GREEDY, "import torch\nx = torch.empty(10 << 30)", SOFTMAX)
    result = graded.result
    assert scores(result) == FULL
    cell = result.cells[1]
    # Larger than the machine: refused at allocation (overcommit), or the cgroup kills the first touch.
    assert (cell.status == "error" and "memory" in cell.message.lower()) or cell.status == "dead", cell


# ---------------------------------------------------------------------------------------------- processes


def test_spawning_300_processes_is_capped_and_none_survive(plan, sandbox, tmp_path):
    spawn = (
        "import subprocess\nprocs, error = [], None\n"
        "try:\n"
        "    for _ in range(300):\n"
        "        procs.append(subprocess.Popen(['sleep', '600'], start_new_session=True))\n"
        "except OSError as e:\n    error = e.errno\n"
        "print(len(procs), error)\n"
        "assert len(procs) < 64, len(procs)\n"
    )
    with ProcessWatch(sandbox, 0) as watch:
        graded = grade(plan, sandbox, tmp_path, GREEDY, spawn, SOFTMAX, "print('still running')")
    result = graded.result
    assert scores(result) == FULL
    print("peak processes of the slot uid:", watch.peak)
    assert 40 < watch.peak <= LIMITS.max_processes + WRAPPER_TASKS, watch.peak  # seen from the host
    assert result.cells[1].status == "ok"  # the spawn stopped with EAGAIN below the cap; the assert held


def test_a_fork_bomb_is_contained_and_cleaned_up(plan, sandbox, tmp_path):
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    with ProcessWatch(sandbox, 0) as watch:
        graded = grade(plan, sandbox, tmp_path, GREEDY, bomb, SOFTMAX)
    assert scores(graded.result) == FULL
    print("peak processes of the slot uid:", watch.peak)
    assert watch.peak <= LIMITS.max_processes + WRAPPER_TASKS, watch.peak
    assert graded.result.cells[1].status in ("timeout", "dead")


# -------------------------------------------------------------------------------------------------- disk


def test_writing_gigabytes_is_capped_by_the_file_size_limit(plan, sandbox, tmp_path, monkeypatch):
    kept: list[RunDir] = []
    monkeypatch.setattr(RunDir, "remove", lambda self: kept.append(self))  # inspect the files on the host
    writer = (
        "import os\nsizes = {}\n"
        "for path in ('big.bin', '/tmp/big.bin', '/dev/shm/big.bin'):\n"
        "    try:\n"
        "        with open(path, 'wb') as f:\n"
        "            for _ in range(4 << 10):  # 4 GB in 1 MB blocks\n"
        "                f.write(b'x' * (1 << 20))\n"
        "    except OSError as e:\n        sizes[path] = (e.errno, os.path.getsize(path))\n"
        "print(sizes)\n"
        "assert sizes['big.bin'][0] == 27  # EFBIG\n"
    )
    try:
        graded = grade_kept(plan, sandbox, tmp_path, GREEDY, writer, SOFTMAX)
        assert scores(graded) == FULL and graded.cells[1].status == "ok", graded.cells
        (run,) = kept
        assert (run.work / "big.bin").stat().st_size <= LIMITS.file_size_mb << 20
        total = sum(p.stat().st_size for p in run.root.rglob("*") if p.is_file())
        assert total < 2 * (LIMITS.file_size_mb << 20)
    finally:
        for run in kept:
            subprocess.run(["rm", "-rf", "--one-file-system", str(run.root)], check=False)


def test_writing_gigabytes_in_many_files_is_capped(plan, sandbox, tmp_path, monkeypatch):
    kept: list[RunDir] = []
    remove = RunDir.remove
    monkeypatch.setattr(RunDir, "remove", lambda self: kept.append(self))
    writer = (
        "block = b'x' * (1 << 20)\n"
        "for i in range(16):  # 16 x 60 MB, each under the 64 MB file size limit\n"
        "    with open(f'part{i}.bin', 'wb') as f:\n"
        "        for _ in range(60):\n            f.write(block)\n"
    )
    try:
        graded = grade_kept(plan, sandbox, tmp_path, GREEDY, writer, SOFTMAX)
        (run,) = kept
        files = [p for p in run.work.rglob("*") if p.is_file() and run.calls not in p.parents]  # io: its own cap
        total = sum(p.stat().st_size for p in files)
        assert total <= LIMITS.disk_mb << 20, f"the submission wrote {total >> 20} MB"
        assert scores(graded) == FULL  # the honest functions still earn their points
    finally:
        for run in kept:
            remove(run)  # unmounts the size-capped folders
