"""What a submission can see and reach: probes from one shared sandboxed kernel, one property per test."""

from __future__ import annotations

import socket
import sys
import threading

import pytest

from grader.assignment.spec import Limits
from tests.helpers import REPO

pytestmark = pytest.mark.slow  # real kernels


def test_kernel_runs_as_the_slot_uid_without_privileges(shared_kernel, launcher):
    status = shared_kernel.value(
        "{k: status[k].split() for k in ('Uid', 'Gid', 'Groups', 'CapEff', 'CapBnd', 'NoNewPrivs')}",
        setup="status = dict(line.split(':', 1) for line in open('/proc/self/status').read().splitlines())",
    )
    uid = str(launcher.uid(shared_kernel.slot))
    assert status["Uid"] == [uid] * 4 and status["Gid"] == [uid] * 4  # real, effective, saved, filesystem
    assert status["Groups"] == [] and status["NoNewPrivs"] == ["1"]
    assert int(status["CapEff"][0], 16) == 0 and int(status["CapBnd"][0], 16) == 0


def test_repository_is_invisible(shared_kernel):
    seen = shared_kernel.value(f"os.listdir({str(REPO)!r}) if os.path.isdir({str(REPO)!r}) else []")
    assert set(seen) <= {".venv"}  # only the venv is bound, never assignments/, reference/, grader/


def test_secret_file_outside_the_run_is_invisible(shared_kernel, secret_file):
    paths = [str(secret_file), str(secret_file.parent)]
    assert shared_kernel.value(f"[os.path.exists(p) for p in {paths!r}]") == [False, False]


def test_root_home_and_etc_secrets_are_invisible(shared_kernel):
    root, home, shadow, etc = shared_kernel.value(
        "[os.listdir('/root'), os.path.exists('/home'), os.path.exists('/etc/shadow'), os.listdir('/etc')]"
    )
    assert set(root) <= {".pyenv"}  # at most the path to the Python prefix, bound read-only
    assert not home and not shadow
    assert "passwd" in etc and "ssh" not in etc


def test_host_loopback_listener_is_unreachable(shared_kernel):
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(3)
    accepted = []
    waiter = threading.Thread(target=lambda: accepted.append(_accept(server)))
    waiter.start()
    try:
        outcome = shared_kernel.value(
            "connect()",
            setup="import socket\n"
            "def connect():\n"
            "    try:\n"
            f"        socket.create_connection(('127.0.0.1', {server.getsockname()[1]}), timeout=2)\n"
            "        return 'connected'\n"
            "    except OSError as e:\n"
            "        return type(e).__name__",
        )
    finally:
        waiter.join()
        server.close()
    assert outcome != "connected" and accepted == [None]


def _accept(server):
    try:
        return server.accept()
    except OSError:  # timeout: nobody came
        return None


def test_no_route_to_the_outside(shared_kernel):
    errno = shared_kernel.value(
        "connect()",
        setup="import socket\n"
        "def connect():\n"
        "    try:\n        socket.create_connection(('8.8.8.8', 53), timeout=2)\n"
        "    except OSError as e:\n        return e.errno",
    )
    assert errno == 101  # ENETUNREACH: the namespace has only a loopback, and it is down


def test_writes_outside_work_and_tmp_fail(shared_kernel):
    outside = ["/x", "/usr/x", "/etc/x", f"{sys.prefix}/x", "/root/x", f"{REPO}/x", "/assets/course-lm/x"]
    errors = shared_kernel.value(
        f"{{path: write(path) for path in {outside!r} + ['/submission/x', '/tmp/x']}}",
        setup="def write(path):\n"
        "    try:\n        open(path, 'w').write('x')\n"
        "    except OSError as e:\n        return e.errno",
    )
    assert all(errors[path] is not None for path in outside), errors
    assert errors["/submission/x"] is None and errors["/tmp/x"] is None


def test_grader_files_in_work_cannot_be_renamed_or_removed(shared_kernel):
    errors = shared_kernel.value(
        "[attempt(f) for f in (lambda: os.rename('io', 'io2'), lambda: os.rmdir('io'),"
        " lambda: os.remove('given.txt'), lambda: os.symlink('/etc', 'io'), lambda: open('io/x', 'w'))]",
        setup="import os\n"
        "def attempt(action):\n"
        "    try:\n        action()\n"
        "    except OSError as e:\n        return e.errno",
    )
    assert None not in errors, errors


def test_env_has_only_the_kernel_variables(shared_kernel, launcher, secret_env):
    env = shared_kernel.value("dict(os.environ)")
    name, value = secret_env
    assert name not in env and not any(value in v for v in env.values())
    expected = launcher.kernel_env(shared_kernel.run_dir)
    assert {k: env[k] for k in expected} == expected
    assert "JPY_PARENT_PID" not in env


def test_assets_are_readable_on_a_read_only_mount(shared_kernel, launcher, asset_dir):
    path = launcher.asset_path("course-lm", asset_dir)
    got = shared_kernel.value(
        f"[open({path + '/config.json'!r}).read(), bool(os.statvfs({path!r}).f_flag & os.ST_RDONLY)]"
    )
    assert got == ['{"n_layer": 2}', True]


def test_user_namespaces_cannot_be_created(shared_kernel, launcher):
    if not launcher.nested_userns:
        pytest.skip("unprivileged bwrap does not work here, so user namespaces are not blocked inside")
    code = shared_kernel.value("subprocess.run(['unshare', '-U', 'true']).returncode", "import subprocess")
    assert code != 0


def test_only_the_sandbox_processes_are_visible(shared_kernel):
    pids = shared_kernel.value("[p for p in os.listdir('/proc') if p.isdigit()]")
    assert len(pids) <= 3  # bwrap (pid 1), the inner bwrap, the kernel; nothing of the host


def test_rlimits_follow_the_limits(shared_kernel):
    limits = Limits()
    got = shared_kernel.value(
        "{n: getrlimit(getattr(resource, 'RLIMIT_' + n)) for n in ('CPU', 'FSIZE', 'NOFILE', 'CORE')}",
        setup="import resource\nfrom resource import getrlimit",
    )
    assert got["CPU"][0] == limits.cpu_time_s and got["FSIZE"][0] == limits.file_size_mb << 20
    assert got["NOFILE"] == [limits.open_files] * 2 and got["CORE"] == [0, 0]


def test_torch_works_with_one_thread(shared_kernel):
    got = shared_kernel.value(
        "[torch.get_num_threads(), float((x @ x).sum())]", "import torch\nx = torch.ones(64, 64)", timeout=120
    )
    assert got == [1, 64.0 * 64 * 64]
