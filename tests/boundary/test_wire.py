"""Plain data across the boundary: every supported value round-trips; bad data is refused, never executed."""

import json
import math

import numpy as np
import pytest
import torch

from grader.boundary import wire


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        3,
        -2.5,
        "text é",
        [1, 2, [3]],
        (1, "a"),
        {(1, 2): 3, (0, 0): 1},
        {"a": torch.arange(6).reshape(2, 3)},
        [torch.randn(2, 2), torch.tensor([True, False])],
        float("inf"),
        float("-inf"),
        torch.empty(0, 4),
    ],
)
def test_values_round_trip(value):
    back = wire.loads(*wire.dumps(value))
    assert _same(back, value)


def _same(a, b):
    if isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(b, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in b)
    return a == b or (isinstance(b, float) and math.isnan(b) and math.isnan(a))


def test_nan_round_trips():
    assert math.isnan(wire.loads(*wire.dumps(float("nan"))))


def test_dict_key_order_and_tuple_keys_survive():
    counts = {(104, 105): 2, (97, 98): 1}
    assert list(wire.loads(*wire.dumps(counts)).items()) == list(counts.items())


def test_numpy_arrays_come_back_as_numpy():
    back = wire.loads(*wire.dumps(np.arange(3)))
    assert isinstance(back, np.ndarray) and back.tolist() == [0, 1, 2]


def test_unsupported_objects_are_refused():
    with pytest.raises(wire.WireError, match="cannot send"):
        wire.dumps(object())


def test_encoding_refuses_too_much_tensor_data_before_copying():
    with pytest.raises(wire.WireError, match="too large"):
        wire.dumps(torch.zeros(1000), max_bytes=100)


@pytest.mark.parametrize(
    "tree",
    [
        {"value": {"$pickle": "x"}},
        {"value": {"$tensor": "t9"}},
        {"value": {"a": 1, "b": 2}},
        {"nothing": 1},
        {"value": {"$dict": [[[1], 2]]}},
    ],
)
def test_malformed_data_is_refused(tree):
    with pytest.raises(wire.WireError):
        wire.loads(json.dumps(tree).encode(), b"")


def test_garbage_bytes_are_refused():
    with pytest.raises(wire.WireError):
        wire.loads(b"\xff\xfe", b"not safetensors")


def test_absurd_nesting_is_refused():
    tree = 1
    for _ in range(100):
        tree = [tree]
    with pytest.raises(wire.WireError):
        wire.loads(json.dumps({"value": tree}).encode(), b"")
