"""The warm check server (grader/selfcheck/server.py, its client grader/selfcheck/client.py), with real processes:
``grader check`` as students run it, servers started and stopped for real, raw sockets for malformed requests.

Every test works in its own short private folder under /tmp (a socket path has at most 107 bytes) and
kills whatever server it started; tests/conftest.py keeps the server off for the rest of the suite.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from grader.assignment.release import release
from grader.selfcheck import client, protocol
from tests.helpers import GREEDY, SOFTMAX, notebook, wait_for

pytestmark = pytest.mark.slow

_SCRIPT = Path(sys.executable).with_name("grader")
GRADER = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "grader.cli"]


def grader_check(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """``grader check ARGS`` as a student runs it, from /tmp, with a fixed table width."""
    env = {**os.environ, "COLUMNS": "120", **(env or {})}
    return subprocess.run(
        [*GRADER, "check", *args], capture_output=True, text=True, env=env, cwd="/tmp", timeout=timeout
    )


def server_pid(folder: Path) -> int | None:
    """The pid of the server holding the folder's lock, None if none does."""
    lock = protocol.lock_path(folder)
    if not client._locked(lock):
        return None
    return int(lock.read_text().split()[0])


def kill_server(folder: Path) -> None:
    pid = server_pid(folder)
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    if not wait_for(lambda: server_pid(folder) is None, 15):
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: server_pid(folder) is None, 5)


def server_log(folder: Path) -> str:
    path = protocol.log_path(folder)
    return path.read_text() if path.exists() else ""


