"""The built wheel works on its own: installed into a fresh virtual environment and run from a folder outside
the repository, it grades example submissions (sandboxed, as a TA would), renders the reports, and a student's
``grader check`` of a release works through the check server. Editable installs hide packaging bugs (templates
that do not ship, a zygote that finds the grader only through the repository); this test is where they show.

The fresh environment gets its dependencies as hard links of this environment's site-packages (no network,
seconds instead of minutes), but never this environment's grader: only the wheel's.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import tomllib

from tests.helpers import REPO

pytestmark = pytest.mark.slow
SAMPLING = REPO / "assignments" / "03-sampling"
EXAMPLES = ("correct", "bug_greedy_float", "missing_beam_search")
OUR_OWN = ("__editable__", "llm_course_grader", "grader", "reference", "__pycache__")


def run(command: list, cwd: Path, env: dict, timeout: float = 600) -> subprocess.CompletedProcess:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{command} exited {done.returncode}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done


def link_tree(source: Path, target: Path) -> None:
    """``source`` copied into ``target`` as hard links (a plain copy across file systems)."""

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, target, copy_function=link, symlinks=True, dirs_exist_ok=True)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict]:
    """(the fresh environment's bin folder, the environment to run it in): the wheel, built now, installed."""
    root = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", root / "dist", REPO]
    run(command, root, dict(os.environ))
    wheel = next((root / "dist").glob("llm_course_grader-*.whl"))
    venv = root / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv], root, dict(os.environ))
    ours = Path(sysconfig.get_paths()["purelib"])
    theirs = next((venv / "lib").glob("python*/site-packages"))
    for entry in ours.iterdir():
        if entry.name.startswith(OUR_OWN):
            continue
        if entry.is_dir():
            link_tree(entry, theirs / entry.name)
        else:
            shutil.copy2(entry, theirs / entry.name)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(PATH=f"{venv / 'bin'}:/usr/bin:/bin", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", COLUMNS="200")
    if (REPO / ".cache" / "models").is_dir():  # the course model scripts/setup.sh built: no second build
        env["LLM_COURSE_CACHE"] = str(REPO / ".cache" / "models")
    run([sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "--no-deps", wheel], root, env)
    return venv / "bin", env


def test_the_grader_comes_from_the_wheel_with_its_templates(installed, tmp_path):
    bin_folder, env = installed
    code = "import grader, grader.common.templates as t; print(grader.__file__); print(t.template_folder())"
    package, templates = run([bin_folder / "python", "-c", code], tmp_path, env).stdout.split()
    assert "site-packages" in package and not package.startswith(str(REPO))
    names = {"feedback.html.j2", "feedback.md.j2", "summary.html.j2", "release_readme.md.j2"}
    assert {p.name for p in Path(templates).glob("*.j2")} == names


def test_it_grades_examples_in_the_sandbox_and_renders_the_reports(installed, tmp_path):
    bin_folder, env = installed
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    for name in EXAMPLES:
        shutil.copy(SAMPLING / "examples" / f"{name}.ipynb", submissions)
    sandbox = [] if os.geteuid() == 0 and shutil.which("bwrap") else ["--no-sandbox"]
    graded = run(
        [bin_folder / "grader", "grade", SAMPLING, submissions, "--out", "out", "--quiet", *sandbox], tmp_path, env
    )
    if not sandbox:  # the zygote (python -m grader.sandbox.zygote.server) found the installed grader
        assert "fast start: kernels forked from a zygote" in graded.stdout, graded.stdout
    expected = tomllib.loads((SAMPLING / "examples" / "expected.toml").read_text())
    with open(tmp_path / "out" / "gradebook.csv", newline="") as file:
        rows = {row["student_id"]: row for row in csv.DictReader(file)}
    assert set(rows) == set(EXAMPLES)
    for name in EXAMPLES:
        for function, points in expected[name].items():
            assert float(rows[name][function]) == pytest.approx(points), (name, function)
        assert rows[name]["status"] == "graded", rows[name]
    assert float(rows["correct"]["score"]) == float(rows["correct"]["max_score"])
    shutil.rmtree(tmp_path / "out" / "reports")
    run([bin_folder / "grader", "report", "out"], tmp_path, env)
    report = (tmp_path / "out" / "reports" / "bug_greedy_float.html").read_text()
    assert "greedy_next_token" in report and "What to look at" in report
    assert (tmp_path / "out" / "summary.html").is_file()


def test_a_student_checks_a_release_through_the_check_server(installed, tmp_path):
    bin_folder, env = installed
    env = {**env, "LLM_GRADER_SERVER_DIR": str(tmp_path / "server"), "LLM_GRADER_NO_SERVER": ""}
    run([bin_folder / "grader", "release", SAMPLING, "--out", "release"], tmp_path, env)
    shutil.copy(SAMPLING / "examples" / "correct.ipynb", tmp_path / "release" / "mine.ipynb")
    try:
        done = run([bin_folder / "grader", "check", "release/mine.ipynb"], tmp_path, env)
        stop = "from grader.selfcheck.client import stop; print(stop())"
        assert run([bin_folder / "python", "-c", stop], tmp_path, env).stdout.strip() == "True"  # it was running
    finally:
        subprocess.run([bin_folder / "python", "-c", "from grader.selfcheck.client import stop; stop()"], env=env)
    assert "FAIL" not in done.stdout and "this is not your grade" in done.stdout, done.stdout
    assert (tmp_path / "release" / ".feedback" / "mine.html").is_file()


def test_a_course_repository_outside_the_grader_validates_releases_and_grades(installed, tmp_path):
    """An instructor's own course repository: `grader new`, then validate, release and grade a class with the
    installed grader alone (no file of the grader's source tree: not even its course model cache)."""
    bin_folder, env = installed
    env = {key: value for key, value in env.items() if key != "LLM_COURSE_CACHE"}
    grader = bin_folder / "grader"
    sandbox = [] if os.geteuid() == 0 and shutil.which("bwrap") else ["--no-sandbox"]
    run([grader, "new", "course/05-norms"], tmp_path, env)
    assignment = tmp_path / "course" / "05-norms"
    assert (assignment / "reference.py").is_file() and (assignment / "examples" / "expected.toml").is_file()
    validated = run([grader, "validate", "course/05-norms", "-j", "2", *sandbox], tmp_path, env)
    assert "FAILED" not in validated.stdout and validated.stdout.count(" ok ") == 8, validated.stdout  # + 2 tolerances
    run([grader, "release", "course/05-norms", "--out", "release"], tmp_path, env)
    released = {p.relative_to(tmp_path / "release").as_posix() for p in (tmp_path / "release").rglob("*")}
    assert released == {"05-norms.ipynb", "README.md", "tests", "tests/public.json", "tests/public.safetensors"}
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    for example in ("correct", "bug_sum_not_mean"):
        shutil.copy(assignment / "examples" / f"{example}.ipynb", submissions / f"{example}.ipynb")
    shutil.copy(tmp_path / "release" / "05-norms.ipynb", submissions / "untouched.ipynb")
    run([grader, "grade", "course/05-norms", "submissions", "--out", "out", "--quiet", *sandbox], tmp_path, env)
    with open(tmp_path / "out" / "gradebook.csv", newline="") as file:
        scores = {row["student_id"]: float(row["score"]) for row in csv.DictReader(file)}
    assert scores == {"correct": 2.0, "bug_sum_not_mean": 0.0, "untouched": 0.0}


def test_written_answers_are_graded_and_the_review_page_serves_from_the_wheel(installed, tmp_path):
    """02-attention's written answers through the installed grader: stored by `grade`, then the review page (its
    template, script and style are package data) answers with the questions and their answers."""
    import signal

    import httpx

    bin_folder, env = installed
    attention = REPO / "assignments" / "02-attention"
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    for name in ("correct", "bug_no_scaling", "bug_weights_swapped"):
        shutil.copy(attention / "examples" / f"{name}.ipynb", submissions)
    sandbox = [] if os.geteuid() == 0 and shutil.which("bwrap") else ["--no-sandbox"]
    graded = run(
        [bin_folder / "grader", "grade", attention, submissions, "--out", "out", "--quiet", *sandbox], tmp_path, env
    )
    assert "6 written answer(s) to review by hand" in graded.stdout, graded.stdout
    server = subprocess.Popen(
        [bin_folder / "grader", "review", "out"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        url = server.stdout.readline().split()[-1]
        with httpx.Client(follow_redirects=True) as browser:
            page = browser.get(url)
            assert page.status_code == 200
            base = url.split("?")[0]
            for asset in ("review.js", "review.css"):
                assert browser.get(f"{base}static/{asset}").status_code == 200, asset
            questions = browser.get(f"{base}api/questions").json()
            assert "no-mask" in str(questions) and "heads" in str(questions)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
