"""What the attack tests share: the ``mini`` assignment's limits and scores, grading one attacker's notebook
(checking that the run completed and left nothing behind), watching a slot from the host, and the attack code
used by more than one test (stealing secrets, planting symlinks)."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
import subprocess
import threading
import time
import uuid
from pathlib import Path

from grader.assignment.spec import Limits
from grader.batch.run import write_outputs
from grader.grading.grade import grade_submission
from grader.sandbox.bubblewrap import BubblewrapLauncher
from grader.sandbox.uids import uid_pids
from tests.helpers import notebook

LIMITS = Limits(
    cell_timeout_s=6,
    call_timeout_s=6,
    memory_mb=1024,
    max_processes=64,
    file_size_mb=64,
    disk_mb=192,
    submission_timeout_s=120,
)
FULL = {"greedy_next_token": 1.0, "softmax_with_temperature": 2.0}
ONLY_GREEDY = {"greedy_next_token": 1.0, "softmax_with_temperature": 0.0}
ONLY_SOFTMAX = {"greedy_next_token": 0.0, "softmax_with_temperature": 2.0}
NOTHING = {"greedy_next_token": 0.0, "softmax_with_temperature": 0.0}
SECRET = f"ADV-SECRET-{uuid.uuid4().hex}"  # in the repo, in a tmp folder, in assignment.toml, in the env
SECRET_ENV = "GRADER_ADV_TEST_SECRET"


@dataclasses.dataclass
class Graded:
    result: object
    out: Path  # results/ and reports/ written by the batch writer


def grade(plan, launcher, tmp_path: Path, *cells: str, name: str = "attacker", slot: int = 0) -> Graded:
    """Grade a notebook of ``cells``; check the run completed and left no process and no run folder."""
    path = notebook(tmp_path / "submissions", name, *cells)
    runs = tmp_path / "runs"
    result = asyncio.run(grade_submission(plan, path, name, launcher, runs, slot))
    out = tmp_path / "out"
    write_outputs(result, out)
    describe(result)
    assert result.status == "graded", result.message
    assert result.isolation == launcher.name
    assert_no_processes(launcher, slot)
    assert not any(runs.iterdir()), "the run folder was not removed"
    return Graded(result, out)


def describe(result) -> None:
    """What happened, printed for the test's captured output (shown when it fails)."""
    print(f"{result.student_id}: {result.status} {result.score}/{result.max_score} in {result.seconds:.1f} s")
    print("  cells:", [(c.index, c.status, c.message[:100]) for c in result.cells])
    print("  tests:", [(t.name, t.kind, t.output[:100]) for t in result.tests])
    print("  notes:", result.notes)


def scores(result) -> dict[str, float]:
    return {q.name: round(q.score, 4) for q in result.questions}


def kinds(result) -> dict[str, str]:
    return {t.name: t.kind for t in result.tests}


def assert_no_processes(launcher, *slots: int) -> None:
    for slot in slots:
        uid = launcher.uid(slot)
        found = subprocess.run(["pgrep", "-u", str(uid)], capture_output=True, text=True)
        assert found.returncode == 1, f"processes of slot uid {uid} remain: {found.stdout.split()}"


def assert_not_in_files(folder: Path, *needles: str) -> None:
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert files, f"no output files under {folder}"
    for path in files:
        data = path.read_bytes()
        for needle in needles:
            assert needle.encode() not in data, f"{needle[:40]!r} leaked into {path}"


class ProcessWatch:
    """Watches a slot uid from the host while grading runs: ``peak`` is the most processes seen at once,
    ``peak_rss_mb`` the most anonymous resident memory they held together."""

    def __init__(self, launcher: BubblewrapLauncher, slot: int):
        self.launcher, self.slot, self.peak, self.peak_rss_mb = launcher, slot, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            pids = uid_pids(self.launcher.uid(self.slot))  # the slot's uid of the moment
            self.peak = max(self.peak, len(pids))
            self.peak_rss_mb = max(self.peak_rss_mb, sum(private_kb(pid) for pid in pids) >> 10)
            time.sleep(0.02)

    def __enter__(self) -> ProcessWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def private_kb(pid: int) -> int:
    """Memory written by the process itself, in KiB: what its memory cgroup is charged (shared libraries are
    in the host's page cache; a zygote kernel's heap copied at fork stays the zygote's until written)."""
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:  # gone meanwhile
        return 0
    return sum(int(line.split()[1]) for line in lines if line.startswith("Private_Dirty:"))


