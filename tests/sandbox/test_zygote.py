"""The fast start's own promises: forked kernels share nothing, the zygote stays out of reach, and when the zygote
cannot start or dies, kernels still start (plainly), saying so. The sandbox's guarantees themselves are the
whole sandbox suite, which runs with both launchers (``LAUNCHERS`` in conftest)."""

from __future__ import annotations

import dataclasses
import os
import signal
from pathlib import Path

import pytest

from grader.assignment.spec import Limits, load_assignment
from grader.common.settings import TIMEOUTS
from grader.sandbox.bubblewrap import BubblewrapLauncher
from grader.sandbox.isolation import choose_launcher, preload_for
from grader.sandbox.launcher import RunDir
from grader.sandbox.zygote import client as zygote_client
from grader.sandbox.zygote.launcher import ZygoteLauncher
from tests.helpers import REPO
from tests.sandbox.helpers import Kernel

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def zygote():
    launcher = ZygoteLauncher(uid_base=65000 + 16 * (os.getpid() % 64), preload=["numpy"])
    yield launcher
    launcher.close()


@pytest.fixture(scope="module")
def warm_zygote(tmp_path_factory):
    """A zygote that warmed up the course model and a broken model folder."""
    from reference.models import course_lm_path

    broken = tmp_path_factory.mktemp("broken-lm")
    broken.chmod(0o755)
    (broken / "config.json").write_text('{"model_type": "gpt2", "n_layer": "two"}')
    launcher = ZygoteLauncher(
        assets={"course-lm": course_lm_path(), "broken-lm": broken},
        uid_base=65008 + 16 * (os.getpid() % 64),
        preload=["transformers"],
    )
    yield launcher
    launcher.close()


@pytest.fixture
def start(zygote, tmp_path):
    kernels = []

    def start_kernel(slot: int = 0, launcher=None) -> Kernel:
        run = RunDir(tmp_path / f"run{len(kernels)}").create()
        kernel = Kernel(launcher or zygote, run, Limits(), slot)
        kernels.append(kernel)
        return kernel.start()

    yield start_kernel
    for kernel in kernels:
        kernel.stop()


def test_forked_kernels_draw_different_random_numbers_from_every_generator(start):
    draw = "[torch.rand(1).item(), numpy.random.rand(), random.random()]"
    first = start(0).value(draw, setup="import torch, numpy, random")
    second = start(1).value(draw, setup="import torch, numpy, random")
    assert all(a != b for a, b in zip(first, second, strict=True)), (first, second)


def test_a_forked_kernel_has_one_torch_thread_and_its_parallel_ops_do_not_hang(start):
    kernel = start()
    assert kernel.value("torch.get_num_threads()", setup="import torch") == 1
    parallel = "torch.set_num_threads(2)\nx = torch.randn(512, 512)\ny = (x @ x).sum().item()"
    assert kernel.value("torch.get_num_threads()", setup=parallel, timeout=30) == 2  # a pool made after fork works


def test_the_zygote_is_out_of_reach_of_its_kernels(start, zygote):
    kernel = start()
    zygote_pid = zygote._client._process.pid
    zygote_sockets = {os.readlink(f"/proc/{zygote_pid}/fd/{fd}") for fd in os.listdir(f"/proc/{zygote_pid}/fd")}
    zygote_sockets = {link for link in zygote_sockets if link.startswith("socket:")}
    fds = "[f'/proc/self/fd/{fd}' for fd in os.listdir('/proc/self/fd')]"
    links = kernel.value(f"[os.readlink(path) for path in {fds} if os.path.lexists(path)]")
    assert zygote_sockets and not zygote_sockets & set(links)
    pids = kernel.value("sorted(int(p) for p in os.listdir('/proc') if p.isdigit())")
    assert pids[0] == 1 and len(pids) == 2, pids  # its namespace's init and itself: not the zygote, not the host
    assert kernel.value("os.getppid()") == 1
    assert kernel.value("open('/proc/1/cmdline').read().split(chr(0))[:3]")[1:3] == ["-I", "-S"]  # the reaper


