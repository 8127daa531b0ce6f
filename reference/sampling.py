"""Decoding: logits filters, sampling, greedy/sampled generation and beam search.

Ground truth for the decoding assignment. Pure functions on tensors: they validate their
arguments up front (ValueError naming the argument and its value), never modify their inputs,
and run on whatever device the input is on.

Sources:
- Hugging Face transformers, src/transformers/generation/logits_process.py
  (TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper, MinPLogitsWarper): the filters
  below reproduce them exactly, including ties, and are tested against them.
- karpathy/nanochat nanochat/engine.py and karpathy/nanoGPT model.py: sampling as a short pure
  function with an explicit torch.Generator; a plain generation loop without a KV cache.

Shapes: logits are (..., V) for the filters and (B, V) for the samplers; V is the vocabulary size.
"""

import math
from numbers import Real

import torch
import torch.nn.functional as F

# ----------------------------------------------------------------------------- validation


def _check_logits(logits, min_dim: int = 1) -> None:
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        raise ValueError(
            f"`logits` has to be a floating-point torch.Tensor, but is {type(logits).__name__}"
            + (f" of dtype {logits.dtype}" if isinstance(logits, torch.Tensor) else "")
        )
    if logits.dim() < min_dim or logits.size(-1) == 0:
        raise ValueError(
            f"`logits` has to have at least {min_dim} dimension(s) and a non-empty last "
            f"dimension (the vocabulary), but has shape {tuple(logits.shape)}"
        )


def _is_real(x) -> bool:
    return isinstance(x, Real) and not isinstance(x, bool)


def _check_temperature(temperature) -> None:
    if not _is_real(temperature) or not math.isfinite(temperature) or not temperature > 0:
        raise ValueError(
            f"`temperature` has to be a strictly positive finite float, but is {temperature!r}"
            " (for greedy decoding use greedy_next_token, or generate(temperature=0.0))"
        )


def _check_top_k(k) -> None:
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"`top_k` has to be a strictly positive integer, but is {k!r}")


def _check_probability(name: str, p) -> None:
    if not _is_real(p) or not 0.0 <= p <= 1.0:
        raise ValueError(f"`{name}` has to be a float in the [0, 1] interval, but is {p!r}")


# ----------------------------------------------------------------------------- distributions and filters


def softmax_with_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """softmax(logits / temperature) over the last dim. logits (..., V) -> probabilities (..., V).

    temperature < 1 sharpens the distribution, > 1 flattens it. Example: logits [0, ln 3] at
    temperature 1 give [0.25, 0.75].
    """
    _check_logits(logits)
    _check_temperature(temperature)
    return torch.softmax(logits / temperature, dim=-1)


def greedy_next_token(logits: torch.Tensor) -> torch.Tensor:
    """The most likely token. logits (..., V) -> int64 ids (...); ties go to the lowest index."""
    _check_logits(logits)
    # subtle: torch.argmax returns the first maximal index on CPU and CUDA (documented since 1.7).
    return torch.argmax(logits, dim=-1)


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the k largest logits of each row, set the rest to -inf. (..., V) -> (..., V).

    subtle: entries tied with the k-th largest value are all kept, so more than k may survive:
    [1, 1, 1, 0] with k=2 keeps three. k >= V keeps everything. (HF TopKLogitsWarper.)
    """
    _check_logits(logits)
    _check_top_k(k)
    k = min(k, logits.size(-1))
    kth_largest = torch.topk(logits, k, dim=-1).values[..., -1:]  # (..., 1)
    return logits.masked_fill(logits < kth_largest, -math.inf)


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filter: keep the smallest set of most probable tokens with total probability >= p.
    (..., V) -> (..., V), removed entries set to -inf; at least one token is always kept.

    Example: probabilities [0.5, 0.3, 0.2] keep 1 token at p=0.5 and 2 tokens at p=0.8.

    subtle: which of several *tied* tokens is kept depends on the sort. HF sorts ascending and
    removes the prefix whose cumulative probability is <= 1 - p; among ties the higher indices
    end up later in the ascending order and are kept (uniform logits over 10 tokens, p=0.5 keep
    ids 5..9). We mirror that exactly, so tie behaviour matches HF TopPLogitsWarper.
    """
    _check_logits(logits)
    _check_probability("top_p", p)
    sorted_logits, sorted_idx = torch.sort(logits, descending=False)  # (..., V) ascending
    cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)  # (..., V)
    sorted_remove = cumulative <= (1 - p)
    sorted_remove[..., -1:] = False  # the most probable token always stays
    remove = sorted_remove.scatter(-1, sorted_idx, sorted_remove)  # back to vocabulary order
    return logits.masked_fill(remove, -math.inf)


def min_p_filter(logits: torch.Tensor, min_p: float) -> torch.Tensor:
    """Keep tokens whose probability is at least min_p times the top probability. (..., V) -> (..., V).

    Example: probabilities [0.6, 0.3, 0.1] with min_p=0.2 keep the first two (0.1 < 0.2 * 0.6).
    The most probable token is always kept (HF MinPLogitsWarper with min_tokens_to_keep=1).
    """
    _check_logits(logits)
    _check_probability("min_p", min_p)
    probs = torch.softmax(logits, dim=-1)  # (..., V)
    remove = probs < min_p * probs.amax(dim=-1, keepdim=True)
    top1 = torch.topk(probs, 1, dim=-1).indices  # (..., 1)
    remove = remove.scatter(-1, top1, False)
    return logits.masked_fill(remove, -math.inf)


# ----------------------------------------------------------------------------- sampling