def raw_request(folder: Path, data: bytes) -> dict:
    """Send ``data`` as it is and return the reply."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(str(protocol.socket_path(folder)))
        sock.sendall(data)
        return protocol.receive(sock, protocol.MAX_REPLY)


@pytest.fixture(scope="module")
def release_dir(mini_assignment):
    root = Path(tempfile.mkdtemp(prefix="gcs-release-"))
    release(mini_assignment, root / "release")
    folder = root / "release"
    notebook(folder, "solved", GREEDY, SOFTMAX)
    notebook(folder, "buggy", GREEDY.replace("argmax", "argmin"), SOFTMAX)
    yield folder
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def warm(release_dir):
    """A server shared by the tests that need one warm: (its folder, the release). Started by a first check."""
    root = Path(tempfile.mkdtemp(prefix="gcs-"))
    folder = root / "srv"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(protocol.ENV_DIR, str(folder))
        mp.setenv(protocol.ENV_IDLE, "300")
        mp.delenv(protocol.ENV_DISABLE, raising=False)
        try:
            first = grader_check(str(release_dir / "solved.ipynb"))
            assert first.returncode == 0, first.stdout + first.stderr
            yield folder, release_dir
        finally:
            kill_server(folder)
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def own_folder(monkeypatch):
    """A private folder of this test alone, the server switched on; any server in it is killed after."""
    root = Path(tempfile.mkdtemp(prefix="gcs-"))
    folder = root / "srv"
    monkeypatch.setenv(protocol.ENV_DIR, str(folder))
    monkeypatch.setenv(protocol.ENV_IDLE, "120")
    monkeypatch.delenv(protocol.ENV_DISABLE, raising=False)
    yield folder
    kill_server(folder)
    shutil.rmtree(root, ignore_errors=True)


def test_a_warm_check_prints_and_writes_what_the_in_process_check_does(warm):
    folder, rel = warm
    for name in ("solved", "buggy"):
        served = grader_check(str(rel / f"{name}.ipynb"))
        report = _timeless((rel / ".feedback" / f"{name}.md").read_text())
        alone = grader_check(str(rel / f"{name}.ipynb"), "--no-server")
        assert served.returncode == alone.returncode == 0, served.stdout + served.stderr
        assert served.stdout == alone.stdout, (served.stdout, alone.stdout)
        assert _timeless((rel / ".feedback" / f"{name}.md").read_text()) == report
    assert "3 / 3" in grader_check(str(rel / "solved.ipynb")).stdout
    assert "FAIL" in served.stdout and "2 / 3" in served.stdout


def test_the_result_in_the_reply_is_the_in_process_result(warm, monkeypatch):
    from grader.grading.results import SubmissionResult
    from grader.sandbox.launcher import LocalLauncher
    from grader.selfcheck.check import check_notebook, load_check_plan

    folder, rel = warm
    monkeypatch.setenv(protocol.ENV_DIR, str(folder))
    path = rel / "buggy.ipynb"
    reply = client.request_check(path, None, False)
    served = SubmissionResult.load(_write(folder.parent / "served.json", reply["result"]))
    alone, _, report = check_notebook(path, load_check_plan(path), LocalLauncher())
    assert reply["report"] == str(report)
    assert [(t.name, t.status, t.score, t.output) for t in served.tests] == [
        (t.name, t.status, round(t.score, 4), t.output) for t in alone.tests
    ]
    assert (reply["score"], reply["max_score"], reply["hidden"]) == (alone.score, alone.max_score, 1)


def _timeless(report: str) -> str:
    return re.sub(r"\d+\.\d+ s\b", "_ s", report)


def _write(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_a_second_check_is_served_by_the_running_server(warm, monkeypatch):
    folder, rel = warm
    monkeypatch.setenv(protocol.ENV_DIR, str(folder))
    pid = server_pid(folder)
    assert pid is not None
    before = server_log(folder).count("checked ")
    started = time.monotonic()
    done = grader_check(str(rel / "solved.ipynb"))
    assert done.returncode == 0 and "3 / 3" in done.stdout
    assert server_pid(folder) == pid and client.call({"op": "ping"}, start=False)["pid"] == pid
    assert server_log(folder).count("checked ") == before + 1
    assert time.monotonic() - started < 10  # warm: no torch import, no zygote start


def test_errors_are_reported_as_in_process(warm, tmp_path):
    folder, rel = warm
    lonely = notebook(tmp_path, "lonely", GREEDY)
    served, alone = grader_check(str(lonely)), grader_check(str(lonely), "--no-server")
    assert served.returncode == alone.returncode == 1
    assert served.stdout == alone.stdout and "no public tests found" in served.stdout
    args = (os.path.relpath(rel / "solved.ipynb", "/tmp"), "--tests", os.path.relpath(rel, "/tmp"))  # not tests/
    served, alone = grader_check(*args), grader_check(*args, "--no-server")
    assert served.returncode == alone.returncode == 1 and served.stdout == alone.stdout
    assert "no test bundle here" in served.stdout
    assert os.path.relpath(rel, "/tmp") in served.stdout  # paths as typed, relative to the client's folder


def test_a_malformed_request_gets_an_error_and_the_server_survives(warm, monkeypatch):
    folder, rel = warm
    monkeypatch.setenv(protocol.ENV_DIR, str(folder))
    pid = server_pid(folder)
    digest = protocol.code_digest()
    bad = [
        b"not json\n",
        b"[1, 2]\n",
        b"\xff\xfe\n",
        b'{"protocol": 1, "op": "ping"}\n',  # no digest
        json.dumps({"protocol": 1, "digest": digest, "op": "rm -rf"}).encode() + b"\n",
        json.dumps({"protocol": 99, "digest": digest, "op": "ping"}).encode() + b"\n",
        json.dumps({"protocol": 1, "digest": digest, "op": "check", "notebook": 3}).encode() + b"\n",
        json.dumps(
            {"protocol": 1, "digest": digest, "op": "check", "cwd": "rel", "notebook": "a", "tests": None}
            | {"no_fast_start": False}
        ).encode()
        + b"\n",
        b"x" * (protocol.MAX_REQUEST + 10),
    ]
    for data in bad:
        reply = raw_request(folder, data)
        assert reply["ok"] is False and reply["error"].startswith("bad request"), (data[:80], reply)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:  # connects and hangs up at once
        sock.connect(str(protocol.socket_path(folder)))
    assert client.call({"op": "ping"}, start=False)["pid"] == pid
    assert "3 / 3" in grader_check(str(rel / "solved.ipynb")).stdout


def test_a_client_that_goes_away_cancels_its_check_and_a_waiting_check_says_so(warm, tmp_path):
    """Ctrl-C (SIGINT) on a check of a hanging notebook: its kernel is stopped and no report is written for it,
    and a check that was waiting behind it (saying so) is served next, before the hanging cell's time limit
    could have ended it: by the order of the server's log, not by a timed threshold."""
    folder, rel = warm
    hang = notebook(rel, "hang", "import time\nopen('hanging', 'w').close()\nwhile True:\n    time.sleep(0.01)")
    env = {**os.environ, "COLUMNS": "120"}
    first = subprocess.Popen([*GRADER, "check", str(hang)], env=env, stdout=subprocess.DEVNULL, cwd="/tmp")
    marker = f"{tempfile.gettempdir()}/grader-check-*/hang-*/work/hanging"  # the check's kernel runs the cell
    assert wait_for(lambda: glob.glob(marker), 60), "the hanging cell never started"
    second = subprocess.Popen(
        [*GRADER, "check", str(rel / "solved.ipynb")], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, cwd="/tmp",
    )  # fmt: skip
    waiting = []
    assert wait_for(lambda: waiting.append(second.stderr.readline()) or "another check is running" in waiting[-1], 30)
    first.send_signal(signal.SIGINT)
    first.wait(10)
    out, _ = second.communicate(timeout=120)
    assert second.returncode == 0 and "3 / 3" in out, out
    log = server_log(folder)
    cancelled = log.index("the client went away: its check was cancelled")
    assert cancelled < log.index(f"checked {rel / 'solved.ipynb'}", cancelled)
    assert f"checked {hang}" not in log and "did not finish" not in log
    assert not (rel / ".feedback" / "hang.html").exists()
    assert not glob.glob(marker)  # the check's run folder is gone: its kernel was stopped and cleaned up


