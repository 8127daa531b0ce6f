"""Repeated calls through the real harness (commit c02dac4): reseeding and the stacked result.

The harness runs in this process exactly as ``grader.selfcheck.check``'s ``_InProcessCaller`` runs it: the same
source as in the kernel (``harness.harness_module()``), inputs written with ``harness.write_inputs``, the
result written to files by the harness and read back with ``harness.read_outcome``. Calls 2..N of a case
reseed the global generator with ``seed + i`` without ``torch.manual_seed``; the values must still be those
``torch.manual_seed(seed + i)`` gives. Same-shape plain tensors come back as one stacked tensor on disk and
as a list on the host; anything else goes back one by one; a malformed ``stacked`` entry is invalid output.
"""

import json

import pytest
import torch
from safetensors.torch import load as st_load

from grader.assignment.spec import Limits
from grader.boundary import harness, wire

MAX_BYTES = Limits().return_bytes
MALFORMED = "the call's result is malformed"


def run_call(tmp_path, function, kwargs, repeat):
    """One call of ``function`` through the harness, as the self-check does: (outcome, folder, its seed)."""
    caller = harness.harness_module().Harness({}, {"f": function}, MAX_BYTES)  # built as check.py builds it
    folder = tmp_path / "call"
    harness.write_inputs(folder, kwargs)
    caller.call("f", str(folder), repeat)
    return harness.read_outcome(folder, MAX_BYTES, repeat), folder, caller.seed


def written(folder):
    """The raw JSON tree of out.json and the tensors stored in out.safetensors."""
    tree = json.loads((folder / "out.json").read_bytes())["value"]
    return dict(tree["$dict"]), st_load((folder / "out.safetensors").read_bytes())


def test_global_rng_repeats_match_manual_seed_and_are_sent_stacked(tmp_path):
    def draw():
        return torch.randint(0, 10, (3,))

    outcome, folder, seed = run_call(tmp_path, draw, {}, repeat=50)
    assert outcome.status == "ok", outcome.message
    with torch.random.fork_rng(devices=[]):
        expected = [(torch.manual_seed(seed + i), draw())[1] for i in range(50)]
    assert isinstance(outcome.value, list) and len(outcome.value) == 50
    for i, (got, want) in enumerate(zip(outcome.value, expected, strict=True)):
        assert got.dtype == want.dtype and torch.equal(got, want), f"repeat {i}: {got} != {want}"
    assert len({tuple(t.tolist()) for t in expected}) > 1  # the seeds really differ per repeat
    fields, tensors = written(folder)
    assert "value" not in fields and fields["stacked"] == {"$tensor": "t0"}
    assert list(tensors) == ["t0"] and tensors["t0"].shape == (50, 3)


def test_explicit_generator_argument_reproduces(tmp_path):
    def draw(generator):
        return torch.randint(0, 10, (3,), generator=generator)

    outcome, folder, _ = run_call(tmp_path, draw, {"generator": wire.Handle("generator", 1234)}, repeat=50)
    assert outcome.status == "ok", outcome.message
    generator = torch.Generator().manual_seed(1234)  # one generator for all repeats, as the harness resolves it
    expected = [draw(generator) for _ in range(50)]
    assert len(outcome.value) == 50
    assert all(torch.equal(got, want) for got, want in zip(outcome.value, expected, strict=True))
    assert len(written(folder)[1]) == 1


def test_mixed_shapes_come_back_as_a_list_of_tensors(tmp_path):
    sizes = iter([1, 2, 3, 2])

    def grow():
        return torch.arange(next(sizes), dtype=torch.float32)

    outcome, folder, _ = run_call(tmp_path, grow, {}, repeat=4)
    assert outcome.status == "ok", outcome.message
    assert [t.tolist() for t in outcome.value] == [[0.0], [0.0, 1.0], [0.0, 1.0, 2.0], [0.0, 1.0]]
    fields, tensors = written(folder)
    assert "stacked" not in fields and len(tensors) == 4


def test_mixed_dtypes_are_not_stacked(tmp_path):
    dtypes = iter([torch.float32, torch.float64, torch.float32])

    outcome, folder, _ = run_call(tmp_path, lambda: torch.ones(2, dtype=next(dtypes)), {}, repeat=3)
    assert outcome.status == "ok", outcome.message
    assert [t.dtype for t in outcome.value] == [torch.float32, torch.float64, torch.float32]
    assert "stacked" not in written(folder)[0]


@pytest.mark.parametrize("repeat", [1, 3])
def test_parameter_result_comes_back(tmp_path, repeat):
    weights = torch.tensor([[0.5, -1.0], [2.0, 3.25]])

    outcome, folder, _ = run_call(tmp_path, lambda: torch.nn.Parameter(weights.clone()), {}, repeat=repeat)
    assert outcome.status == "ok", outcome.message
    values = outcome.value if repeat > 1 else [outcome.value]
    assert len(values) == repeat
    assert all(isinstance(v, torch.Tensor) and torch.equal(v, weights) for v in values)
    assert "stacked" not in written(folder)[0]


