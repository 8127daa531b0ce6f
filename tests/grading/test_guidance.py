""" "What to look at": the first failing function in the assignment's order, failures inherited from a function
it calls, and a failed public case's inputs (small ones printed, large ones loaded by one line)."""

import torch

from grader.boundary.wire import Handle
from grader.grading import results
from grader.grading.guidance import describe_inputs, guidance


def _question(name: str, *statuses: str, inputs: str = "k = 2") -> results.QuestionResult:
    tests = [
        results.TestResult(
            name=f"{name}: case {i}",
            question=name,
            score=0.0,
            max_score=1.0,
            status="passed" if status == "passed" else "failed",
            kind=status,
            inputs="" if status == "passed" else inputs,
        )
        for i, status in enumerate(statuses)
    ]
    return results.QuestionResult(name=name, score=0.0, max_score=len(tests), tests=tests)


def test_the_first_failing_function_comes_first_and_one_that_calls_it_is_told_to_wait():
    questions = [
        _question("softmax", "passed"),
        _question("top_k_filter", "wrong", "wrong"),
        _question("sample_next_token", "passed", "wrong"),
    ]
    top_k, sample = guidance(questions, {"sample_next_token": ["softmax", "top_k_filter"]})
    assert top_k == {
        "function": "top_k_filter",
        "text": 'start here: 2 failing test(s). Inputs of "top_k_filter: case 0":',
        "inputs": "k = 2",
    }
    assert sample["text"] == "1 failing test(s); it calls top_k_filter, which fails too: fix top_k_filter first"
    assert sample["inputs"] == ""


def test_a_missing_function_says_so():
    [entry] = guidance([_question("beam_search", "missing")], {})
    assert entry["text"] == "start here: not defined in your notebook"


def test_small_inputs_are_code_and_large_ones_a_line_that_loads_them():
    small = {"logits": torch.tensor([[1.0, 1.0, 0.0]]), "k": 2, "generator": Handle("generator", 3)}
    assert describe_inputs(small, "f: c") == (
        "logits = torch.tensor([[1.0, 1.0, 0.0]])\nk = 2\ngenerator = torch.Generator().manual_seed(3)"
    )
    assert describe_inputs({"ids": torch.tensor([1, 2], dtype=torch.int64)}, "f: c") == (
        "ids = torch.tensor([1, 2], dtype=torch.int64)"
    )
    line = describe_inputs({"logits": torch.randn(50, 100)}, "top_k_filter: big")
    assert line.startswith("from grader import public_inputs; args = public_inputs('top_k_filter: big')")