def test_the_server_says_what_runs_while_a_check_runs(warm):
    """Events before the reply: started, each code cell, each function checked."""
    _, rel = warm
    events = []
    reply = client.request_check(rel / "solved.ipynb", None, False, events.append)
    assert reply["ok"] and events[0] == {"event": "started"}
    texts = [e["text"] for e in events if e["event"] == "progress"]
    assert texts[:2] == ["code cell 1 of 2", "code cell 2 of 2"]
    assert texts[2].startswith("checking greedy_next_token (test call 1 of ")
    assert any(t.startswith("checking softmax_with_temperature") for t in texts)


def test_a_stale_server_is_replaced(own_folder, tmp_path):
    """A server running other code (here: a copy of the grader elsewhere, so its digest differs) answers
    nothing but "stale" and exits; the client starts a current one."""
    old = tmp_path / "old"
    package = Path(protocol.__file__).parents[1]
    shutil.copytree(package, old / "grader", ignore=shutil.ignore_patterns("__pycache__"))
    own_folder.mkdir(mode=0o700)
    env = {**os.environ, "PYTHONPATH": str(old)}
    log = (tmp_path / "stale.log").open("w")
    stale = subprocess.Popen(
        [sys.executable, "-m", "grader.selfcheck.server", "--dir", str(own_folder), "--idle", "60"],
        env=env,
        cwd="/",
        stdout=log,
        stderr=log,
    )
    try:
        assert wait_for(lambda: protocol.socket_path(own_folder).exists(), 20)
        assert server_pid(own_folder) == stale.pid
        reply = client.call({"op": "ping"})
        assert stale.wait(10) == 0
        assert reply["ok"] and reply["pid"] != stale.pid and reply["digest"] == protocol.code_digest()
        assert "a client runs other code (stale server): exiting" in (tmp_path / "stale.log").read_text()
        assert server_pid(own_folder) == reply["pid"]
    finally:
        log.close()
        if stale.poll() is None:
            stale.kill()
            stale.wait()


