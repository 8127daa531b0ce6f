"""What the orchestrator knows of the workers, asked of each with ``Client.run``: which are ready to grade (and
with how many slots), which were refused and why. Each is announced once, through ``say``."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from distributed import Client

from grader.cluster.plugin import worker_status

POLL_S = 5.0  # how often the workers are asked whether they are ready (new ones join, refused ones are named)


@dataclass
class Workers:
    """What the orchestrator knows of the workers: who is ready (with slots), who was refused and why."""

    address: str
    say: Callable[[str], None]
    ready: dict[str, int] = field(default_factory=dict)
    gpus: dict[str, float] = field(default_factory=dict)  # the ready workers that offer the resource GPU
    refused: dict[str, str] = field(default_factory=dict)
    there: int = 0  # workers that answered the latest poll

    async def poll(self, client: Client) -> None:
        """Ask every worker; say each newly ready or refused worker once."""
        answers = await client.run(worker_status, on_error="return")
        self.there = len(answers)
        for worker, status in sorted(answers.items()):
            if isinstance(status, BaseException) and import_failure(status):
                status = {"state": "refused", "refusal": f"cannot run the grader's plugin ({import_failure(status)})"}
            elif isinstance(status, BaseException):
                continue  # gone meanwhile: asked again at the next poll
            if status["state"] == "ready" and worker not in self.ready:
                self.ready[worker] = status["slots"]
                gpus = status.get("gpus", 0)
                if gpus:
                    self.gpus[worker] = gpus
                with_gpus = f", {gpus:g} GPU(s)" if gpus else ""
                self.say(f"worker {worker}: {status['slots']} slot(s){with_gpus}; {status['notice']}")
            elif status["state"] == "refused" and self.refused.get(worker) != status["refusal"]:
                self.refused[worker] = status["refusal"]
                self.say(f"worker {worker}: {status['refusal']}")
        for gone in set(self.ready) - set(answers):
            del self.ready[gone]
            self.gpus.pop(gone, None)
        for gone in set(self.refused) - set(answers):
            del self.refused[gone]

    def waiting(self, gpu: bool) -> str:
        """What a run needing ``gpu`` waits for, in one line; "" when a worker may take its work, or while the
        workers there are still setting up."""
        if not self.there:
            return f"waiting for a worker to join {self.address}"
        if gpu and self.ready and not self.gpus:
            return (
                f"waiting for a worker with a GPU to join {self.address}: this assignment's kernels need one "
                f"([limits] gpu = true); start one with `grader worker {self.address} --gpus 1` "
                f'(or `dask worker {self.address} --resources "GPU=1"`)'
            )
        return ""

    def refusals(self) -> str:
        return "; ".join(f"worker {w}: {why}" for w, why in sorted(self.refused.items()))


def import_failure(exc: BaseException) -> str:
    """The message of an import that failed on a worker (its grader is older or missing), else "". Dask
    sometimes passes the worker's exception on as a plain ``Exception("ModuleNotFoundError(...)")``."""
    if isinstance(exc, ImportError):
        return str(exc)
    found = re.fullmatch(r"""(?:ModuleNotFoundError|ImportError)\((['"])(.*)\1\)""", str(exc))
    return found[2] if found else ""
