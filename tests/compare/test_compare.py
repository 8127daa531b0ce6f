"""Comparisons: what passes, what fails, and messages that say why."""

import pytest
import torch

from grader.compare import compare
from grader.compare.distribution import distribution
from grader.compare.rules import CloseCompare, DistributionCompare, ExactCompare

EXACT, CLOSE = ExactCompare(), CloseCompare(rtol=1e-5, atol=1e-6)


def test_exact_tensors_pass_and_a_differing_element_is_located():
    assert compare(EXACT, torch.tensor([1, 2, 3]), torch.tensor([1, 2, 3])).passed
    verdict = compare(EXACT, torch.tensor([1, 2, 3]), torch.tensor([1, 5, 3]))
    assert not verdict.passed and "index 1" in verdict.message and "expected 2, got 5" in verdict.message


def test_shape_and_dtype_mismatches_are_named():
    assert "expected shape (2,)" in compare(CLOSE, torch.zeros(2), torch.zeros(3)).message
    assert "expected dtype torch.int64" in compare(EXACT, torch.zeros(2, dtype=torch.int64), torch.zeros(2)).message


def test_a_list_is_not_a_tensor():
    verdict = compare(EXACT, torch.tensor([1, 2]), [1, 2])
    assert not verdict.passed and "expected a torch.Tensor, got list" in verdict.message


def test_close_reports_the_worst_element_and_its_difference():
    expected = torch.tensor([[0.1, 0.2], [0.3, 0.4]])
    actual = expected.clone()
    actual[1, 0] += 0.01
    actual[0, 1] += 0.001
    verdict = compare(CLOSE, expected, actual)
    assert not verdict.passed
    assert "2 of 4 elements not close" in verdict.message and "worst at index (1, 0)" in verdict.message
    assert "difference 0.01" in verdict.message


def test_close_accepts_rounding_noise():
    x = torch.randn(100, dtype=torch.float32)
    assert compare(CLOSE, x, x + 1e-8).passed


def test_infinities_must_match_in_place_and_sign():
    expected = torch.tensor([1.0, float("-inf"), 2.0])
    assert compare(CLOSE, expected, expected.clone()).passed
    verdict = compare(CLOSE, expected, torch.tensor([1.0, 0.0, 2.0]))
    assert not verdict.passed and "infinity" in verdict.message and "index 1" in verdict.message
    assert not compare(CLOSE, expected, torch.tensor([1.0, float("inf"), 2.0])).passed


def test_nan_is_reported():
    verdict = compare(CLOSE, torch.tensor([1.0, 2.0]), torch.tensor([1.0, float("nan")]))
    assert not verdict.passed and "NaN at index 1" in verdict.message


def test_nested_structures_name_the_path():
    expected = {(1, 2): 3, (2, 3): 1}
    assert compare(EXACT, expected, {(1, 2): 3, (2, 3): 1}).passed
    assert "wrong key order" in compare(EXACT, expected, {(2, 3): 1, (1, 2): 3}).message
    assert "result[(2, 3)]" in compare(EXACT, expected, {(1, 2): 3, (2, 3): 2}).message
    assert "missing keys" in compare(EXACT, expected, {(1, 2): 3}).message


def test_int_and_bool_are_different_types():
    assert not compare(EXACT, 1, True).passed


# --- distribution tests for samplers -------------------------------------------------------------

LOGITS = torch.tensor([[2.0, 1.0, 0.5, 0.0, -1.0, -3.0], [0.0, 0.0, 1.0, 3.0, -2.0, 0.5]])


def probs_at(temperature):
    return torch.softmax(LOGITS / temperature, dim=-1)


def multinomial_sampler(logits, temperature, generator):
    return torch.multinomial(torch.softmax(logits / temperature, -1), 1, generator=generator).squeeze(-1)


def inverse_cdf_sampler(logits, temperature, generator):
    cdf = torch.softmax(logits / temperature, -1).cumsum(-1)
    u = torch.rand(logits.shape[0], 1, generator=generator)
    return (cdf < u).sum(-1).clamp(max=logits.shape[-1] - 1)


def ignores_temperature(logits, temperature, generator):
    return multinomial_sampler(logits, 1.0, generator)


def draws_of(sampler, n=2000, temperature=0.5, seed=0):
    """n calls' worth of draws, each of shape (B,), made in one batched call for speed."""
    g = torch.Generator().manual_seed(seed)
    return list(sampler(LOGITS.repeat(n, 1), temperature, g).reshape(n, -1))


@pytest.mark.parametrize("sampler", [multinomial_sampler, inverse_cdf_sampler])
def test_correct_samplers_pass_whatever_random_numbers_they_use(sampler):
    for seed in range(5):
        assert distribution(probs_at(0.5), draws_of(sampler, seed=seed), 2000, 1e-6).passed


def test_two_correct_samplers_draw_differently_yet_both_pass():
    a, b = draws_of(multinomial_sampler), draws_of(inverse_cdf_sampler)
    assert not torch.equal(torch.stack(a), torch.stack(b))


def test_a_sampler_that_ignores_temperature_fails():
    for seed in range(5):
        verdict = distribution(probs_at(0.5), draws_of(ignores_temperature, seed=seed), 2000, 1e-6)
        assert not verdict.passed and "do not follow the expected distribution" in verdict.message


def test_drawing_a_filtered_token_fails_at_once():
    probs = torch.tensor([[0.5, 0.5, 0.0]])
    draws = [torch.tensor([i % 3]) for i in range(300)]
    verdict = distribution(probs, draws, 300, 1e-6)
    assert not verdict.passed and "token 2" in verdict.message and "probability is 0" in verdict.message


def test_wrong_shapes_dtypes_and_counts_are_named():
    probs = probs_at(1.0)
    assert "shape (2,)" in distribution(probs, [torch.zeros(3, dtype=torch.int64)] * 10, 10, 1e-6).message
    assert "torch.int64" in distribution(probs, [torch.zeros(2)] * 10, 10, 1e-6).message
    assert "expected 10 results" in distribution(probs, [torch.zeros(2, dtype=torch.int64)] * 9, 10, 1e-6).message


def test_false_failure_rate_is_at_most_alpha():
    """Calibration: at alpha = 0.05 a correct sampler fails about 5% of cases or fewer (pooled chi-square)."""
    failures = sum(
        not distribution(probs_at(0.7), draws_of(multinomial_sampler, 500, 0.7, seed), 500, 0.05).passed
        for seed in range(200)
    )
    assert failures / 200 <= 0.08


def test_the_compare_entry_point_dispatches_distribution():
    rule = DistributionCompare(draws=2000)
    assert compare(rule, probs_at(0.5), draws_of(multinomial_sampler)).passed
