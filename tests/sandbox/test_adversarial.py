"""Adversarial submissions graded end to end in the sandbox: one attack per test.

Every test grades a real notebook with :func:`grader.grading.grade.grade_submission` (or
:func:`grader.batch.run.grade_all`) in a :class:`~grader.sandbox.bubblewrap.BubblewrapLauncher` on the ``mini``
assignment (``greedy_next_token``: 1 point, one public and one hidden case; ``softmax_with_temperature``: 2 points), and
checks three things: grading completes; the attacker's grade is exactly what its honest functions earn;
nothing on the host changed, no secret leaked into any output file, and no process of the slot uid is left.
Attacks that cannot be stopped are xfail (strict) with the reason.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
import resource
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path
from statistics import median

import pytest

from grader.assignment.groundtruth import build_plan
from grader.assignment.spec import Limits, load_assignment
from grader.batch.intake import Submission
from grader.batch.run import RESULTS_DIR, grade_all, write_outputs
from grader.grading.grade import grade_submission
from grader.sandbox.bubblewrap import WRAPPER_TASKS, BubblewrapLauncher
from grader.sandbox.launcher import LocalLauncher, RunDir
from grader.sandbox.uids import uid_pids as _uid_pids
from tests.grader.conftest import GREEDY, MINI_SPEC, SOFTMAX, notebook
from tests.sandbox.conftest import LAUNCHERS, close_launcher, make_launcher

pytestmark = pytest.mark.slow  # real kernels in real sandboxes

REPO = Path(__file__).resolve().parents[2]
LIMITS = Limits(
    cell_timeout_s=6, call_timeout_s=6, memory_mb=1024, max_processes=64, file_size_mb=64, submission_timeout_s=120
)
FULL = {"greedy_next_token": 1.0, "softmax_with_temperature": 2.0}
ONLY_GREEDY = {"greedy_next_token": 1.0, "softmax_with_temperature": 0.0}
ONLY_SOFTMAX = {"greedy_next_token": 0.0, "softmax_with_temperature": 2.0}
NOTHING = {"greedy_next_token": 0.0, "softmax_with_temperature": 0.0}
SECRET = f"ADV-SECRET-{uuid.uuid4().hex}"  # in the repo, in a tmp folder, in assignment.toml, in the env
SECRET_ENV = "GRADER_ADV_TEST_SECRET"


# ----------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def assignment_folder(tmp_path_factory) -> Path:
    """The mini assignment; its assignment.toml carries the secret in a comment."""
    folder = tmp_path_factory.mktemp("mini-adv")
    (folder / "assignment.toml").write_text(f"# {SECRET}\n{MINI_SPEC}")
    notebook(folder, "mini", GREEDY, SOFTMAX)
    return folder


@pytest.fixture(scope="module")
def plan(assignment_folder):
    return dataclasses.replace(build_plan(load_assignment(assignment_folder)), limits=LIMITS)


@pytest.fixture(scope="module", params=list(LAUNCHERS))
def sandbox(request, plan) -> BubblewrapLauncher:
    # Uids apart from the default 61000.. and from conftest's 62000.., so parallel graders are not disturbed.
    launcher = make_launcher(request.param, assets=plan.assets, uid_base=63000 + 16 * (os.getpid() % 64))
    yield launcher
    close_launcher(launcher)


@pytest.fixture(scope="module")
def secret_files(plan, tmp_path_factory):
    """The secret planted where a student would look: the repository, a tmp folder, the assignment folder."""
    (REPO / ".cache").mkdir(exist_ok=True)  # git-ignored: a broad `git add` elsewhere never picks it up
    in_repo = REPO / ".cache" / f"secret-adv-{uuid.uuid4().hex[:8]}.txt"
    in_tmp = tmp_path_factory.mktemp("hidden") / "secret.txt"
    for path in (in_repo, in_tmp):
        path.write_text(SECRET)
        path.chmod(0o644)  # readable by anyone: only the sandbox keeps the student out
    yield [in_repo, in_tmp]
    in_repo.unlink(missing_ok=True)


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
            pids = _uid_pids(self.launcher.uid(self.slot))  # the slot's uid of the moment
            self.peak = max(self.peak, len(pids))
            self.peak_rss_mb = max(self.peak_rss_mb, sum(_private_kb(pid) for pid in pids) >> 10)
            time.sleep(0.02)

    def __enter__(self) -> ProcessWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _private_kb(pid: int) -> int:
    """Memory written by the process itself, in KiB: what its memory cgroup is charged (shared libraries are
    in the host's page cache; a zygote kernel's heap copied at fork stays the zygote's until written)."""
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:  # gone meanwhile
        return 0
    return sum(int(line.split()[1]) for line in lines if line.startswith("Private_Dirty:"))


def _rss_kb(pid: int, field: str) -> int:
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


# ------------------------------------------------------------------------------------- secrets and reads

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


def test_secrets_hidden_cases_and_reference_are_out_of_reach(
    plan, sandbox, secret_files, assignment_folder, tmp_path, monkeypatch
):
    monkeypatch.setenv(SECRET_ENV, SECRET)  # the grader's own environment holds it too
    targets = [str(p) for p in secret_files] + [
        str(assignment_folder / "assignment.toml"),
        str(REPO / "assignments" / "03-sampling" / "assignment.toml"),
        str(REPO / "reference" / "sampling.py"),
        "/etc/shadow",
        "/root/.bash_history",
        f"/proc/{os.getpid()}/environ",
        f"/proc/{os.getppid()}/environ",
    ]
    graded = grade(plan, sandbox, tmp_path, GREEDY, LOOT.format(targets=targets), STEAL)
    result = graded.result
    assert scores(result) == ONLY_GREEDY  # greedy by its value; the thief scores nothing
    stolen = result.questions[1].tests[0]
    assert stolen.kind == "exception" and "LOOT: []" in stolen.output  # the channel works; nothing went in
    assert_not_in_files(graded.out, SECRET)


# ------------------------------------------------------------------------------------------------ network


def test_host_loopback_and_abstract_socket_listeners_get_no_connection(plan, sandbox, tmp_path):
    server = socket.create_server(("127.0.0.1", 0))
    abstract = socket.socket(socket.AF_UNIX)
    abstract_name = f"\0grader-adv-{uuid.uuid4().hex}"
    abstract.bind(abstract_name)
    abstract.listen()
    accepted: list[str] = []
    stop = threading.Event()

    def serve(sock: socket.socket, label: str) -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            accepted.append(label)
            conn.close()

    threads = [threading.Thread(target=serve, args=(s, n)) for s, n in ((server, "tcp"), (abstract, "unix"))]
    for thread in threads:
        thread.start()
    port = server.getsockname()[1]
    attack = (
        "import socket\nreached = []\n"
        f"for host in ('127.0.0.1', 'localhost', '0.0.0.0', '::1', socket.gethostname()):\n"
        "    try:\n"
        f"        socket.create_connection((host, {port}), timeout=1).close(); reached.append(host)\n"
        "    except OSError as e:\n        print(host, e)\n"
        "try:\n"
        "    s = socket.socket(socket.AF_UNIX); s.settimeout(1)\n"
        f"    s.connect({abstract_name!r}); reached.append('unix')\n"
        "except OSError as e:\n    print('unix', e)\n"
        "print('reached', reached)\n"
    )
    try:
        graded = grade(plan, sandbox, tmp_path, GREEDY, attack, SOFTMAX)
        socket.create_connection(("127.0.0.1", port), timeout=2).close()  # the listener itself works
        deadline = time.monotonic() + 5
        while not accepted and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        server.close()
        abstract.close()
    assert scores(graded.result) == FULL
    assert accepted == ["tcp"]  # only the test's own connection, never the kernel's


# ------------------------------------------------------------------------------------------------- writes


def test_writes_outside_the_work_folder_change_nothing_on_the_host(plan, sandbox, tmp_path):
    tag = uuid.uuid4().hex[:8]
    results = tmp_path / "published" / RESULTS_DIR  # an earlier batch's results, on the host
    results.mkdir(parents=True)
    other = results / "other-student.json"
    other.write_text('{"score": 1}')
    host_targets = [
        Path("/tmp") / f"pwned-{tag}",
        REPO / f"pwned-{tag}",
        results / "attacker.json",
        results / f"pwned-{tag}",
        tmp_path / f"pwned-{tag}",
        tmp_path / "runs" / f"pwned-{tag}",
    ]
    untouchable = [other, Path("/etc/passwd"), REPO / "pyproject.toml", REPO / ".venv" / "pyvenv.cfg"]
    before = {p: sha(p) for p in untouchable}
    attack = (
        "import os, sys, glob\nerrors = {}\n"
        "def attempt(label, action):\n"
        "    try:\n        action(); errors[label] = None\n"
        "    except OSError as e:\n        errors[label] = e.errno\n"
        f"targets = {[str(p) for p in host_targets + untouchable]!r}\n"
        "ipc = os.path.dirname(sys.argv[sys.argv.index('-f') + 1])  # the run's ipc folder: its host path\n"
        "targets += [os.path.join(ipc, '..', 'pwned'), os.path.join(ipc, '..', '..', 'pwned')]\n"
        "targets += ['/submission/../pwned']\n"
        "for t in targets:\n"
        "    attempt('write ' + t, lambda: open(t, 'a').write('pwned'))\n"
        "    attempt('chmod ' + t, lambda: os.chmod(t, 0o777))\n"
        "    attempt('unlink ' + t, lambda: os.unlink(t))\n"
        f"attempt('link venv', lambda: os.link({str(REPO / '.venv' / 'pyvenv.cfg')!r}, 'hard'))\n"
        "attempt('symlink io', lambda: os.symlink('/etc', 'io/call-1'))\n"
        "attempt('mkdir io', lambda: os.mkdir('io/call-1'))\n"
        "attempt('rename io', lambda: os.rename('io', 'io-old'))\n"
        "attempt('evil link', lambda: os.symlink(targets[0], 'evil'))\n"
        "print({k: v for k, v in errors.items() if v is None})\n"
    )
    graded = grade(plan, sandbox, tmp_path, GREEDY, attack, SOFTMAX)
    assert scores(graded.result) == FULL
    assert [p for p in host_targets if p.exists()] == []
    assert {p: sha(p) for p in untouchable} == before
    assert [p.name for p in results.iterdir()] == ["other-student.json"]


# ---------------------------------------------------------------------------------- forged comparisons


def test_patched_comparison_functions_in_the_kernel_do_not_make_wrong_values_pass(plan, sandbox, tmp_path):
    patch = (
        "import math, torch, numpy, numpy.testing, builtins\n"
        "torch.allclose = lambda *a, **k: True\n"
        "torch.equal = lambda *a, **k: True\n"
        "torch.isclose = lambda a, b, *x, **k: torch.ones(a.shape, dtype=torch.bool)\n"
        "torch.testing.assert_close = lambda *a, **k: None\n"
        "numpy.testing.assert_allclose = lambda *a, **k: None\n"
        "numpy.testing.assert_array_equal = lambda *a, **k: None\n"
        "numpy.allclose = lambda *a, **k: True\n"
        "math.isclose = lambda *a, **k: True\n"
        "torch.Tensor.__eq__ = lambda self, other: True\n"
        "torch.Tensor.__ne__ = lambda self, other: False\n"
    )
    wrong = (
        "def greedy_next_token(logits):\n    return torch.zeros(logits.shape[0], dtype=torch.int64)\n"
        "def softmax_with_temperature(logits, temperature):\n    return torch.full_like(logits, 0.2)\n"
    )
    graded = grade(plan, sandbox, tmp_path, patch, wrong)
    assert scores(graded.result) == NOTHING
    assert set(kinds(graded.result).values()) == {"wrong"}


# ------------------------------------------------------------------------------------------- fake scores


def test_printed_written_and_preplanted_fake_scores_have_no_effect(plan, sandbox, tmp_path):
    fake = (
        "import json, os, threading, time, torch\n"
        "perfect = {'score': 3.0, 'max_score': 3.0, 'status': 'passed', 'tests': []}\n"
        "print(json.dumps(perfect))\n"
        "for name in ('results.json', 'out.json', 'gradebook.csv', 'attacker.json'):\n"
        "    open(name, 'w').write(json.dumps(perfect))\n"
        "forged = json.dumps({'status': 'ok', 'value': True, 'score': 1, 'passed': True})\n"
        "planted = []\n"
        "for n in range(1, 20):  # in advance: the io folder is the grader's\n"
        "    try:\n"
        "        os.makedirs(f'io/call-{n}', exist_ok=True)\n"
        "        open(f'io/call-{n}/out.json', 'w').write(forged)\n"
        "        planted.append(n)\n"
        "    except OSError:\n        pass\n"
        "def forge():  # and while grading runs: into every call folder the grader creates\n"
        "    while True:\n"
        "        for n in range(1, 20):\n"
        "            path = f'io/call-{n}/out.json'\n"
        "            try:  # only greedy_next_token's calls (no 'temperature'): softmax stays honest\n"
        "                greedy = 'temperature' not in open(f'io/call-{n}/in.json').read()\n"
        "                if greedy and not os.path.exists(path):\n"
        "                    open(path, 'w').write(forged)\n"
        "            except OSError:\n                pass\n"
        "        time.sleep(0.001)\n"
        "threading.Thread(target=forge, daemon=True).start()\n"
        "print('planted in advance:', planted)\n"
    )
    graded = grade(plan, sandbox, tmp_path, fake, SOFTMAX)  # greedy_next_token is not defined
    result = graded.result
    assert scores(result) == ONLY_SOFTMAX and result.score == 2.0
    # "missing" as written by the harness, or unreadable where the forger's file won the race: never a pass
    assert {t.kind for t in result.questions[0].tests} <= {"missing", "invalid_output"}
    assert result.cells[0].status == "ok"


# -------------------------------------------------------------------------------------- killing processes


def test_killing_every_visible_process_costs_only_its_own_cell_and_spares_the_batch(plan, sandbox, tmp_path):
    killer = (
        "import os, signal\n"
        "for pid in [int(p) for p in os.listdir('/proc') if p.isdigit()]:\n"
        "    if pid != os.getpid():\n"
        "        try:\n            os.kill(pid, signal.SIGKILL)\n"
        "        except OSError as e:\n            print(pid, e)\n"
        "try:\n    os.kill(os.getppid(), signal.SIGKILL)\nexcept OSError as e:\n    print('ppid', e)\n"
        "os.kill(-1, signal.SIGKILL)\n"
        "import time; time.sleep(2)\n"
        "print('still alive')\n"
    )
    folder = tmp_path / "submissions"
    subs = [
        Submission("killer", notebook(folder, "killer", GREEDY, killer, SOFTMAX)),
        Submission("honest", notebook(folder, "honest", GREEDY, "import time; time.sleep(3)", SOFTMAX)),
    ]
    summary = asyncio.run(grade_all(plan, subs, tmp_path / "out", sandbox, jobs=2))
    by_id = {r.student_id: r for r in summary.results}
    for r in summary.results:
        describe(r)
    assert {sid: scores(r) for sid, r in by_id.items()} == {"killer": FULL, "honest": FULL}
    # Plain sandbox: the kernel dies with its killed parent ("dead"). Zygote: its parent is its pid namespace's
    # init, which nothing inside can kill, so kill(-1) finds no process and the cell fails ("error").
    assert by_id["killer"].cells[1].status in ("dead", "timeout", "error")
    assert [c.status for c in by_id["honest"].cells] == ["ok", "ok", "ok"]
    assert_no_processes(sandbox, 0, 1)


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


@pytest.mark.xfail(
    strict=True,
    reason=(
        "not covered (grader/sandbox/bubblewrap.py docstring): RLIMIT_FSIZE caps each file, not the work folder's "
        "total; "
        "many files just under the limit fill the host disk until the submission's time runs out. Needs a disk "
        "quota or a size-capped filesystem for run.work"
    ),
)
def test_writing_gigabytes_in_many_files_is_capped(plan, sandbox, tmp_path, monkeypatch):
    kept: list[RunDir] = []
    monkeypatch.setattr(RunDir, "remove", lambda self: kept.append(self))
    writer = (
        "block = b'x' * (1 << 20)\n"
        "for i in range(16):  # 16 x 60 MB, each under the 64 MB file size limit\n"
        "    with open(f'part{i}.bin', 'wb') as f:\n"
        "        for _ in range(60):\n            f.write(block)\n"
    )
    try:
        grade_kept(plan, sandbox, tmp_path, GREEDY, writer, SOFTMAX)
        (run,) = kept
        total = sum(p.stat().st_size for p in run.work.rglob("*") if p.is_file())
        assert total <= 4 * (LIMITS.file_size_mb << 20), f"the submission wrote {total >> 20} MB"
    finally:
        for run in kept:
            subprocess.run(["rm", "-rf", "--one-file-system", str(run.root)], check=False)


def grade_kept(plan, launcher, tmp_path, *cells):
    path = notebook(tmp_path / "submissions", "writer", *cells)
    result = asyncio.run(grade_submission(plan, path, "writer", launcher, tmp_path / "runs", 0))
    describe(result)
    assert result.status == "graded"
    assert_no_processes(launcher, 0)
    return result


# ----------------------------------------------------------------------------------------- hangs and exits


def test_a_graded_function_that_sleeps_forever_times_out_and_the_others_are_graded(plan, sandbox, tmp_path):
    sleeper = "import time\ndef greedy_next_token(logits):\n    time.sleep(10**6)\n"
    graded = grade(plan, sandbox, tmp_path, sleeper, SOFTMAX)
    assert scores(graded.result) == ONLY_SOFTMAX
    assert kinds(graded.result)["greedy_next_token: random"] == "timeout"


def test_an_endless_loop_that_ignores_sigint_is_recovered_by_a_restart(plan, sandbox, tmp_path):
    stubborn = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass\n"
    graded = grade(plan, sandbox, tmp_path, GREEDY, stubborn, SOFTMAX)
    result = graded.result
    assert scores(result) == FULL
    assert result.cells[1].status == "timeout"
    assert any("restarted" in note for note in result.notes)


def test_os_exit_in_a_cell_is_recorded_and_the_rest_is_graded(plan, sandbox, tmp_path):
    graded = grade(plan, sandbox, tmp_path, GREEDY, "import os\nos._exit(0)", SOFTMAX)
    result = graded.result
    assert scores(result) == FULL
    assert [c.status for c in result.cells] == ["ok", "dead", "ok"]


def test_os_exit_in_a_graded_function_fails_its_calls_and_the_rest_is_graded(plan, sandbox, tmp_path):
    exiter = "import os\ndef greedy_next_token(logits):\n    os._exit(3)\n"
    graded = grade(plan, sandbox, tmp_path, exiter, SOFTMAX)
    result = graded.result
    assert scores(result) == ONLY_SOFTMAX  # the kernel was restarted after each fatal call
    assert {t.kind for t in result.questions[0].tests} == {"dead"}


# ------------------------------------------------------------------------------------ symlinked outputs


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


def _shadow_lines() -> list[str]:
    try:
        return [line for line in Path("/etc/shadow").read_text().splitlines() if len(line) > 20]
    except OSError:
        return []


@pytest.mark.parametrize("swap", [False, True], ids=["planted-before-the-write", "swapped-in-after-it"])
def test_symlinks_named_like_the_outputs_are_never_followed(plan, sandbox, secret_files, tmp_path, swap):
    """A thread plants out.json -> /etc/shadow and out.safetensors -> the secret in every call folder, in a
    loop. The harness replaces a planted link (unlink, then create with O_EXCL|O_NOFOLLOW); a link that
    wins the race against it, or is swapped in after the write, makes the host refuse the file (O_NOFOLLOW).
    The attacker only sabotages its own results: each test is the real result or an unreadable one."""
    planter = PLANT.format(secret=str(secret_files[1]), swap=swap)
    graded = grade(plan, sandbox, tmp_path, GREEDY, SOFTMAX, planter)
    result = graded.result
    for test in result.tests:
        assert test.kind in ("passed", "invalid_output"), test
        if test.kind == "invalid_output" and not test.hidden:
            assert "cannot be opened safely" in test.output or "was not written" in test.output, test.output
    assert result.score <= plan.max_score
    assert_not_in_files(graded.out, SECRET, *_shadow_lines())


# ------------------------------------------------------------------------------------------- huge values


def test_a_200_million_element_tensor_is_refused_before_copying(plan, sandbox, tmp_path):
    huge = (  # 200 million elements (1.6 GB as int64) that cost the kernel 8 bytes
        "import torch\ndef greedy_next_token(logits):\n"
        "    return torch.zeros(1, dtype=torch.int64).expand(200_000_000)\n"
    )
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    graded = grade(plan, sandbox, tmp_path, huge, SOFTMAX)
    result = graded.result
    assert scores(result) == ONLY_SOFTMAX
    assert set(kinds(result)[t.name] for t in result.questions[0].tests) == {"too_large"}
    assert result.cells[0].status == "ok"
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 200_000  # KiB: not copied


def test_an_oversized_result_file_written_past_the_harness_is_not_read(plan, sandbox, tmp_path):
    small = dataclasses.replace(plan, limits=LIMITS.model_copy(update={"return_bytes": 1_000_000}))
    bypass = (
        "import sys, torch\n"
        "def softmax_with_temperature(logits, temperature):\n"
        "    module = sys.modules['__grader_harness_module__']\n"
        "    def write(folder, result, max_bytes=0):  # no size check: a 50 MB tensor file\n"
        "        import os\n"
        "        with open(os.path.join(folder, 'out.json'), 'w') as f:\n"
        '            f.write(\'{"value": {"status": "ok", "value": {"$tensor": "t0"}}}\')\n'
        "        with open(os.path.join(folder, 'out.safetensors'), 'wb') as f:\n"
        "            f.write(b'\\0' * (50 << 20))\n"
        "    module._write = write\n"
        "    return torch.softmax(logits / temperature, dim=-1)\n"
    )
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    graded = grade(small, sandbox, tmp_path, GREEDY, bypass)
    result = graded.result
    assert scores(result) == ONLY_GREEDY
    softmax = result.questions[1].tests[0]
    assert softmax.kind == "invalid_output", softmax
    assert "more than the limit of 1000000" in softmax.output, softmax.output
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 40_000  # KiB: 50 MB never read


def _own_rss_mb() -> int:
    return _rss_kb(os.getpid(), "VmRSS:") >> 10


@pytest.mark.xfail(
    strict=True,
    reason=(
        "not covered: the host's ZMQ client accepts a message of any size, and jupyter_client + nbclient hold it "
        "about 3 times (bytes, parsed JSON, str(content) for the output budget) before the output budget cuts it: "
        "a 150 MB print costs the host ~450 MB, bounded only by the kernel's memory limit, per concurrent job. "
        "Fix: zmq.MAXMSGSIZE on the client's context (KernelSession._start)"
    ),
)
def test_a_single_huge_output_message_costs_the_host_little(plan, sandbox, tmp_path):
    flood = "import sys\nsys.stdout.write('x' * (150 << 20)); sys.stdout.flush()"
    base, peak, stop = _own_rss_mb(), [0], threading.Event()

    def watch() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _own_rss_mb())
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        graded = grade(plan, sandbox, tmp_path, GREEDY, flood, SOFTMAX)
    finally:
        stop.set()
        watcher.join()
    assert scores(graded.result) == FULL
    print("host memory growth while grading:", peak[0] - base, "MB")
    assert peak[0] - base < 100


