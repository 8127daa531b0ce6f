"""A real one-node SLURM for the cluster tests: ``munged``, ``slurmctld`` and ``slurmd`` from Debian's packages
(scripts/setup.sh installs them when it runs as root), with a private configuration, state and ports, so that
dask-jobqueue's ``SLURMCluster`` submits its worker jobs through ``sbatch`` as it would on a department's cluster.

The daemons run as root and the jobs as the user who submits them (root here); the grading sandbox inside a job is
the one every worker uses. Nothing of the machine's own SLURM configuration (if any) is read or changed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "sinfo")
STARTUP_S = 60  # a bound on waiting for the node to be idle (a broken set-up fails the test instead of hanging)


def missing() -> str:
    """Why SLURM cannot run here ("" if it can)."""
    absent = [name for name in DAEMONS if shutil.which(name) is None]
    if absent:
        return f"SLURM is not installed ({', '.join(absent)} missing; scripts/setup.sh installs it as root)"
    if os.geteuid() != 0:
        return "the one-node SLURM of the tests runs its daemons as root"
    return ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SlurmNode:
    """This machine as a one-node SLURM cluster; :attr:`env` is what ``sbatch`` and friends need (SLURM_CONF)."""

    def __init__(self, cpus: int = 2):
        # short paths: munge's socket is a Unix socket (at most 107 bytes)
        self.folder = Path(tempfile.mkdtemp(prefix="slurm-"))
        self.cpus = cpus
        self.env = {**os.environ, "SLURM_CONF": str(self.folder / "slurm.conf")}
        self.pids: list[Path] = []

    def __enter__(self) -> SlurmNode:
        try:
            self._munge()
            self._configure()
            for daemon, pid in (("slurmctld", "slurmctld.pid"), ("slurmd", "slurmd.pid")):
                subprocess.run([daemon] + (["-i"] if daemon == "slurmctld" else []), env=self.env, check=True)
                self.pids.append(self.folder / pid)
            self._wait_idle()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        subprocess.run(["scancel", "--full", "--user", "root"], env=self.env, capture_output=True)
        for pid_file in reversed(self.pids):
            try:
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
            except (OSError, ValueError, IndexError):
                pass
        shutil.rmtree(self.folder, ignore_errors=True)

    def log(self) -> str:
        logs = sorted(self.folder.glob("*.log")) + sorted(self.folder.glob("job-*.out"))
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-2000:]}" for p in logs)

    def _munge(self) -> None:
        key = self.folder / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        munge = self.folder / "munge"
        subprocess.run(
            ["munged", "--force", f"--socket={munge}.sock", f"--key-file={key}", f"--log-file={munge}.log"]
            + [f"--pid-file={munge}.pid", f"--seed-file={munge}.seed"],
            check=True,
        )
        self.pids.append(self.folder / "munge.pid")

    def _configure(self) -> None:
        f, host = self.folder, socket.gethostname().split(".")[0]
        (f / "state").mkdir()
        (f / "spool").mkdir()
        conf = f"""\
ClusterName=grader-tests
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={f}/munge.sock
CredType=cred/munge
StateSaveLocation={f}/state
SlurmdSpoolDir={f}/spool
SlurmctldPidFile={f}/slurmctld.pid
SlurmdPidFile={f}/slurmd.pid
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmctldLogFile={f}/slurmctld.log
SlurmdLogFile={f}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
NodeName={host} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory=8000 State=UNKNOWN
PartitionName=grading Nodes={host} Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
"""
        (f / "slurm.conf").write_text(conf)

    def _wait_idle(self) -> None:
        deadline = time.monotonic() + STARTUP_S
        while True:
            state = subprocess.run(["sinfo", "-h", "-o", "%T"], env=self.env, capture_output=True, text=True)
            if state.stdout.strip() == "idle":
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the SLURM node is not idle: {state.stdout!r} {state.stderr!r}\n{self.log()}")
            time.sleep(0.3)
