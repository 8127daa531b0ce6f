"""Contract: what grader/compat/transformers.py relies on in transformers: the switch that turns its threaded
model loading off, read at each load."""

from __future__ import annotations

import os
import threading

import transformers
from transformers import AutoModelForCausalLM

from grader.compat.transformers import ASYNC_LOAD_SWITCH, loading_without_threads
from reference.models import course_lm_path

UPGRADE = f"transformers {transformers.__version__}: {{what}}; update grader/compat/transformers.py"


def test_loading_a_model_under_the_switch_starts_no_thread(monkeypatch):
    started = []
    original = threading.Thread.start
    monkeypatch.setattr(threading.Thread, "start", lambda thread: started.append(thread.name) or original(thread))
    with loading_without_threads():
        AutoModelForCausalLM.from_pretrained(course_lm_path(), local_files_only=True)
    assert not started, UPGRADE.format(what=f"from_pretrained started threads {started} despite {ASYNC_LOAD_SWITCH}")


def test_the_switch_and_the_progress_bar_are_restored(monkeypatch):
    monkeypatch.delenv(ASYNC_LOAD_SWITCH, raising=False)
    with loading_without_threads():
        assert os.environ[ASYNC_LOAD_SWITCH] == "1"
    assert ASYNC_LOAD_SWITCH not in os.environ