# ------------------------------------------------------------------------------------------ lying values


def test_values_whose_eq_lies_never_pass(plan, sandbox, tmp_path):
    liars = (
        "import torch\n"
        "class Liar(torch.Tensor):\n"
        "    def __eq__(self, other):\n        return True\n"
        "    __ne__ = lambda self, other: False\n"
        "class Anything:\n"
        "    def __eq__(self, other):\n        return True\n"
        "    __hash__ = object.__hash__\n"
        "    shape = dtype = property(lambda self: self)\n"
        "def greedy_next_token(logits):\n"
        "    return torch.zeros(logits.shape[0], dtype=torch.int64).as_subclass(Liar)  # wrong values\n"
        "def softmax_with_temperature(logits, temperature):\n"
        "    return Anything()\n"
    )
    graded = grade(plan, sandbox, tmp_path, liars)
    result = graded.result
    assert scores(result) == NOTHING
    got = kinds(result)
    assert got["greedy_next_token: random"] in ("wrong", "unencodable", "invalid_output"), got
    assert got["softmax_with_temperature: t=2"] == "unencodable", got


# -------------------------------------------------------------------------------------------------- batch


def test_a_batch_of_attacks_and_two_honest_submissions(plan, sandbox, secret_files, tmp_path):
    folder = tmp_path / "submissions"
    targets = [str(p) for p in secret_files]
    attacks = {
        "honest-a": [GREEDY, SOFTMAX],
        "killer": [GREEDY, "import os\nos.kill(-1, 9)\nos.kill(os.getppid(), 9)", SOFTMAX],
        "thief": [GREEDY, LOOT.format(targets=targets), STEAL],
        "spawner": [
            GREEDY,
            "import subprocess\ntry:\n"
            "    [subprocess.Popen(['sleep', '600']) for _ in range(300)]\n"
            "except OSError:\n    pass",
            SOFTMAX,
        ],
        "hog": [GREEDY, "x = [bytearray(1 << 30) for _ in range(40)]", SOFTMAX],
        "planter": [GREEDY, SOFTMAX, PLANT.format(secret=targets[1], swap=True)],
        "stubborn": [GREEDY, "import signal\nsignal.signal(2, signal.SIG_IGN)\nwhile 1:\n    pass", SOFTMAX],
        "honest-b": [GREEDY, SOFTMAX],
    }
    subs = [Submission(sid, notebook(folder, sid, *cells)) for sid, cells in attacks.items()]
    out = tmp_path / "out"
    summary = asyncio.run(grade_all(plan, subs, out, sandbox, jobs=2))
    by_id = {r.student_id: r for r in summary.results}
    for r in summary.results:
        describe(r)
    assert sorted(by_id) == sorted(attacks) and summary.graded == len(attacks)
    assert scores(by_id["honest-a"]) == FULL and scores(by_id["honest-b"]) == FULL
    for sid in ("killer", "spawner", "hog", "stubborn"):
        assert scores(by_id[sid]) == FULL, (sid, by_id[sid].cells, by_id[sid].notes)
    assert scores(by_id["thief"]) == ONLY_GREEDY
    assert all(by_id["planter"].questions[i].score <= q.points for i, q in enumerate(plan.questions))
    assert_not_in_files(out, SECRET, *_shadow_lines())
    assert_no_processes(sandbox, 0, 1)


# ------------------------------------------------------------------------------------------------ overhead


def test_sandbox_overhead_per_submission(plan, sandbox, tmp_path, record_property):
    """Grade the same correct notebook sandboxed and in a plain local kernel, 3 times each, alternating."""
    path = notebook(tmp_path / "submissions", "honest", GREEDY, SOFTMAX)
    times: dict[str, list[float]] = {sandbox.name: [], "local": []}
    for i in range(3):
        for launcher in (sandbox, LocalLauncher()):
            started = time.monotonic()
            result = asyncio.run(grade_submission(plan, path, "honest", launcher, tmp_path / f"runs{i}", 0))
            times[launcher.name].append(time.monotonic() - started)
            assert scores(result) == FULL
    sandboxed, local = median(times[sandbox.name]), median(times["local"])
    record_property("sandbox_median_s", round(sandboxed, 2))
    record_property("local_median_s", round(local, 2))
    print(
        f"\nsandbox overhead: bubblewrap median {sandboxed:.2f} s, local median {local:.2f} s, "
        f"overhead {sandboxed - local:+.2f} s per submission ({times})"
    )
    assert sandboxed < local + 10
