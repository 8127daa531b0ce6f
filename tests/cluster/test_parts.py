"""The cluster's parts that need no process: the plan as bytes for the workers (hidden cases kept, a release's
bundle unchanged), the version facts and their message, the addresses ``--cluster`` accepts, ``grader worker``."""

from __future__ import annotations

import json
import shutil

import pytest

from grader.assignment.bundle import BUNDLE_JSON
from grader.assignment.plan import decode_plan, encode_plan, save_bundle
from grader.cluster.connect import check_address
from grader.cluster.facts import differences, tree_digest
from grader.cluster.worker import worker_command
from grader.cluster.workers import import_failure
from grader.errors import GraderError, ReleaseError
from tests.helpers import REPO


def test_the_plan_reaches_workers_with_its_hidden_cases(mini_plan, tmp_path):
    plan = decode_plan(*encode_plan(mini_plan), lambda name: tmp_path / name, "here")
    assert [(c.name, c.hidden, c.weight) for q in plan.questions for c in q.cases] == [
        (c.name, c.hidden, c.weight) for q in mini_plan.questions for c in q.cases
    ]
    assert any(c.hidden for q in plan.questions for c in q.cases)
    assert [q.function for q in plan.questions] == [q.function for q in mini_plan.questions]
    assert plan.limits == mini_plan.limits and plan.provenance == mini_plan.provenance


def test_a_release_bundle_still_refuses_hidden_cases_and_says_nothing_of_them(mini_plan, tmp_path):
    with pytest.raises(ReleaseError, match="refusing to write hidden cases"):
        save_bundle(mini_plan, tmp_path / "hidden")
    save_bundle(mini_plan.public(), tmp_path / "public")
    assert '"hidden"' not in (tmp_path / "public" / BUNDLE_JSON).read_text()


def test_broken_plan_bytes_are_one_clear_error(mini_plan):
    plan_json, tensors = encode_plan(mini_plan)
    with pytest.raises(ReleaseError, match="^plan abc: not a valid test bundle"):
        decode_plan(plan_json[:-20], tensors, lambda name: name, "plan abc")


def test_a_version_difference_names_both_sides():
    ours = {"grader code": "aaaa", "torch": "2.13.0", "asset course-lm": "1234"}
    theirs = {"grader code": "aaaa", "torch": "2.12.0", "asset course-lm": "5678"}
    assert differences(theirs, ours) == [
        "torch 2.12.0 here, 2.13.0 on the orchestrator",
        "asset course-lm 5678 here, 1234 on the orchestrator",
    ]
    assert differences(ours, ours) == []
    assert differences({}, {"torch": "2.13.0"}) == ["torch unknown here, 2.13.0 on the orchestrator"]


def test_the_code_digest_is_the_same_wherever_the_code_is_and_changes_with_it(tmp_path):
    copy = tmp_path / "elsewhere" / "grader"
    shutil.copytree(REPO / "grader", copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert tree_digest([("grader", copy, "*.py")]) == tree_digest([("grader", REPO / "grader", "*.py")])
    with open(copy / "errors.py", "a") as f:
        f.write("# changed\n")
    assert tree_digest([("grader", copy, "*.py")]) != tree_digest([("grader", REPO / "grader", "*.py")])


@pytest.mark.parametrize("address", ["local:2", "local:16", "tcp://10.0.0.5:8786"])
def test_cluster_addresses_accepted(address):
    check_address(address)


def test_a_tls_address_without_certificates_in_the_dask_config_is_one_line():
    # accepted with certificates: tests/cluster/test_tls.py
    with pytest.raises(GraderError) as refused:
        check_address("tls://sched.example:8786")
    assert str(refused.value).startswith(
        "--cluster tls://sched.example:8786: no TLS certificate for this client in Dask's configuration: set "
        "distributed.comm.tls.ca-file"
    )


@pytest.mark.parametrize("address", ["local:0", "local:two", "local:", "10.0.0.5:8786", "http://x:8786", ""])
def test_other_cluster_addresses_are_refused_in_one_line(address):
    with pytest.raises(GraderError, match="expected local:N, slurm:N, tcp://HOST:PORT or tls://HOST:PORT"):
        check_address(address)


def test_grader_worker_runs_dask_worker_with_one_slot_per_thread():
    command = worker_command("tcp://10.0.0.5:8786", jobs=3, name="cpu-node-1")
    assert command[1:4] == ["-m", "distributed.cli.dask_worker", "tcp://10.0.0.5:8786"]
    assert json.dumps(command[4:]) == json.dumps(
        ["--nworkers", "1", "--nthreads", "3", "--no-dashboard", "--name", "cpu-node-1"]
    )
    gpus = worker_command("tcp://10.0.0.5:8786", jobs=3, name="gpu-node-1", gpus=2)
    assert json.dumps(gpus[4:]) == json.dumps(
        ["--nworkers", "1", "--nthreads", "3", "--no-dashboard", "--resources", "GPU=2", "--name", "gpu-node-1"]
    )


@pytest.mark.parametrize(
    ("exc", "message"),
    [
        (ModuleNotFoundError("No module named 'grader.cluster'"), "No module named 'grader.cluster'"),
        (Exception("""ModuleNotFoundError("No module named 'grader.cluster'")"""), "No module named 'grader.cluster'"),
        (Exception("ImportError('cannot import name x')"), "cannot import name x"),
        (OSError("Timed out trying to connect"), ""),
        (Exception("ModuleNotFoundError: not the repr of one"), ""),
    ],
)
def test_a_worker_whose_grader_cannot_load_the_plugin_is_told_apart_from_a_lost_one(exc, message):
    assert import_failure(exc) == message