def sampling_distribution(
    logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None
) -> torch.Tensor:
    """The exact probabilities sample_next_token draws from. logits (B, V) -> probs (B, V).

    Order as in HF generate: temperature, then top-k, then top-p, then softmax. None switches a
    filter off; top_p=1.0 is also off (as in HF generate).
    """
    _check_logits(logits, min_dim=2)
    _check_temperature(temperature)
    if top_k is not None:
        _check_top_k(top_k)
    if top_p is not None:
        _check_probability("top_p", top_p)
    scores = logits / temperature
    if top_k is not None:
        scores = top_k_filter(scores, top_k)
    if top_p is not None and top_p < 1.0:
        scores = top_p_filter(scores, top_p)
    return torch.softmax(scores, dim=-1)


def sample_next_token(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw one token per row. logits (B, V) -> int64 ids (B,).

    Draws from sampling_distribution(...) with torch.multinomial and the given generator (which
    must live on the logits' device); with the same seed this is token for token what HF
    generate(do_sample=True) draws.
    """
    probs = sampling_distribution(logits, temperature, top_k, top_p)  # (B, V)
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(-1)  # (B,)


# ----------------------------------------------------------------------------- generation


def _check_generate_args(input_ids, max_new_tokens, temperature) -> None:
    if (
        not isinstance(input_ids, torch.Tensor)
        or input_ids.dtype != torch.long
        or input_ids.dim() != 2
        or input_ids.size(0) != 1
        or input_ids.size(1) == 0
    ):
        shape = tuple(input_ids.shape) if isinstance(input_ids, torch.Tensor) else type(input_ids).__name__
        raise ValueError(f"`input_ids` has to be an int64 tensor of shape (1, L) with L >= 1, but is {shape}")
    if not isinstance(max_new_tokens, int) or isinstance(max_new_tokens, bool) or max_new_tokens < 0:
        raise ValueError(f"`max_new_tokens` has to be a non-negative integer, but is {max_new_tokens!r}")
    if not _is_real(temperature) or not math.isfinite(temperature) or temperature < 0:
        raise ValueError(f"`temperature` has to be a finite float >= 0 (0 means greedy), but is {temperature!r}")


def _ends_with_stop_string(ids: torch.Tensor, stop_strings, tokenizer) -> bool:
    """Whether a stop string occurs in the decoded text, overlapping the last token.

    Same rule as HF StopStringCriteria: an occurrence entirely before the last token does not count.
    """
    if not stop_strings:
        return False
    text, before = tokenizer.decode(ids[0]), tokenizer.decode(ids[0, :-1])
    # an occurrence overlaps the last token iff it ends after len(before), i.e. starts after this:
    return any(s in text[max(0, len(before) - len(s) + 1) :] for s in stop_strings)


@torch.no_grad()
def generate(
    model,
    input_ids: torch.Tensor,
    max_new_tokens: int,
    temperature: float = 0.0,
    top_k: int | None = None,
    top_p: float | None = None,
    eos_token_id: int | None = None,
    generator: torch.Generator | None = None,
    *,
    stop_strings=(),
    tokenizer=None,
) -> torch.Tensor:
    """Extend input_ids (1, L) by at most max_new_tokens tokens -> (1, L + n), prompt included.

    temperature 0 means greedy (top_k/top_p are then ignored); otherwise each token is drawn by
    sample_next_token. Stops right after emitting eos_token_id (kept in the output), or right
    after the decoded text first contains one of stop_strings (which needs the tokenizer; the
    stop string is kept, as in HF generate(stop_strings=...)). No KV cache: the whole sequence is
    run through the model at every step, which is slow but easy to check. model is an HF causal
    LM on the same device as input_ids, in eval mode.
    """
    _check_generate_args(input_ids, max_new_tokens, temperature)
    if stop_strings and tokenizer is None:
        raise ValueError("`stop_strings` needs the `tokenizer` to decode the generated tokens")
    ids = input_ids
    for _ in range(max_new_tokens):
        logits = model(ids).logits[:, -1, :]  # (1, V)
        if temperature == 0:
            next_id = greedy_next_token(logits)  # (1,)
        else:
            next_id = sample_next_token(logits, temperature, top_k, top_p, generator)  # (1,)
        ids = torch.cat([ids, next_id[:, None]], dim=1)  # (1, L + 1)
        if next_id.item() == eos_token_id or _ends_with_stop_string(ids, stop_strings, tokenizer):
            break
    return ids


@torch.no_grad()
def beam_search(model, input_ids: torch.Tensor, num_beams: int, max_new_tokens: int) -> torch.Tensor:
    """Beam search for exactly max_new_tokens steps. input_ids (1, L) -> (1, L + max_new_tokens).

    Keeps the num_beams sequences with the largest summed token log-probability; no EOS handling,
    no length penalty. Returns the best one. Each step scores every (beam, token) continuation and
    keeps the top num_beams of the flattened (beams * V) scores with torch.topk, as HF does.
    """
    _check_generate_args(input_ids, max_new_tokens, 0.0)
    if not isinstance(num_beams, int) or isinstance(num_beams, bool) or num_beams < 1:
        raise ValueError(f"`num_beams` has to be a strictly positive integer, but is {num_beams!r}")
    ids = input_ids  # (beams, L + t); a single beam at the start
    scores = torch.zeros(1, device=ids.device)  # (beams,) summed log-probabilities
    for _ in range(max_new_tokens):
        logprobs = F.log_softmax(model(ids).logits[:, -1, :].float(), dim=-1)  # (beams, V)
        V = logprobs.size(-1)
        candidates = (scores[:, None] + logprobs).view(-1)  # (beams * V,)
        # subtle: at the first step there is one beam, so all candidates extend the prompt
        scores, flat = torch.topk(candidates, min(num_beams, candidates.numel()))  # (beams,)
        beam, token = flat // V, flat % V
        ids = torch.cat([ids[beam], token[:, None]], dim=1)  # (beams, L + t + 1)
    return ids[:1]
