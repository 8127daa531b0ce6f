"""reference.models: the course model is reproducible, loadable offline, and speaks template English."""

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import reference.models as M
from reference.models.__main__ import main as cli_main
from reference.models.corpus import stories
from tests.helpers import REPO

IDENTITY_FILES = ("model.safetensors", "tokenizer.json", "config.json")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_build_is_byte_identical_in_two_processes(tmp_path):
    cached = M.course_lm_path()  # built by this process or an earlier one, from the same recipe
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    out = tmp_path / "fresh"
    p = subprocess.run(
        [sys.executable, "-m", "reference.models", "build", "--out", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.splitlines()[0] == str(out)
    for name in IDENTITY_FILES:
        assert sha256(out / name) == sha256(cached / name), name


def test_corpus_is_deterministic():
    assert stories(50, seed=3) == stories(50, seed=3)
    assert stories(5, seed=3) != stories(5, seed=4)
    assert stories(1)[0].startswith(("Once upon a time", "One day", "One sunny morning", "Long ago", "Last summer"))


def test_from_pretrained_round_trip(course_lm, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model, tok = course_lm
    assert type(model).__name__ == "GPT2LMHeadModel" and not model.training
    assert sum(p.numel() for p in model.parameters()) < 200_000
    assert len(tok) == model.config.vocab_size == 512
    assert tok.eos_token == tok.bos_token == tok.pad_token == "<|endoftext|>" and tok.eos_token_id == 0
    text = 'Mia said, "Can I hold your kite?" Ünïcödé 😀'
    assert tok.decode(tok(text).input_ids) == text  # byte-level BPE: every string round-trips
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    model2, tok2 = AutoModelForCausalLM.from_pretrained(tmp_path), AutoTokenizer.from_pretrained(tmp_path)
    ids = tok2("Once upon a time", return_tensors="pt").input_ids
    with torch.no_grad():
        assert torch.equal(model(ids).logits, model2.eval()(ids).logits)


def test_greedy_text_is_readable(course_lm):
    from reference.sampling import generate

    model, tok = course_lm
    ids = generate(model, tok("Once upon a time", return_tensors="pt").input_ids, 40)
    text = tok.decode(ids[0])
    assert " went to the " in text and text.count(".") >= 2, text


def test_hub_name_fails_fast_with_clear_error():
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match="not a local folder.*hub"):
        M.load_course_lm("gpt2")
    assert time.perf_counter() - t0 < 1.0


def test_cache_dir_honours_env(monkeypatch, tmp_path):
    monkeypatch.setenv("LLM_COURSE_CACHE", str(tmp_path / "c"))
    assert M.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("LLM_COURSE_CACHE")
    assert M.cache_dir() == REPO / ".cache" / "models"  # running from the checkout


def fake_build(calls):
    def build(out_dir, steps):
        calls.append(steps)
        out_dir.mkdir(parents=True, exist_ok=True)
        for name in M.REQUIRED_FILES:
            (out_dir / name).write_text(name)
        return out_dir

    return build


def test_course_lm_path_builds_once_into_place(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setenv("LLM_COURSE_CACHE", str(tmp_path))
    monkeypatch.setattr(M, "build_course_lm", fake_build(calls))
    path = M.course_lm_path()
    assert M.course_lm_path() == path and calls == [M.DEFAULT_STEPS]
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".build")) == [path.name]
    M.course_lm_path(force=True)
    assert len(calls) == 2


def test_failed_build_leaves_nothing_half_written(monkeypatch, tmp_path):
    def broken(out_dir, steps):
        (out_dir / "config.json").write_text("{}")
        raise RuntimeError("out of memory")

    monkeypatch.setenv("LLM_COURSE_CACHE", str(tmp_path))
    monkeypatch.setattr(M, "build_course_lm", broken)
    with pytest.raises(RuntimeError):
        M.course_lm_path()
    assert [p.name for p in tmp_path.iterdir()] == [".build.lock"]


def test_cli_build_out_reuses_existing_folder(monkeypatch, tmp_path, capsys):
    calls = []
    monkeypatch.setattr("reference.models.__main__.build_course_lm", fake_build(calls))
    assert cli_main(["build", "--out", str(tmp_path / "m"), "--steps", "3"]) == 0
    assert cli_main(["build", "--out", str(tmp_path / "m")]) == 0
    assert calls == [3]
    assert capsys.readouterr().out.splitlines() == [str(tmp_path / "m")] * 2
