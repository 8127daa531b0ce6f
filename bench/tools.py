"""Where the benchmarked tools live and the environments they run in (bench/speed.py and its modules).

Every notebook kernel in the benchmark is the same interpreter, this project's .venv, with the grader's
kernel settings (one thread per numeric library, offline): our grader starts it itself, and nbgrader and
nbconvert (from .bench/nbgrader-venv, bench/nbgrader_setup.sh) start it through a ``python3`` kernelspec
that :func:`jupyter_env` puts first on JUPYTER_PATH.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

from grader.sandbox.launcher import KERNEL_ENV  # noqa: E402  (every kernel here gets the grader's settings)

ASSIGNMENT = REPO / "assignments" / "03-sampling"
BENCH = REPO / ".bench"
NBG_VENV = BENCH / "nbgrader-venv"
OUR_PY = REPO / ".venv" / "bin" / "python"
GRADER = REPO / ".venv" / "bin" / "grader"
NO_FAST_START = "--no-fast-start"  # `grader grade` / `grader check`: the plain sandboxed kernel start


def grader_env() -> dict[str, str]:
    """Our grader's environment: this shell's, without Jupyter's state variables, offline."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "IPYTHON"))}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PATH=f"{GRADER.parent}:/usr/bin:/bin")
    return env


def jupyter_env(run: Path) -> dict[str, str]:
    """Environment for nbgrader and nbconvert: their venv first, Jupyter state under ``run``, and a
    ``python3`` kernelspec (first on JUPYTER_PATH) that starts this project's .venv interpreter."""
    kernels = run / "jupyter-path" / "kernels" / "python3"
    kernels.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [str(OUR_PY), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (grader .venv)",
        "language": "python",
        "env": KERNEL_ENV,
    }
    (kernels / "kernel.json").write_text(json.dumps(spec, indent=1))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "IPYTHON", "VIRTUAL_ENV"))}
    env.update(
        PATH=f"{NBG_VENV / 'bin'}:/usr/bin:/bin",
        JUPYTER_PATH=str(run / "jupyter-path"),
        JUPYTER_CONFIG_DIR=str(run / "jupyter-config"),
        JUPYTER_DATA_DIR=str(run / "jupyter-data"),
        JUPYTER_RUNTIME_DIR=str(run / "jupyter-runtime"),
        IPYTHONDIR=str(run / "ipython"),
        PYTHONWARNINGS="ignore",
    )
    return env


def run_checked(cmd: list[str], env: dict, cwd: Path, what: str) -> str:
    """Run ``cmd`` to completion; exit the benchmark with its output's tail if it fails."""
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"speed: {what} failed ({' '.join(cmd)}):\n{(done.stdout + done.stderr)[-3000:]}")
    return done.stdout + done.stderr


def grader_has_flag(command: str, flag: str) -> bool:
    """Whether ``grader COMMAND --help`` lists ``flag`` (rows for flags still being built say "not available")."""
    env = {**grader_env(), "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    done = subprocess.run([str(GRADER), command, "--help"], capture_output=True, text=True, env=env)
    return re.search(rf"{re.escape(flag)}(?![\w-])", done.stdout + done.stderr) is not None


def nbconvert_cmd(paths: list[Path], out: Path) -> list[str]:
    """One ``jupyter nbconvert --execute`` process for ``paths`` (the floor: no tests at all)."""
    return [str(NBG_VENV / "bin" / "jupyter"), "nbconvert", "--to", "notebook", "--execute", "--allow-errors",
            "--output-dir", str(out), *map(str, paths)]  # fmt: skip
