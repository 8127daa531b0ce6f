"""Real Dask processes for the cluster tests: a ``dask scheduler`` and ``dask worker``s on 127.0.0.1, started with
this checkout (or another copy of the grader) on their PYTHONPATH, killed at the end."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from distributed import Client

from reference.models import cache_dir
from tests.helpers import REPO

STARTUP_S = 120  # only a bound on waiting for a process to come up (a broken one fails the test instead of hanging)


class DaskProcesses:
    """A scheduler and its workers, each a child process with its log in ``folder``."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.procs: dict[str, subprocess.Popen] = {}
        self.scratch: list[Path] = []  # folders outside ``folder``, removed at the end
        self.address = ""

    def __enter__(self) -> DaskProcesses:
        return self

    def __exit__(self, *exc) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)  # the worker's whole group: its zygote and kernels too
                proc.wait()
        for folder in self.scratch:
            shutil.rmtree(folder, ignore_errors=True)

    def scheduler(self, without_grader: bool = False, env: dict | None = None, protocol: str = "tcp") -> str:
        """Start a scheduler (``without_grader``: where ``grader`` is an empty package, as in an environment
        with Dask alone; ``env``: more environment variables, ``protocol``: tcp or tls); its address."""
        info = self.folder / f"scheduler-{len(self.procs)}.json"  # a second scheduler has its own
        path = REPO
        if without_grader:
            path = self.folder / "dask-only"
            (path / "grader").mkdir(parents=True)
            (path / "grader" / "__init__.py").write_text("")
        self._start(
            "scheduler",
            ["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0", "--protocol", protocol]
            + ["--no-dashboard", "--scheduler-file", str(info)],
            {**self._env(path), **(env or {})},
        )
        deadline = time.monotonic() + STARTUP_S
        while not info.is_file() or not info.read_text().strip():
            assert time.monotonic() < deadline and self.procs["scheduler"].poll() is None, self.log("scheduler")
            time.sleep(0.2)
        self.address = json.loads(info.read_text())["address"]
        return self.address

    def grader_worker(self, name: str, gpus: int = 0) -> None:
        """Start worker ``name`` with ``grader worker --jobs 1 [--gpus N]`` (a nanny and its worker process)."""
        scratch = self.folder / f"{name}-scratch"
        scratch.mkdir()
        command = ["grader.cli", "worker", self.address, "--jobs", "1", "--host", "127.0.0.1", "--name", name]
        command += ["--gpus", str(gpus)] if gpus else []
        self._start(name, command, self._env(REPO, home=scratch), cwd=scratch)

    def worker(
        self, name: str, pythonpath: Path = REPO, user: int | None = None, resources: str = "", env: dict | None = None
    ) -> None:
        """Start worker ``name`` (one slot, no nanny: its process is the worker); ``user``: run it as that uid;
        ``resources``: ``dask worker --resources``; ``env``: more environment variables (Dask's TLS config)."""
        scratch = self.folder / f"{name}-scratch"
        if user is not None:  # pytest's folders are root's alone: this worker's is outside them
            scratch = Path(tempfile.mkdtemp(prefix=f"grader-test-{name}-"))
            self.scratch.append(scratch)
        scratch.mkdir(exist_ok=True)
        env = {**self._env(pythonpath, home=scratch), **(env or {})}
        command = ["distributed.cli.dask_worker", self.address, "--nthreads", "1", "--no-nanny", "--host", "127.0.0.1"]
        command += ["--no-dashboard", "--name", name, "--local-directory", str(scratch)]
        command += ["--resources", resources] if resources else []
        prefix = []
        if user is not None:
            os.chown(scratch, user, user)
            prefix = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"]
            # where this venv's interpreter lives below a folder only root may enter (/root/.pyenv), the worker's
            # children (its --no-sandbox kernels) may still start it: they keep the right to search folders. Not
            # root, the worker still cannot sandbox.
            prefix += ["--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]
        self._start(name, command, env, prefix, cwd=scratch)

    def wait_for_workers(self, count: int) -> dict[str, str]:
        """Wait until ``count`` workers are connected; {name: address}."""
        with Client(self.address, timeout=STARTUP_S) as client:
            client.wait_for_workers(count, timeout=STARTUP_S)
            return {w["name"]: addr for addr, w in client.scheduler_info(n_workers=-1)["workers"].items()}

    def kill(self, name: str) -> None:
        os.killpg(self.procs[name].pid, signal.SIGKILL)
        self.procs[name].wait()

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")[-3000:]

    def _start(self, name: str, args: list[str], env: dict, prefix: list[str] = (), cwd: Path | None = None) -> None:
        """Start ``python -m ARGS`` in ``cwd`` (not the checkout: ``-m`` puts the working folder first on sys.path)."""
        log = open(self.folder / f"{name}.log", "wb")  # noqa: SIM115 (the child keeps it)
        command = [*prefix, sys.executable, "-m", *args]
        self.procs[name] = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=cwd or self.folder
        )
        log.close()

    @staticmethod
    def _env(pythonpath: Path, home: Path | None = None) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DASK_", "PYTEST_"))}
        env.update(PYTHONPATH=str(pythonpath), LLM_COURSE_CACHE=str(cache_dir()), HF_HUB_OFFLINE="1")
        env["TRANSFORMERS_OFFLINE"] = "1"
        if home is not None:
            env["HOME"] = str(home)  # not TMPDIR: kernels' IPC socket paths must stay short
        return env
