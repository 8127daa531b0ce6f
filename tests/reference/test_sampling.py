"""reference.sampling: hand-computed cases, input safety, validation, and HF as the oracle."""

import math

import pytest
import torch
from transformers import MinPLogitsWarper, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

from reference import sampling as S

INF = math.inf


def logits_of(probs):
    return torch.tensor([probs], dtype=torch.float64).log()


# ----------------------------------------------------------------------------- hand-computed cases


def test_softmax_with_temperature_hand_computed():
    logits = torch.tensor([[0.0, math.log(3.0)]])
    torch.testing.assert_close(S.softmax_with_temperature(logits, 1.0), torch.tensor([[0.25, 0.75]]))
    torch.testing.assert_close(S.softmax_with_temperature(logits, 0.5), torch.tensor([[0.1, 0.9]]))
    torch.testing.assert_close(S.softmax_with_temperature(logits, 1e6), torch.tensor([[0.5, 0.5]]))


def test_greedy_takes_lowest_index_on_ties():
    out = S.greedy_next_token(torch.tensor([[1.0, 3.0, 3.0], [5.0, 0.0, 5.0]]))
    assert out.dtype == torch.int64 and out.tolist() == [1, 0]


def test_top_k_keeps_ties_with_kth_value():
    assert S.top_k_filter(torch.tensor([[1.0, 1.0, 1.0, 0.0]]), 2).tolist() == [[1, 1, 1, -INF]]
    assert S.top_k_filter(torch.tensor([[3.0, 1.0, 2.0]]), 1).tolist() == [[3, -INF, -INF]]
    assert S.top_k_filter(torch.tensor([[3.0, 1.0, 2.0]]), 2).tolist() == [[3, -INF, 2]]


def test_top_k_larger_than_vocab_keeps_all():
    x = torch.tensor([[3.0, 1.0, 2.0]])
    assert torch.equal(S.top_k_filter(x, 10), x)


@pytest.mark.parametrize("p, kept", [(0.45, [0]), (0.7, [0, 1]), (0.9, [0, 1, 2]), (0.0, [0]), (1.0, [0, 1, 2])])
def test_top_p_keeps_smallest_nucleus(p, kept):
    out = S.top_p_filter(logits_of([0.5, 0.3, 0.2]), p)
    assert torch.isfinite(out[0]).nonzero().flatten().tolist() == kept


def test_top_p_ties_follow_hf_ascending_sort():
    assert torch.isfinite(S.top_p_filter(torch.zeros(1, 10), 0.5)).nonzero()[:, 1].tolist() == [5, 6, 7, 8, 9]
    out = S.top_p_filter(torch.tensor([[1.0, 1.0, 1.0, 0.0]]), 0.5)
    assert torch.isfinite(out[0]).nonzero().flatten().tolist() == [1, 2]


def test_min_p_hand_computed():
    out = S.min_p_filter(logits_of([0.6, 0.3, 0.1]), 0.2)
    assert torch.isfinite(out[0]).tolist() == [True, True, False]
    assert torch.isfinite(S.min_p_filter(logits_of([0.6, 0.3, 0.1]), 1.0)[0]).tolist() == [True, False, False]


def test_filters_work_on_any_leading_shape():
    x = torch.randn(2, 3, 7, generator=torch.Generator().manual_seed(0))
    for f, arg in [(S.top_k_filter, 3), (S.top_p_filter, 0.8), (S.min_p_filter, 0.1)]:
        torch.testing.assert_close(f(x, arg), torch.stack([f(row, arg) for row in x.view(-1, 7)]).view(2, 3, 7))


def test_sampling_distribution_hand_computed():
    probs = S.sampling_distribution(logits_of([0.5, 0.3, 0.2]), temperature=1.0, top_k=2)
    torch.testing.assert_close(probs, torch.tensor([[0.625, 0.375, 0.0]], dtype=torch.float64))
    probs = S.sampling_distribution(logits_of([0.5, 0.3, 0.2]), top_p=0.7)
    torch.testing.assert_close(probs, torch.tensor([[0.625, 0.375, 0.0]], dtype=torch.float64))


def test_sample_next_token_shape_dtype_and_seed():
    logits = torch.randn(4, 11, generator=torch.Generator().manual_seed(1))
    a = S.sample_next_token(logits, 0.8, top_k=5, generator=torch.Generator().manual_seed(7))
    b = S.sample_next_token(logits, 0.8, top_k=5, generator=torch.Generator().manual_seed(7))
    assert a.shape == (4,) and a.dtype == torch.int64 and torch.equal(a, b)


