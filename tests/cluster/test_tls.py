"""A cluster over TLS (a ``dask scheduler --protocol tls`` and a worker, certificates made for the test with the
``openssl`` command): grading gives local grading's points; a client without certificates, or with a certificate
the scheduler does not trust, is refused in one line, before anything is graded."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from dask.config import set as dask_config
from typer.testing import CliRunner

from grader.authoring.examples import expected_points
from grader.cli import app
from grader.errors import GraderError
from grader.grading.results import SubmissionResult
from tests.cluster.conftest import SAMPLING, grade, submissions
from tests.cluster.test_grading import attempts, expected, points

pytestmark = pytest.mark.slow


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def certificates(folder: Path) -> dict[str, str]:
    """A CA and one certificate it signed (for 127.0.0.1), as the environment of Dask's security configuration
    that the README gives: the scheduler, the workers and the client each present it and trust only that CA."""
    folder.mkdir()
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=grader test CA", cwd=folder)  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "node.key", "-out", "node.csr", "-subj", "/CN=127.0.0.1",
            cwd=folder)  # fmt: skip
    (folder / "san.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "node.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
            "-out", "node.pem", "-extfile", "san.cnf", cwd=folder)  # fmt: skip
    env = {"DASK_DISTRIBUTED__COMM__TLS__CA_FILE": str(folder / "ca.pem")}
    for who in ("SCHEDULER", "WORKER", "CLIENT"):
        env[f"DASK_DISTRIBUTED__COMM__TLS__{who}__CERT"] = str(folder / "node.pem")
        env[f"DASK_DISTRIBUTED__COMM__TLS__{who}__KEY"] = str(folder / "node.key")
    env["DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION"] = "True"
    return env


def client_config(env: dict[str, str]) -> dict:
    """The orchestrator's part of ``env``, as Dask's configuration keys (what the variables set in a process)."""
    return {
        "distributed.comm.tls.ca-file": env["DASK_DISTRIBUTED__COMM__TLS__CA_FILE"],
        "distributed.comm.tls.client.cert": env["DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT"],
        "distributed.comm.tls.client.key": env["DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY"],
        "distributed.comm.require-encryption": True,
    }


def test_grading_over_tls_and_clients_without_the_certificates_refused(dask, sampling, sampling_plan, tmp_path):
    env = certificates(tmp_path / "tls")
    names = {"alice": "correct", "bob": "bug_greedy_float", "carol": "hello_world"}
    subs = submissions(tmp_path / "subs", names)
    address = dask.scheduler(env=env, protocol="tls")
    assert address.startswith("tls://127.0.0.1:")
    dask.worker("w1", env=env)
    with dask_config(client_config(env)):
        worker = dask.wait_for_workers(1)["w1"]
        summary = grade(sampling, sampling_plan, subs, tmp_path / "out", address, said=[])

    assert worker.startswith("tls://") and summary.graded_now == len(names)
    assert attempts(tmp_path / "out") == dict.fromkeys(names, 1)
    table = expected_points(sampling)
    for student, example in names.items():
        result = SubmissionResult.load(tmp_path / "out" / "results" / f"{student}.json")
        assert result.provenance["worker"] == worker
        assert points(result) == expected(sampling_plan, example, table), student

    out = tmp_path / "no-certificates"
    run = CliRunner().invoke(app, ["grade", str(SAMPLING), str(subs), "--out", str(out), "--cluster", address])
    assert run.exit_code == 1 and "Traceback" not in run.output
    assert f"--cluster {address}: no TLS certificate for this client in Dask's configuration" in run.output
    assert not out.exists()  # refused before anything: no gradebook

    other = certificates(tmp_path / "other-ca")  # a certificate of another CA: the scheduler refuses it
    with dask_config(client_config(other)), pytest.raises(GraderError) as refused:
        grade(sampling, sampling_plan, subs, tmp_path / "other-out", address, said=[])
    assert str(refused.value).startswith(f"--cluster {address}: cannot reach the scheduler (")
    assert "\n" not in str(refused.value)
