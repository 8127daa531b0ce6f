"""The zygote's warm-up: each model asset loaded once before forking, so every kernel inherits what a first
``from_pretrained`` builds (see :func:`warm_up`). Runs in the zygote (:mod:`grader.sandbox.zygote.server`),
single-threaded.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
import warnings
from pathlib import Path

from grader.compat.transformers import loading_without_threads
from grader.sandbox import linux


def warm_up(folders: list[str], namespace: int) -> dict[str, str]:
    """Load each model folder once as the harness does (``from_pretrained``) and drop the result, so that every
    kernel finds what a first load builds (compiled regexes of the weight conversions, lazily imported modules)
    instead of building it (the course model and its tokenizer: ~30 ms instead of ~110 ms in a kernel).
    Returns {folder: error}.

    It runs in the template mount namespace: it reads the folders at the paths kernels use and nothing a kernel
    could not read (transformers reads the mount table, for one; the host's stays out of the zygote's memory).
    A failure costs only that time, so it is returned, never raised; only failing to come back to the host's
    namespace is raised (the zygote cannot serve from the template).
    """
    if not folders:
        return {}
    host = os.open("/proc/self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    try:
        linux.setns(namespace, linux.CLONE_NEWNS)  # also sets the root and cwd to the template's /
    except OSError as exc:
        os.close(host)
        return dict.fromkeys(folders, f"cannot enter the template namespace: {exc}")
    try:
        errors = {}
        for folder in folders:
            try:
                with _single_threaded_loading():
                    from transformers import AutoModelForCausalLM, AutoTokenizer

                    AutoModelForCausalLM.from_pretrained(folder, local_files_only=True)
                    if any((Path(folder) / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json")):
                        AutoTokenizer.from_pretrained(folder, local_files_only=True)
            except Exception as exc:
                errors[folder] = f"{type(exc).__name__}: {exc}"[:500]
    finally:
        linux.setns(host, linux.CLONE_NEWNS)
        os.close(host)
    gc.collect()  # what the loads left in reference cycles is not copied into every kernel
    return errors


@contextlib.contextmanager
def _single_threaded_loading():
    """transformers loads without its progress bar and loader threads (:mod:`grader.compat.transformers`); any
    other thread start raises. Warnings stay unseen, and so unrecorded in the "once" registries kernels inherit.
    The environment and ``Thread.start`` are restored afterwards."""
    start, environ = threading.Thread.start, dict(os.environ)

    def refuse(thread: threading.Thread) -> None:
        raise RuntimeError(f"the warm-up may not start a thread ({thread.name})")

    threading.Thread.start = refuse
    try:
        with loading_without_threads(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        threading.Thread.start = start
        os.environ.clear()
        os.environ.update(environ)