def test_sample_next_token_frequencies_match_distribution():
    logits = torch.tensor([[2.0, 1.0, 0.5, 0.0, -1.0]]).repeat(20000, 1)
    draws = S.sample_next_token(logits, 1.5, top_k=4, generator=torch.Generator().manual_seed(0))
    freq = torch.bincount(draws, minlength=5).double() / draws.numel()
    expected = S.sampling_distribution(logits[:1], 1.5, top_k=4)[0].double()
    torch.testing.assert_close(freq, expected, atol=0.015, rtol=0)  # ~4.5 standard errors
    assert freq[4] == 0


# ----------------------------------------------------------------------------- input safety and validation

FILTERS = [
    (S.top_k_filter, 2),
    (S.top_p_filter, 0.6),
    (S.min_p_filter, 0.3),
    (S.softmax_with_temperature, 0.7),
]


@pytest.mark.parametrize("f, arg", FILTERS)
def test_input_is_not_modified(f, arg):
    x = torch.tensor([[1.0, 1.0, 3.0, -2.0, 0.5]])
    before = x.clone()
    f(x, arg)
    S.sample_next_token(x, 0.7, top_k=3, top_p=0.9, generator=torch.Generator().manual_seed(0))
    S.greedy_next_token(x)
    assert torch.equal(x, before)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda x: S.softmax_with_temperature(x, 0.0), "temperature"),
        (lambda x: S.softmax_with_temperature(x, -1.0), "temperature"),
        (lambda x: S.softmax_with_temperature(x, float("nan")), "temperature"),
        (lambda x: S.top_k_filter(x, 0), "top_k"),
        (lambda x: S.top_k_filter(x, 2.0), "top_k"),
        (lambda x: S.top_k_filter(x, True), "top_k"),
        (lambda x: S.top_p_filter(x, 1.5), "top_p"),
        (lambda x: S.top_p_filter(x, -0.1), "top_p"),
        (lambda x: S.min_p_filter(x, 2.0), "min_p"),
        (lambda x: S.sampling_distribution(x, 1.0, top_k=-3), "top_k"),
        (lambda x: S.sample_next_token(x, 0.0), "temperature"),
        (lambda x: S.sample_next_token(x[0], 1.0), "logits"),
        (lambda x: S.greedy_next_token(x.long()), "logits"),
        (lambda x: S.top_k_filter(x.tolist(), 1), "logits"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(call, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        call(torch.tensor([[1.0, 2.0, 3.0]]))


# ----------------------------------------------------------------------------- HF warpers as the oracle


def oracle_inputs():
    g = torch.Generator().manual_seed(0)
    cases = [torch.randn(3, v, generator=g) * s for v in (5, 50, 1000) for s in (0.5, 3.0, 20.0)]
    cases += [
        torch.randint(0, 3, (4, 12), generator=g).float(),  # many equal finite values
        torch.zeros(2, 10),
        torch.tensor([[10.0, 0, 0, 0, 0], [0, 0, 0, 0, 10.0]]),
        torch.tensor([[1.0, -INF, 2.0, -INF, 2.0, 0.5]]),
    ]  # already filtered
    return [c.to(dtype) for c in cases for dtype in (torch.float32, torch.float64)]


def assert_same_filtering(ours, theirs):
    assert torch.equal(torch.isinf(ours), torch.isinf(theirs))  # exact -inf positions
    assert torch.equal(ours, theirs)  # and exactly the same finite values


@pytest.mark.parametrize("t", [0.5, 0.7, 1.3])
def test_temperature_matches_hf(t):
    for x in oracle_inputs():
        hf = TemperatureLogitsWarper(t)(None, x)
        assert torch.equal(S.softmax_with_temperature(x, t), torch.softmax(hf, dim=-1))


@pytest.mark.parametrize("k", [1, 2, 3, 10, 5000])
def test_top_k_matches_hf(k):
    for x in oracle_inputs():
        assert_same_filtering(S.top_k_filter(x, k), TopKLogitsWarper(k)(None, x))


@pytest.mark.parametrize("p", [0.05, 0.1, 0.5, 0.9, 0.95, 0.999])
def test_top_p_matches_hf(p):
    for x in oracle_inputs():
        assert_same_filtering(S.top_p_filter(x, p), TopPLogitsWarper(p)(None, x))


@pytest.mark.parametrize("min_p", [0.0, 0.05, 0.2, 0.9])
def test_min_p_matches_hf(min_p):
    for x in oracle_inputs():
        assert_same_filtering(S.min_p_filter(x, min_p), MinPLogitsWarper(min_p)(None, x))


@pytest.mark.parametrize("t, k, p", [(1.0, None, None), (0.7, 5, None), (1.3, None, 0.9), (0.9, 10, 0.8)])
def test_sampling_distribution_is_softmax_of_hf_chain(t, k, p):
    for x in oracle_inputs():
        scores = TemperatureLogitsWarper(t)(None, x)
        if k is not None:
            scores = TopKLogitsWarper(k)(None, scores)
        if p is not None:
            scores = TopPLogitsWarper(p)(None, scores)
        assert torch.equal(S.sampling_distribution(x, t, k, p), torch.softmax(scores, dim=-1))


# ----------------------------------------------------------------------------- decoding vs HF generate


def hf_generate(model, ids, **kwargs):
    return model.generate(ids, attention_mask=torch.ones_like(ids), **kwargs)


def test_generate_greedy_matches_hf(course_lm, story_ids):
    model, _ = course_lm
    ours = S.generate(model, story_ids, 40, eos_token_id=None)
    assert ours.shape == (1, story_ids.size(1) + 40)
    assert torch.equal(ours, hf_generate(model, story_ids, max_new_tokens=40, do_sample=False, eos_token_id=None))


def test_generate_stops_right_after_eos(course_lm, story_ids):
    model, tok = course_lm
    ours = S.generate(model, story_ids, 40, eos_token_id=tok.eos_token_id)
    assert ours[0, -1].item() == tok.eos_token_id and ours.size(1) < story_ids.size(1) + 40
    assert torch.equal(
        ours, hf_generate(model, story_ids, max_new_tokens=40, do_sample=False, eos_token_id=tok.eos_token_id)
    )


def test_generate_with_stop_strings_matches_hf(course_lm, story_ids):
    model, tok = course_lm
    for stop in ["dinner", "went to", "Ben", "."]:
        ours = S.generate(model, story_ids, 40, stop_strings=[stop], tokenizer=tok)
        hf = hf_generate(
            model,
            story_ids,
            max_new_tokens=40,
            do_sample=False,
            eos_token_id=None,
            stop_strings=[stop],
            tokenizer=tok,
        )
        assert torch.equal(ours, hf), stop


@pytest.mark.parametrize(
    "kw",
    [
        dict(temperature=1.0),
        dict(temperature=0.7, top_k=5),
        dict(temperature=1.3, top_p=0.9),
        dict(temperature=1.0, top_k=10, top_p=0.8),
    ],
)
def test_seeded_sampling_matches_hf_token_for_token(course_lm, story_ids, kw):
    model, _ = course_lm
    for seed in range(3):
        torch.manual_seed(seed)
        # subtle: HF generate(do_sample=True) adds top_k=50 unless told top_k=0
        hf = hf_generate(model, story_ids, max_new_tokens=25, do_sample=True, eos_token_id=None, **{"top_k": 0, **kw})
        ours = S.generate(model, story_ids, 25, generator=torch.Generator().manual_seed(seed), **kw)
        assert torch.equal(ours, hf), (kw, seed)


@pytest.mark.parametrize("num_beams", [1, 2, 3, 5])
def test_beam_search_matches_hf(course_lm, story_ids, num_beams):
    model, _ = course_lm
    ours = S.beam_search(model, story_ids, num_beams, 25)
    # subtle: eos_token_id=None as a keyword switches EOS off (the prompt crosses <|endoftext|>)
    hf = hf_generate(
        model,
        story_ids,
        max_new_tokens=25,
        do_sample=False,
        num_beams=num_beams,
        length_penalty=0.0,
        early_stopping=True,
        eos_token_id=None,
    )
    assert ours.shape == (1, story_ids.size(1) + 25) and torch.equal(ours, hf)


def test_generate_rejects_bad_arguments(course_lm, story_ids):
    model, tok = course_lm
    with pytest.raises(ValueError, match="`input_ids`"):
        S.generate(model, story_ids[0], 5)
    with pytest.raises(ValueError, match="`max_new_tokens`"):
        S.generate(model, story_ids, -1)
    with pytest.raises(ValueError, match="`temperature`"):
        S.generate(model, story_ids, 5, temperature=-1.0)
    with pytest.raises(ValueError, match="`stop_strings`"):
        S.generate(model, story_ids, 5, stop_strings=["."])
    with pytest.raises(ValueError, match="`num_beams`"):
        S.beam_search(model, story_ids, 0, 5)


def test_generate_zero_new_tokens_returns_prompt(course_lm, story_ids):
    model, _ = course_lm
    assert torch.equal(S.generate(model, story_ids, 0), story_ids)
    assert torch.equal(S.beam_search(model, story_ids, 3, 0), story_ids)
