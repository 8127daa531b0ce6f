"""The Dask client of a cluster run: a LocalCluster of N worker processes (``local:N``, bound to 127.0.0.1), N SLURM
jobs (``slurm:N``, :mod:`grader.cluster.slurm`) or an existing scheduler (``tcp://HOST:PORT``; ``tls://HOST:PORT``
with the certificates of Dask's security config)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from distributed import Client, LocalCluster

from grader.cluster.slurm import SLURM, slurm_cluster
from grader.errors import GraderError

CONNECT_S = 30  # how long to try reaching a scheduler before saying it cannot be reached
ALLOWED_FAILURES = 1  # a task is retried after its worker died once; the second death is the student's error
_LOCAL = re.compile(r"local:([1-9][0-9]{0,3})")


@asynccontextmanager
async def connect(address: str) -> AsyncIterator[Client]:
    """A connected asynchronous client for ``address``; the scheduler retries a task once after its worker died."""
    check_address(address)
    if match := _LOCAL.fullmatch(address):
        async with (
            LocalCluster(
                n_workers=int(match[1]),
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                asynchronous=True,
            ) as cluster,
            Client(cluster, asynchronous=True) as client,
        ):
            await allow_failures(client)
            yield client
        return
    if match := SLURM.fullmatch(address):
        async with slurm_cluster(int(match[1])) as cluster, Client(cluster, asynchronous=True) as client:
            await allow_failures(client)
            yield client
        return
    try:
        client = await Client(address, asynchronous=True, timeout=CONNECT_S)
    except (OSError, TimeoutError) as exc:
        raise GraderError(f"--cluster {address}: cannot reach the scheduler ({exc})") from None
    async with client:
        await allow_failures(client)
        yield client


def check_address(address: str) -> None:
    """Refuse an address that names no cluster, or a ``tls://`` one without certificates, before anything is
    computed."""
    if not (_LOCAL.fullmatch(address) or SLURM.fullmatch(address) or address.startswith(("tcp://", "tls://"))):
        raise GraderError(f"--cluster {address!r}: expected local:N, slurm:N, tcp://HOST:PORT or tls://HOST:PORT")
    if address.startswith("tls://"):
        check_tls(address)


def check_tls(address: str) -> None:
    """Refuse a ``tls://`` address when Dask's configuration has no client certificate: Dask itself would fail with
    a TypeError about an ``ssl_context``. (A certificate the scheduler does not accept is refused by the scheduler,
    in one line too: "TLS certificate does not match".)"""
    from distributed.security import Security

    if Security().get_connection_args("client").get("ssl_context") is None:
        raise GraderError(
            f"--cluster {address}: no TLS certificate for this client in Dask's configuration: set "
            "distributed.comm.tls.ca-file, distributed.comm.tls.client.cert and .key (environment: "
            "DASK_DISTRIBUTED__COMM__TLS__CA_FILE, DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT, "
            "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY)"
        )


async def allow_failures(client: Client) -> None:
    """Have the scheduler raise KilledWorker once a task's workers died ``ALLOWED_FAILURES`` + 1 times (Dask's
    default is 3). The function is a lambda, so it travels by value: a plain ``dask scheduler`` runs it
    without the grader installed."""
    count = ALLOWED_FAILURES
    await client.run_on_scheduler(lambda dask_scheduler: setattr(dask_scheduler, "allowed_failures", count))
