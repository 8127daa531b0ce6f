"""Attention from scratch: a stable softmax, the causal mask, scaled dot-product and multi-head attention.

    weights = softmax(q @ k^T / sqrt(d) with masked positions at -inf)      # (..., L, S)
    out     = weights @ v                                                    # (..., L, dv)

Sources: Vaswani et al., "Attention Is All You Need" (2017), section 3.2; karpathy/nanoGPT
model.py (CausalSelfAttention: the head split and its shape comments); PyTorch's documentation
of F.scaled_dot_product_attention, whose reference formula this matches (tested against it and
against nn.MultiheadAttention).

Conventions: weights multiply from the right (q = x @ w_q), as in the course notes; nn.Linear and
nn.MultiheadAttention store the transpose. A boolean mask is True where attending is allowed.
"""

import math

import torch


def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """exp(x) / sum(exp(x)) along dim, for any shape; stable for float32 inputs of any size.

    subtle: exp(1e4) overflows to inf (inf / inf = nan). Subtracting the maximum first changes
    nothing mathematically (the factor exp(-max) cancels) but keeps every exponent <= 0. A row
    that is entirely -inf has no distribution and gives nan, as torch.softmax does.
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise ValueError(f"`x` has to be a floating-point torch.Tensor, but is {type(x).__name__}")
    e = torch.exp(x - x.amax(dim=dim, keepdim=True))
    return e / e.sum(dim=dim, keepdim=True)


def causal_mask(seq_len: int, device=None) -> torch.Tensor:
    """Boolean (L, L) mask, True where key j may be attended from query i, i.e. j <= i.

    causal_mask(3) == [[True, False, False], [True, True, False], [True, True, True]]
    """
    if not isinstance(seq_len, int) or isinstance(seq_len, bool) or seq_len < 0:
        raise ValueError(f"`seq_len` has to be a non-negative integer, but is {seq_len!r}")
    return torch.ones(seq_len, seq_len, dtype=torch.bool, device=device).tril()


def _check_qkv(q, k, v, mask) -> None:
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point() or t.dim() < 2:
            raise ValueError(
                f"`{name}` has to be a floating-point tensor with at least 2 dims, "
                f"but is {getattr(t, 'shape', type(t).__name__)}"
            )
    if q.size(-1) != k.size(-1) or k.size(-2) != v.size(-2):
        raise ValueError(
            f"shapes do not fit: `q` {tuple(q.shape)} needs (..., L, d), `k` {tuple(k.shape)} "
            f"needs (..., S, d) and `v` {tuple(v.shape)} needs (..., S, dv)"
        )
    if mask is not None and (not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool):
        raise ValueError(
            f"`mask` has to be a bool tensor (True = may attend), but is {getattr(mask, 'dtype', type(mask).__name__)}"
        )


def scaled_dot_product_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention of queries q (..., L, d) over keys k (..., S, d) and values v (..., S, dv).

    mask: bool, broadcastable to (..., L, S), False where attending is forbidden (set to -inf
    before the softmax). Returns (out (..., L, dv), weights (..., L, S)); each weights row sums to 1.

    subtle: without the 1/sqrt(d) the scores' variance grows with d and the softmax saturates
    into a near one-hot with vanishing gradients.
    """
    _check_qkv(q, k, v, mask)
    d = q.size(-1)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)  # (..., L, S)
    if mask is not None:
        scores = scores.masked_fill(~mask, -math.inf)
    weights = softmax(scores, dim=-1)  # (..., L, S)
    return weights @ v, weights  # (..., L, dv), (..., L, S)


def multi_head_self_attention(
    x: torch.Tensor,
    w_q: torch.Tensor,
    w_k: torch.Tensor,
    w_v: torch.Tensor,
    w_o: torch.Tensor,
    n_heads: int,
    causal: bool = True,
) -> torch.Tensor:
    """Multi-head self-attention without biases. x (B, L, D), each weight (D, D) -> (B, L, D).

    q = x @ w_q (likewise k, v); head h uses columns h*D/n_heads : (h+1)*D/n_heads of q, k and v,
    attends on its own (causally if causal), and the heads' outputs are concatenated in order and
    multiplied by w_o.
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 3:
        raise ValueError(f"`x` has to be a tensor of shape (B, L, D), but is {getattr(x, 'shape', type(x))}")
    B, L, D = x.size()
    for name, w in (("w_q", w_q), ("w_k", w_k), ("w_v", w_v), ("w_o", w_o)):
        if not isinstance(w, torch.Tensor) or w.shape != (D, D):
            raise ValueError(f"`{name}` has to be a ({D}, {D}) tensor, but is {getattr(w, 'shape', type(w))}")
    if not isinstance(n_heads, int) or isinstance(n_heads, bool) or n_heads < 1 or D % n_heads:
        raise ValueError(f"`n_heads` has to be a positive integer dividing D={D}, but is {n_heads!r}")
    hs = D // n_heads

    def split(t):  # (B, L, D) -> (B, nh, L, hs): head h holds columns h*hs:(h+1)*hs
        return t.view(B, L, n_heads, hs).transpose(1, 2)

    q, k, v = split(x @ w_q), split(x @ w_k), split(x @ w_v)  # (B, nh, L, hs) each
    mask = causal_mask(L, device=x.device) if causal else None  # (L, L), broadcast over B and heads
    out, _ = scaled_dot_product_attention(q, k, v, mask)  # (B, nh, L, hs)
    out = out.transpose(1, 2).contiguous().view(B, L, D)  # heads side by side again
    return out @ w_o  # (B, L, D)
