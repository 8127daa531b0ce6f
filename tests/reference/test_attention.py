"""reference.attention: hand-computed cases, stability, and PyTorch's own attention as the oracle."""

import math

import pytest
import torch
import torch.nn.functional as F

from reference.attention import causal_mask, multi_head_self_attention, scaled_dot_product_attention, softmax

TOL = {torch.float32: dict(atol=1e-5, rtol=1e-5), torch.float64: dict(atol=1e-12, rtol=1e-12)}


def randn(*shape, seed=0, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def test_softmax_hand_computed():
    torch.testing.assert_close(softmax(torch.tensor([0.0, math.log(3.0)])), torch.tensor([0.25, 0.75]))
    torch.testing.assert_close(
        softmax(torch.tensor([[1.0], [2.0]]), dim=0),
        torch.tensor([[1 / (1 + math.e)], [math.e / (1 + math.e)]]),
    )


@pytest.mark.parametrize("scale", [1.0, 100.0, 1e4])
def test_softmax_is_stable_for_large_inputs(scale):
    x = randn(4, 33, seed=1) * scale
    x[0, 0], x[1, :] = scale, -scale  # one dominant entry; a constant row
    out = softmax(x)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, torch.softmax(x, dim=-1), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(out.sum(-1), torch.ones(4))


def test_softmax_handles_minus_inf_like_torch():
    x = torch.tensor([[0.0, -math.inf, 0.0], [-math.inf, -math.inf, -math.inf]])
    out = softmax(x)
    assert out[0].tolist() == [0.5, 0.0, 0.5] and out[1].isnan().all() and torch.softmax(x, -1)[1].isnan().all()


def test_causal_mask():
    assert causal_mask(3).tolist() == [[True, False, False], [True, True, False], [True, True, True]]
    assert causal_mask(1).tolist() == [[True]] and causal_mask(0).shape == (0, 0)
    assert causal_mask(5).dtype == torch.bool


def test_attention_hand_computed():
    q = torch.tensor([[1.0, 0.0]])  # (L=1, d=2)
    k = torch.tensor([[1.0, 0.0], [0.0, 1.0]]) * math.sqrt(2) * math.log(3.0)  # scores [ln 3, 0]
    v = torch.tensor([[10.0], [20.0]])
    out, w = scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(w, torch.tensor([[0.75, 0.25]]))
    torch.testing.assert_close(out, torch.tensor([[12.5]]))


def test_masked_positions_get_zero_weight():
    q, k, v = randn(2, 4, 8, seed=2), randn(2, 4, 8, seed=3), randn(2, 4, 8, seed=4)
    _, w = scaled_dot_product_attention(q, k, v, causal_mask(4))
    assert (w.masked_select(~causal_mask(4)) == 0).all()
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 4))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(2, 4, 16, 8), (1, 8, 32, 64), (4, 2, 7, 32)])
@pytest.mark.parametrize("masking", ["none", "causal", "random"])
def test_matches_torch_sdpa(dtype, shape, masking):
    q, k, v = (randn(*shape, seed=s, dtype=dtype) for s in (5, 6, 7))
    L = shape[-2]
    mask = {
        "none": None,
        "causal": causal_mask(L),
        "random": (randn(L, L, seed=8) > 0) | torch.eye(L, dtype=torch.bool),
    }[masking]
    out, _ = scaled_dot_product_attention(q, k, v, mask)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), **TOL[dtype])


def test_cross_attention_shapes():
    q, k, v = randn(3, 5, 8, seed=9), randn(3, 7, 8, seed=10), randn(3, 7, 4, seed=11)
    out, w = scaled_dot_product_attention(q, k, v)
    assert out.shape == (3, 5, 4) and w.shape == (3, 5, 7)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v), **TOL[torch.float32])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n_heads, causal", [(1, True), (4, True), (4, False), (8, True)])
def test_multi_head_matches_nn_multihead_attention(dtype, n_heads, causal):
    B, L, D = 2, 9, 32
    x = randn(B, L, D, seed=12, dtype=dtype)
    w_q, w_k, w_v, w_o = (randn(D, D, seed=s, dtype=dtype) / math.sqrt(D) for s in (13, 14, 15, 16))
    mha = torch.nn.MultiheadAttention(D, n_heads, bias=False, batch_first=True, dtype=dtype)
    with torch.no_grad():  # nn.MultiheadAttention computes x @ W^T: store the transposes
        mha.in_proj_weight.copy_(torch.cat([w_q.T, w_k.T, w_v.T]))
        mha.out_proj.weight.copy_(w_o.T)
        # nn.MultiheadAttention's bool mask is True where attending is *forbidden*
        expected, _ = mha(x, x, x, attn_mask=~causal_mask(L) if causal else None, need_weights=False)
    out = multi_head_self_attention(x, w_q, w_k, w_v, w_o, n_heads, causal)
    torch.testing.assert_close(out, expected, **TOL[dtype])


def test_multi_head_uses_column_blocks_per_head():
    B, L, D, nh = 1, 5, 8, 2
    x, w_q, w_k, w_v = (randn(*s, seed=i) for i, s in enumerate([(B, L, D), (D, D), (D, D), (D, D)]))
    eye = torch.eye(D)
    out = multi_head_self_attention(x, w_q, w_k, w_v, eye, nh)
    for h in range(nh):
        cols = slice(h * D // nh, (h + 1) * D // nh)
        head, _ = scaled_dot_product_attention(x @ w_q[:, cols], x @ w_k[:, cols], x @ w_v[:, cols], causal_mask(L))
        torch.testing.assert_close(out[..., cols], head)


def test_inputs_are_not_modified():
    x, w = randn(1, 4, 8, seed=20), randn(8, 8, seed=21)
    before = (x.clone(), w.clone())
    multi_head_self_attention(x, w, w, w, w, 2)
    softmax(x)
    assert torch.equal(x, before[0]) and torch.equal(w, before[1])


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: softmax(torch.tensor([1, 2])), "x"),
        (lambda: causal_mask(-1), "seq_len"),
        (lambda: scaled_dot_product_attention(randn(2, 3), randn(2, 4), randn(2, 3)), "shapes do not fit"),
        (
            lambda: scaled_dot_product_attention(randn(2, 3), randn(2, 3), randn(2, 3), torch.ones(2, 2)),
            "mask",
        ),
        (lambda: multi_head_self_attention(randn(1, 2, 6), *[randn(6, 6)] * 4, n_heads=4), "n_heads"),
        (
            lambda: multi_head_self_attention(randn(1, 2, 6), randn(6, 5), *[randn(6, 6)] * 3, n_heads=2),
            "w_q",
        ),
    ],
)
def test_bad_arguments_raise_value_error(call, name):
    with pytest.raises(ValueError, match=name):
        call()
