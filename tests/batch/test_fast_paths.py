"""What ``grader grade`` and ``grader export`` do first: intake, the refusals and "nothing to grade" come before any
kernel is started or model loaded, and before torch is imported (unless the machine changed: the environment of
the ground truth is then asked of torch again); export never imports torch. Checked by what a fresh process had
imported by the time it exits, never by how long it took (bench/fastpaths.py measures that)."""

import os
import shutil
import subprocess
import sys

import pytest
import torch
from safetensors.torch import save_file

from grader.assignment.gtkey import groundtruth_key
from grader.assignment.gtsources import cache_folder
from grader.assignment.spec import load_assignment
from grader.batch.intake import load_submissions
from grader.batch.outfolder import write_outputs
from grader.batch.run import BatchSettings, open_batch, spec_info
from tests.batch.helpers import fake_result, sandbox_args
from tests.helpers import GREEDY, MINI_SPEC, REPO, SOFTMAX, notebook

KERNELS = ("transformers", "jupyter_client", "grader.sandbox.zygote.launcher", "grader.batch.pool", "distributed")
HEAVY = ("torch", *KERNELS)
PROBE = f"""
import sys
from grader.cli import app
try:
    app(sys.argv[1:], prog_name="grader")
except SystemExit as exc:
    code = exc.code
print("IMPORTED:" + ",".join(m for m in {HEAVY!r} if m in sys.modules))
sys.exit(code)
"""
FILE_CASE = 'args = { logits = { file = "data/logits.safetensors", key = "logits" } }'


def grader(*args: str, env: dict | None = None) -> tuple[int, str, set[str]]:
    """Run ``grader ARGS`` in a fresh process: exit status, output, and which heavy modules it had imported."""
    environment = {**os.environ, **(env or {})}
    cmd = [sys.executable, "-c", PROBE, *args]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300, env=environment)
    output, _, imported = done.stdout.rpartition("IMPORTED:")
    return done.returncode, output + done.stderr, set(filter(None, imported.strip().split(",")))


@pytest.fixture
def graded_class(tmp_path):
    """A mini assignment whose greedy case reads a file, three students, and an output folder in which all three
    are graded (synthetic results, recorded through the batch's own steps), class files written."""
    folder = tmp_path / "mini"
    folder.mkdir()
    (folder / "assignment.toml").write_text(
        MINI_SPEC.replace("args = { logits = { randn = [3, 7], seed = 0 } }", FILE_CASE)
    )
    (folder / "data").mkdir()
    save_file({"logits": torch.tensor([[1.0, 3.0, 2.0]])}, str(folder / "data" / "logits.safetensors"))
    notebook(folder, "mini", GREEDY, SOFTMAX)
    subs, out = tmp_path / "subs", tmp_path / "out"
    for sid in ("alice", "bob", "carol"):
        notebook(subs, sid, GREEDY, SOFTMAX)
    spec = load_assignment(folder)
    intake = load_submissions(subs, "mini.ipynb", out / "unpacked")
    with open_batch(
        spec_info(spec), lambda: groundtruth_key(spec, cache_folder(out)), intake, out, BatchSettings()
    ) as b:
        for task in b.tasks:
            result = fake_result(task.sub.student_id, {"greedy_next_token: random": True})
            b.gb.record(b.run_id, result, task.fingerprint)
            write_outputs(result, out)
        b.finish_without_grading()
    return folder, subs, out


def test_a_rerun_with_nothing_to_grade_starts_no_kernel_and_imports_no_torch(graded_class):
    folder, subs, out = graded_class
    code, output, imported = grader("grade", str(folder), str(subs), "--out", str(out), *sandbox_args())
    assert code == 0, output
    assert "3 submission(s) already graded, skipped" in output and "nothing to grade" in output
    assert imported == set()


def test_another_assignment_is_refused_before_anything_is_loaded(graded_class, tmp_path):
    folder, subs, out = graded_class
    other = tmp_path / "other"
    shutil.copytree(folder, other)
    toml = other / "assignment.toml"
    toml.write_text(toml.read_text().replace('id = "mini"', 'id = "other"'))
    code, output, imported = grader("grade", str(other), str(subs), "--out", str(out), *sandbox_args())
    assert code == 1 and output.strip().startswith("error:") and "holds grades of assignment 'mini'" in output
    assert imported == set()


def test_a_changed_spec_is_refused_before_anything_is_loaded(graded_class):
    folder, subs, out = graded_class
    toml = folder / "assignment.toml"
    toml.write_text(toml.read_text().replace("points = 2", "points = 4"))
    code, output, imported = grader("grade", str(folder), str(subs), "--out", str(out), *sandbox_args())
    assert code == 1 and "the spec changed since" in output and imported == set()


def test_a_changed_input_file_is_refused_with_one_line_before_any_kernel_starts(graded_class):
    folder, subs, out = graded_class
    save_file({"logits": torch.tensor([[3.0, 1.0, 2.0]])}, str(folder / "data" / "logits.safetensors"))
    code, output, imported = grader("grade", str(folder), str(subs), "--out", str(out), *sandbox_args())
    assert code == 1, output
    [line] = output.strip().splitlines()
    assert line.startswith("error:") and "3 grade(s) graded against another ground truth" in line
    assert "pass --regrade" in line
    assert imported == set()  # the file is hashed again; the environment is remembered


def test_on_a_changed_machine_the_environment_is_asked_of_torch_again_and_no_kernel_starts(graded_class):
    folder, subs, out = graded_class
    args = ["grade", str(folder), str(subs), "--out", str(out), *sandbox_args()]
    hidden_gpus = {"CUDA_VISIBLE_DEVICES": ""}  # the witness of the machine differs; the device is still the CPU
    code, output, imported = grader(*args, env=hidden_gpus)
    assert code == 0 and "nothing to grade" in output, output  # the same ground truth: the grades stand
    assert "torch" in imported and not imported & set(KERNELS)
    code, output, imported = grader(*args, env=hidden_gpus)
    assert code == 0 and imported == set()  # remembered again


def test_export_imports_no_torch(graded_class):
    _, _, out = graded_class
    code, output, imported = grader("export", str(out), "--format", "all")
    assert code == 0, output
    assert imported == set()
    assert (out / "exports" / "junit.xml").is_file() and not (out / "exports" / "gradebook.csv").exists()