def test_a_dead_servers_socket_is_taken_over(own_folder):
    first = client.call({"op": "ping"})["pid"]
    os.kill(first, signal.SIGKILL)
    assert wait_for(lambda: server_pid(own_folder) is None, 10)
    assert protocol.socket_path(own_folder).exists()  # left behind
    second = client.call({"op": "ping"})["pid"]
    assert second != first


def test_the_server_exits_after_its_idle_timeout(own_folder, monkeypatch):
    monkeypatch.setenv(protocol.ENV_IDLE, "1.5")
    pid = client.call({"op": "ping"})["pid"]
    assert server_pid(own_folder) == pid
    client.call({"op": "ping"}, start=False)  # a request restarts the idle clock
    assert wait_for(lambda: server_pid(own_folder) is None, 15)
    assert not protocol.socket_path(own_folder).exists()
    assert "idle for 1.5 s: exiting" in server_log(own_folder)


def test_shutdown_stops_the_server(own_folder):
    pid = client.call({"op": "ping"})["pid"]
    assert client.stop() is True
    assert server_pid(own_folder) is None and not protocol.socket_path(own_folder).exists()
    assert client.stop() is False
    assert wait_for(lambda: not running(pid), 10)


def running(pid: int) -> bool:
    """Whether ``pid`` runs (a server started from this test process is its child: a zombie once it exits)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("problem", ["open to others", "not ours", "a symlink"])
def test_an_unsafe_folder_is_refused_and_check_runs_in_process(own_folder, tmp_path, problem, release_dir):
    own_folder.mkdir(mode=0o700)
    if problem == "open to others":
        own_folder.chmod(0o755)
        expected = "accessible by other users (mode 755); run: chmod 700"
    elif problem == "not ours":
        if os.geteuid() != 0:
            pytest.skip("only root can give a folder away")
        os.chown(own_folder, 54321, 54321)
        expected = "belongs to uid 54321, not to you"
    else:
        target = tmp_path / "elsewhere"
        target.mkdir(mode=0o700)
        own_folder.rmdir()
        own_folder.symlink_to(target)
        expected = "is not a folder (a symlink or a file)"
    with pytest.raises(protocol.FolderRefused, match="srv"):
        protocol.private_folder()
    if problem != "open to others":
        return  # one fallback run is enough: the same code path
    done = grader_check(str(release_dir / "solved.ipynb"))
    assert done.returncode == 0 and "3 / 3" in done.stdout, done.stdout + done.stderr
    second_line = done.stdout.split("\n", 1)[1]  # after the student's first line
    assert second_line.startswith("note: not using the check server:") and expected in " ".join(done.stdout.split())
    assert sorted(p.name for p in own_folder.iterdir()) == []  # no socket, no log, no server


@pytest.mark.parametrize("how", ["--no-server", "env"])
def test_no_server_checks_in_process(own_folder, tmp_path, how):
    lonely = notebook(tmp_path, "lonely", GREEDY)
    if how == "--no-server":
        done = grader_check(str(lonely), "--no-server")
    else:
        done = grader_check(str(lonely), env={protocol.ENV_DISABLE: "1"})
    assert done.returncode == 1 and "no public tests found" in done.stdout
    assert not own_folder.exists()  # the server's folder was not even looked at


def test_the_client_imports_no_heavy_module():
    code = (
        "import sys; import grader.cli, grader.selfcheck.server; "
        "heavy = ('torch', 'transformers', 'numpy', 'grader.selfcheck.check', 'jupyter_client', 'asyncio'); "
        "print(sorted(m for m in heavy"
        " if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