def test_a_dead_zygote_is_replaced_and_kernels_keep_starting(start, zygote):
    old = zygote._client._process.pid
    os.kill(old, signal.SIGKILL)
    zygote._client._process.wait()
    assert start().value("1 + 1") == 2
    assert zygote._client._process.pid != old
    assert "the zygote had died and was restarted" in zygote.notices


def test_when_the_zygote_cannot_start_kernels_start_plainly_and_the_notice_says_why(monkeypatch, tmp_path):
    monkeypatch.setattr(zygote_client, "TIMEOUTS", dataclasses.replace(TIMEOUTS, zygote_start_s=0.001))
    launcher, notice = choose_launcher({}, require_sandbox=True)
    assert type(launcher) is BubblewrapLauncher
    assert "fast start unavailable (zygote did not start: no answer from the zygote" in notice
    run = RunDir(tmp_path / "run").create()
    kernel = Kernel(launcher, run, Limits(), 0).start()
    try:
        assert kernel.value("1 + 1") == 2
    finally:
        kernel.stop()


def test_what_the_zygote_preloads_comes_from_the_assignment():
    sampling = load_assignment(REPO / "assignments" / "03-sampling")
    tokenization = load_assignment(REPO / "assignments" / "01-tokenization")
    assert set(preload_for({"course-lm": Path("/m")}, sampling.notebook_path)) == {"transformers", "torch"}
    assert preload_for({}, tokenization.notebook_path) == []


def test_a_planted_symlink_or_fifo_in_place_of_the_kernels_connection_file_is_replaced(zygote, tmp_path):
    target = tmp_path / "host-file"
    target.write_text("keep me")
    for plant in (lambda path: path.symlink_to(target), lambda path: os.mkfifo(path)):
        run = RunDir(tmp_path / f"run-{len(list(tmp_path.iterdir()))}").create()
        plant(run.ipc / "kernel-sandbox.json")  # what an earlier kernel of the run could leave before a restart
        kernel = Kernel(zygote, run, Limits(), 0).start()
        try:
            assert kernel.value("1 + 1") == 2
        finally:
            kernel.stop()
    assert target.read_text() == "keep me"


def test_the_zygote_warms_up_model_folders_in_the_template_and_stays_single_threaded(warm_zygote):
    assert set(warm_zygote.warm_up_errors) == {"/assets/broken-lm"}  # a broken folder does not stop the zygote
    zygote_pid = warm_zygote._client._process.pid
    assert os.listdir(f"/proc/{zygote_pid}/task") == [str(zygote_pid)]
    assert os.readlink(f"/proc/{zygote_pid}/ns/mnt") == os.readlink("/proc/self/ns/mnt")  # back from the template


def test_a_kernel_of_a_warmed_zygote_loads_the_model_and_its_parallel_ops_do_not_hang(warm_zygote, start):
    from reference.models import load_course_lm

    model, tokenizer = load_course_lm()
    ids = tokenizer("The cat sat on the", return_tensors="pt").input_ids
    expected = model.generate(ids, max_new_tokens=8, do_sample=False, pad_token_id=0)[0].tolist()
    load = (
        "import torch\nfrom transformers import AutoModelForCausalLM, AutoTokenizer\n"
        "model = AutoModelForCausalLM.from_pretrained('/assets/course-lm')\n"
        "tokenizer = AutoTokenizer.from_pretrained('/assets/course-lm')\n"
        "ids = tokenizer('The cat sat on the', return_tensors='pt').input_ids\n"
        "torch.set_num_threads(2)\nx = torch.randn(512, 512)\ny = (x @ x).sum().item()"
    )
    generated = "model.generate(ids, max_new_tokens=8, do_sample=False, pad_token_id=0)[0].tolist()"
    assert start(launcher=warm_zygote).value(generated, setup=load, timeout=60) == expected
