"""``grader.public_inputs``: the one line a report gives to load a failed public test's inputs."""

import pytest
import torch

from grader.assignment.release import release
from grader.assignment.spec import load_assignment
from grader.errors import GraderError
from grader.selfcheck.notebook import public_inputs
from tests.helpers import REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tests_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("rel") / "03-sampling"
    release(load_assignment(REPO / "assignments" / "03-sampling"), out)
    return out / "tests"


def test_a_public_tests_inputs_are_ready_for_the_call(tests_folder):
    args = public_inputs("top_k_filter: ties with the k-th value are kept", tests_folder)
    assert torch.equal(args["logits"], torch.tensor([[1.0, 1.0, 1.0, 0.0]])) and args["k"] == 2
    args = public_inputs("generate: greedy, 10 new tokens", tests_folder)
    assert hasattr(args["model"], "generate") and args["input_ids"].dtype == torch.int64


def test_an_unknown_name_lists_the_public_tests(tests_folder):
    with pytest.raises(GraderError, match="the public tests are: softmax_with_temperature: "):
        public_inputs("top_k_filter: no such case", tests_folder)
