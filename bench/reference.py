"""How long ground truth takes: every assignment's cases, then each reference function next to its
library counterpart.

    HF_HUB_OFFLINE=1 python bench/reference.py [--repeat 5]

The first table is the time to compute all expected values of each assignment in assignments/ (all its
public and hidden cases, the course model already loaded), the median of ``--repeat`` runs. The second
prints one row per case: the median time of the reference, of the oracle (Hugging Face, PyTorch
or `tokenizers`) where there is one, and their ratio. Compare ratios within one run, not absolute
times across machines: this machine's cores are shared. Runs on reference.device.device() with
reference.device.configure_determinism() (one CPU thread).
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from reference import attention as A  # noqa: E402
from reference import retrieval as R  # noqa: E402
from reference import sampling as S  # noqa: E402
from reference import tokenization as T  # noqa: E402
from reference.device import configure_determinism, device, provenance  # noqa: E402
from reference.models import load_course_lm  # noqa: E402
from reference.models.corpus import stories  # noqa: E402


def median_ms(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        if device().type == "cuda":
            torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def sampling_cases(model, tok, dev):
    from transformers import TopKLogitsWarper, TopPLogitsWarper

    logits = torch.randn(64, 50257, generator=torch.Generator().manual_seed(0)).to(dev)
    ids = tok("Once upon a time", return_tensors="pt").input_ids.to(dev)
    mask = torch.ones_like(ids)
    yield (
        "sampling",
        "top_k_filter (64, 50257) k=50",
        lambda: S.top_k_filter(logits, 50),
        lambda: TopKLogitsWarper(50)(None, logits),
    )
    yield (
        "sampling",
        "top_p_filter (64, 50257) p=0.9",
        lambda: S.top_p_filter(logits, 0.9),
        lambda: TopPLogitsWarper(0.9)(None, logits),
    )
    yield (
        "sampling",
        "sampling_distribution T=0.7 k=50 p=0.9",
        lambda: S.sampling_distribution(logits, 0.7, 50, 0.9),
        None,
    )
    yield (
        "sampling",
        "generate greedy, 40 tokens (no KV cache)",
        lambda: S.generate(model, ids, 40),
        lambda: model.generate(ids, attention_mask=mask, max_new_tokens=40, do_sample=False, eos_token_id=None),
    )
    yield (
        "sampling",
        "beam_search 4 beams, 20 tokens",
        lambda: S.beam_search(model, ids, 4, 20),
        lambda: model.generate(
            ids, attention_mask=mask, max_new_tokens=20, num_beams=4, length_penalty=0.0, eos_token_id=None
        ),
    )


def tokenization_cases():
    text = " ".join(stories(300, seed=1))
    merges = T.train_bpe(text, 356)
    hf = T.hf_tokenizer_from_merges(merges)
    held_out = " ".join(stories(20, seed=2))
    yield (
        "tokenization",
        f"train_bpe 100 merges on {len(text) // 1000} KB",
        lambda: T.train_bpe(text, 356),
        None,
    )
    yield (
        "tokenization",
        f"encode {len(held_out)} chars",
        lambda: T.encode(held_out, merges),
        lambda: hf.encode(held_out),
    )


def attention_cases(dev):
    q, k, v = (torch.randn(8, 8, 256, 64, generator=torch.Generator().manual_seed(s)).to(dev) for s in range(3))
    mask = A.causal_mask(256, device=dev)
    x = torch.randn(8, 256, 256, generator=torch.Generator().manual_seed(3)).to(dev)
    w = torch.randn(256, 256, generator=torch.Generator().manual_seed(4)).to(dev) / 16
    mha = torch.nn.MultiheadAttention(256, 8, bias=False, batch_first=True).to(dev)
    yield (
        "attention",
        "sdpa (8, 8, 256, 64) causal",
        lambda: A.scaled_dot_product_attention(q, k, v, mask),
        lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True),
    )
    yield (
        "attention",
        "multi_head_self_attention (8, 256, 256) 8 heads",
        lambda: A.multi_head_self_attention(x, w, w, w, w, 8),
        lambda: mha(x, x, x, attn_mask=~mask, need_weights=False),
    )


def retrieval_cases(model, tok):
    docs = stories(32, seed=3)
    embed = R.course_embedder(model, tok)
    e = embed(docs)
    yield "retrieval", "course_embedder, 32 stories", lambda: embed(docs), None
    yield "retrieval", "retrieve top-4 of 32", lambda: R.retrieve(e[0], e, 4), None
    yield (
        "retrieval",
        "rag_answer k=2, 20 tokens",
        lambda: R.rag_answer("Who went to the park?", docs[:8], embed, model, tok),
        None,
    )


def assignment_table(repeat: int) -> None:
    """Ground truth for every case of every assignment (what `grader grade` computes before a batch)."""
    from grader.assignment.groundtruth import build_plan
    from grader.assignment.spec import load_assignment

    root = Path(__file__).resolve().parents[1] / "assignments"
    print(f"{'assignment':<20} {'cases':>6} {'hidden':>6} {'ground truth ms':>16}")
    total = 0.0
    for folder in sorted(p.parent for p in root.glob("*/assignment.toml")):
        assignment = load_assignment(folder)
        plan = build_plan(assignment)  # warm-up: model and tokenizer loads are cached after this
        cases = [c for q in plan.questions for c in q.cases]
        ms = median_ms(lambda a=assignment: build_plan(a), repeat)
        total += ms
        print(f"{folder.name:<20} {len(cases):>6} {sum(c.hidden for c in cases):>6} {ms:>16.1f}")
    print(f"{'all assignments':<20} {'':>6} {'':>6} {total:>16.1f}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per case (median reported)")
    args = parser.parse_args()
    configure_determinism()
    dev = device()
    model, tok = load_course_lm()
    model.to(dev)
    cases = [
        *sampling_cases(model, tok, dev),
        *tokenization_cases(),
        *attention_cases(dev),
        *retrieval_cases(model, tok),
    ]
    info = provenance()
    print(
        f"device {info['device']}, torch {info['torch']}, transformers {info['transformers']}, "
        f"threads {info['num_threads']}, median of {args.repeat}\n"
    )
    assignment_table(args.repeat)
    print(f"{'topic':<13} {'case':<48} {'reference ms':>12} {'oracle ms':>10} {'ratio':>7}")
    with torch.no_grad():
        for topic, name, ours, oracle in cases:
            t_ours = median_ms(ours, args.repeat)
            t_oracle = median_ms(oracle, args.repeat) if oracle else None
            ratio = f"{t_ours / t_oracle:7.2f}" if t_oracle else f"{'':>7}"
            oracle_col = f"{t_oracle:10.2f}" if t_oracle else f"{'-':>10}"
            print(f"{topic:<13} {name:<48} {t_ours:12.2f} {oracle_col} {ratio}")


if __name__ == "__main__":
    main()
