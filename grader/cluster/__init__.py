"""Grading a class on a Dask cluster: the orchestrator keeps the gradebook, workers grade one submission each.

    connect.py  the Dask client: a LocalCluster (``local:N``) or an existing scheduler (``tcp://``, ``tls://``)
    facts.py    what must be the same on a worker as on the orchestrator (code, torch, transformers, assets)
    plugin.py   the worker plugin: the plan (by hash), the version check, the worker's sandbox and slots
    pool.py     the orchestrator's side: one Dask task per submission, each result committed once
    workers.py  which workers are ready, which were refused and why (asked of each, said once)
    worker.py   ``grader worker``: the ``dask worker`` command line with one sandbox slot per thread
    run.py      ``grader grade --cluster``: all of it around :meth:`grader.batch.run.ClassBatch.grade`

The orchestrator (:mod:`grader.batch`) still owns intake, the plan and its ground truth (computed once, here),
the gradebook (one transaction per result), the files and the exports; only :func:`grader.batch.pool.run_pool`
is replaced, by :class:`grader.cluster.pool.ClusterPool`. Workers are the course staff's machines: they get the
plan with its hidden cases; student code still runs only in their sandboxed kernels.
"""
