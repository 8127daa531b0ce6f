"""Fixtures for the reference tests: the course model, loaded once per session, offline."""

import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers is imported anywhere
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
_REPO = Path(__file__).resolve().parents[2]
if str(_REPO) not in sys.path:  # plain `pytest` without an editable install
    sys.path.insert(0, str(_REPO))

import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture(scope="session")
def course_lm():
    """(model, tokenizer) of the course model; built into the cache on first use (~25 s)."""
    from reference.models import load_course_lm

    torch.set_num_threads(1)  # bit-reproducible logits, and polite on a shared 2-core machine
    return load_course_lm()


@pytest.fixture(scope="session")
def story_ids(course_lm):
    """A prompt (1, L) that ends mid-story, so generation crosses an <|endoftext|>."""
    _, tok = course_lm
    text = 'Tom said, "Can I play with your ball?" Mia said, "Yes, you can." Tom was very happy.'
    return tok(text, return_tensors="pt").input_ids