def rss_kb(pid: int, field: str) -> int:
    """A memory field of /proc/<pid>/status in KiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except OSError:  # gone meanwhile
        pass
    return 0


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def grade_kept(plan, launcher, tmp_path, *cells):
    path = notebook(tmp_path / "submissions", "writer", *cells)
    result = asyncio.run(grade_submission(plan, path, "writer", launcher, tmp_path / "runs", 0))
    describe(result)
    assert result.status == "graded"
    assert_no_processes(launcher, 0)
    return result


def own_rss_mb() -> int:
    return rss_kb(os.getpid(), "VmRSS:") >> 10


def peak_growth_mb(action) -> tuple[object, int]:
    """Run ``action``; return its value and the grader's peak memory growth meanwhile, in MB."""
    base, peak, stop = own_rss_mb(), [0], threading.Event()

    def watch() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], own_rss_mb())
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        value = action()
    finally:
        stop.set()
        watcher.join()
    return value, peak[0] - base


LOOT = """
import glob, os, time
loot = []
def grab(path):
    try:
        with open(path, errors="replace") as f:
            loot.append(f"{{path}}: {{f.read(4000)}}")
    except OSError as e:
        loot.append(f"{{path}}: {{type(e).__name__}}")
for path in {targets!r}:
    grab(path)
loot.append(repr(dict(os.environ)))
for environ in glob.glob("/proc/*/environ"):
    grab(environ)
deadline = time.monotonic() + 2.5
for top in ["/submission", "/tmp", "/dev/shm", "/assets", "/work", "/root", "/home", "/etc", "/run", "/var",
            "/opt", "/srv", "/mnt", "/proc/1/root", "/proc/1/cwd", "/"]:
    for root, dirs, files in os.walk(top):
        if time.monotonic() > deadline:
            break
        if root in ("/usr", "/proc", "/sys", "/dev") or "site-packages" in root:
            dirs[:] = []
            continue
        for f in files:
            if "secret" in f.lower() or f == "assignment.toml" or (f.endswith(".py") and "reference" in root):
                grab(os.path.join(root, f))
markers = ["ADV-" + "SECRET", "[[" + "questions", "Ground truth for " + "the decoding"]  # secret, spec, ref.
found = [item for item in loot if any(m in item for m in markers)]
open("loot.txt", "w").write("\\n".join(loot))
print("LOOT:", found, len(loot))
"""
STEAL = (
    "import torch\n"
    "def softmax_with_temperature(logits, temperature):\n"
    "    raise RuntimeError('LOOT: ' + repr(found)[:2000])  # the report shows the student's own message\n"
)


PLANT = """
import os, threading, time
TARGETS = {{"out.json": "/etc/shadow", "out.safetensors": {secret!r}}}
def plant_once(swap):
    for n in range(1, 40):
        folder = f"io/call-{{n}}"
        if not os.path.isdir(folder):
            continue
        for name, target in TARGETS.items():
            path = os.path.join(folder, name)
            try:
                if swap and os.path.lexists(path) and not os.path.islink(path):
                    os.unlink(path)  # replace the harness's real file after it was written
                if not os.path.lexists(path):
                    os.symlink(target, path)
            except OSError:
                pass
def planter(swap):
    while True:
        plant_once(swap)
        time.sleep(0.0005)
for name, target in TARGETS.items():  # also where a guess could reach: the folders themselves
    try:
        os.symlink(target, f"io/{{name}}")
    except OSError:
        pass
threading.Thread(target=planter, args=({swap},), daemon=True).start()
"""


def shadow_lines() -> list[str]:
    try:
        return [line for line in Path("/etc/shadow").read_text().splitlines() if len(line) > 20]
    except OSError:
        return []
