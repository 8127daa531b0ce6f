"""Attacks that reach for what the kernel must not see or touch: secrets, hidden cases and the reference on the
host, the host's network listeners, files outside the work folder, and the host's files through planted symlinks.
Each grades a real notebook in the sandbox; the attacker earns exactly what its honest functions earn, and nothing
on the host changed or leaked into any output file."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest

from grader.batch.run import RESULTS_DIR
from tests.helpers import GREEDY, REPO, SOFTMAX
from tests.sandbox.attacks.helpers import (
    FULL,
    LOOT,
    ONLY_GREEDY,
    PLANT,
    SECRET,
    SECRET_ENV,
    STEAL,
    assert_not_in_files,
    grade,
    scores,
    sha,
    shadow_lines,
)

pytestmark = pytest.mark.slow  # real kernels in real sandboxes


# ------------------------------------------------------------------------------------- secrets and reads


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


# ------------------------------------------------------------------------------------ symlinked outputs


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
    assert_not_in_files(graded.out, SECRET, *shadow_lines())
