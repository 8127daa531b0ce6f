"""transformers internals the zygote's warm-up relies on: loading a model without starting a thread.

Contract: ``tests/compat/test_transformers.py``.
"""

from __future__ import annotations

import contextlib
import os

ASYNC_LOAD_SWITCH = "HF_DEACTIVATE_ASYNC_LOAD"  # read by transformers' core_model_loading at each load


@contextlib.contextmanager
def loading_without_threads():
    """``from_pretrained`` without its progress bar (tqdm starts a monitor thread and makes a multiprocessing
    lock) and without its loader threads (the undocumented :data:`ASYNC_LOAD_SWITCH`); restored afterwards."""
    from transformers.utils import logging as hf_logging

    bars, before = hf_logging.is_progress_bar_enabled(), os.environ.get(ASYNC_LOAD_SWITCH)
    hf_logging.disable_progress_bar()
    os.environ[ASYNC_LOAD_SWITCH] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(ASYNC_LOAD_SWITCH, None)
        else:
            os.environ[ASYNC_LOAD_SWITCH] = before
        if bars:
            hf_logging.enable_progress_bar()