@pytest.mark.parametrize(
    "stacked",
    [torch.tensor(3), 3, "abc", [torch.zeros(2), torch.ones(2)], None],
    ids=["0-d tensor", "int", "str", "list", "None"],
)
def test_malformed_stacked_entry_is_invalid_output(tmp_path, stacked):
    folder = tmp_path / "call"
    folder.mkdir()
    json_bytes, tensor_bytes = wire.dumps({"status": "ok", "stacked": stacked})  # as the kernel's _write does
    (folder / "out.safetensors").write_bytes(tensor_bytes)
    (folder / "out.json").write_bytes(json_bytes)
    outcome = harness.read_outcome(folder, MAX_BYTES, repeat=2)
    assert outcome.status == "invalid_output"
    assert outcome.message == MALFORMED and outcome.value is None


def test_well_formed_hand_written_stacked_entry_is_unbound(tmp_path):
    folder = tmp_path / "call"
    folder.mkdir()
    json_bytes, tensor_bytes = wire.dumps({"status": "ok", "stacked": torch.arange(6).reshape(3, 2)})
    (folder / "out.safetensors").write_bytes(tensor_bytes)
    (folder / "out.json").write_bytes(json_bytes)
    outcome = harness.read_outcome(folder, MAX_BYTES, repeat=3)
    assert outcome.status == "ok"
    assert [t.tolist() for t in outcome.value] == [[0, 1], [2, 3], [4, 5]]


def forged(folder, result):
    folder.mkdir()
    json_bytes, tensor_bytes = wire.dumps(result)
    (folder / "out.safetensors").write_bytes(tensor_bytes)
    (folder / "out.json").write_bytes(json_bytes)


@pytest.mark.parametrize("rows", [0, 2, 2_000_000])
def test_a_stacked_result_must_hold_one_row_per_draw(tmp_path, rows):
    # (2_000_000, 0): 72 bytes of data that would unbind into two million tensors in the event loop
    forged(tmp_path / "call", {"status": "ok", "stacked": torch.zeros(rows, 0)})
    outcome = harness.read_outcome(tmp_path / "call", MAX_BYTES, repeat=3)
    assert (outcome.status, outcome.message) == ("invalid_output", f"{rows} results for 3 draws")


@pytest.mark.parametrize("value", [[1, 2], [1, 2, 3, 4], 7, None])
def test_a_repeated_calls_list_must_hold_one_value_per_draw(tmp_path, value):
    forged(tmp_path / "call", {"status": "ok", "value": value})
    outcome = harness.read_outcome(tmp_path / "call", MAX_BYTES, repeat=3)
    assert (outcome.status, outcome.message) == ("invalid_output", "the results of 3 draws are malformed")


def test_a_single_call_cannot_send_stacked_results(tmp_path):
    forged(tmp_path / "call", {"status": "ok", "stacked": torch.zeros(1, 2)})
    assert harness.read_outcome(tmp_path / "call", MAX_BYTES).status == "invalid_output"


@pytest.mark.parametrize("message", [{"a": [1] * 1000}, 42, None, ["x"] * 100_000])
def test_a_forged_non_string_message_is_not_kept(tmp_path, message):
    forged(tmp_path / "call", {"status": "exception", "message": message})
    outcome = harness.read_outcome(tmp_path / "call", MAX_BYTES)
    assert (outcome.status, outcome.message) == ("exception", "(no message)")


def test_a_forged_huge_message_is_clipped_and_printable(tmp_path):
    forged(tmp_path / "call", {"status": "exception", "message": "\x1b[2J" + "x" * 500_000})
    outcome = harness.read_outcome(tmp_path / "call", MAX_BYTES)
    assert "\x1b" not in outcome.message and len(outcome.message) < 2100
    assert outcome.message.endswith("[... 498004 more characters cut]")


def test_a_call_whose_result_cannot_be_written_does_not_stop_the_calls_after_it(tmp_path):
    # what a notebook planting files into the grader's call folders can cause: the first call's out.json is a
    # folder, so its result cannot be written; the second call must still run and write its own
    caller = harness.harness_module().Harness({}, {"f": lambda x: x + 1}, MAX_BYTES)
    first, second = tmp_path / "call-1", tmp_path / "call-2"
    for folder in (first, second):
        harness.write_inputs(folder, {"x": 1})
    (first / "out.json").mkdir()
    caller.call_many([("f", str(first), 1), ("f", str(second), 1)])
    assert harness.read_outcome(first, MAX_BYTES).status == "invalid_output"
    outcome = harness.read_outcome(second, MAX_BYTES)
    assert outcome.status == "ok" and outcome.value == 2
