"""Plain data across the sandbox boundary: values <-> (JSON tree, safetensors tensors). Never pickle.

This module runs on both sides: the host imports it, and its source is sent into the kernel, so it
imports nothing from ``grader`` and only ``json``, ``math``, ``torch`` and ``safetensors``.

Encoding of a value:
    None, bool, int, str, finite float     as themselves
    nan, inf, -inf                         {"$float": "nan" | "inf" | "-inf"}
    list                                   [...]
    tuple                                  {"$tuple": [...]}
    dict (any hashable keys, order kept)   {"$dict": [[key, value], ...]}
    torch.Tensor                           {"$tensor": "t0"}   (data in the safetensors blob)
    numpy.ndarray                          {"$ndarray": "t1"}  (likewise)
    handles (inputs only)                  {"$handle": [kind, value]}, kind in HANDLE_KINDS
Decoding is strict: unknown tags, too deep or too many nodes, or a tensor name with no data raise
:class:`WireError`. Handles decode to :class:`Handle` objects; the receiving side resolves them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import torch
from safetensors.torch import load as _st_load
from safetensors.torch import save as _st_save

MAX_DEPTH = 32
HANDLE_KINDS = ("model", "tokenizer", "generator", "embedder")
MAX_NODES = 1_000_000


class WireError(ValueError):
    """A value cannot be encoded, or received data is not a valid encoding."""


class WireTooLarge(WireError):
    """A value's tensors are larger than the limit they were encoded under."""


@dataclass(frozen=True)
class Handle:
    """Something that cannot cross as data, rebuilt by the receiving side from ``value`` (see HANDLE_KINDS):
    a model or tokenizer (``value``: the asset's name), a seeded generator (the seed), an embedder (its
    lookup table ``{"texts": [...], "vectors": (N, D)}``)."""

    kind: str
    value: object


def encode(value, max_bytes: int | None = None) -> tuple[dict, dict[str, torch.Tensor]]:
    """Return ``({"value": tree}, tensors)``; tensors are detached, contiguous CPU copies.

    With ``max_bytes``, raise :class:`WireError` as soon as the tensors would exceed it (before copying).
    """
    tensors: dict[str, torch.Tensor] = {}
    total = [0]

    def add(t):
        total[0] += t.numel() * t.element_size()
        if max_bytes is not None and total[0] > max_bytes:
            raise WireTooLarge(f"value too large: more than {max_bytes} bytes of tensor data")
        return _add(tensors, t)

    return {"value": _enc(value, 0, add)}, tensors


def _enc(v, depth: int, add):
    """The JSON tree of ``v``; ``add(tensor)`` stores a tensor and returns its name."""
    if depth > MAX_DEPTH:
        raise WireError(f"value nested deeper than {MAX_DEPTH} levels")
    if v is None or isinstance(v, (bool, int, float, str)):
        return _scalar(v)
    if isinstance(v, torch.Tensor):
        if v.layout != torch.strided or v.is_meta or v.is_quantized:
            raise WireError(f"cannot send a {v.layout} {v.dtype} tensor on {v.device}: return a plain dense one")
        return {"$tensor": add(v)}
    if type(v).__module__ == "numpy" and hasattr(v, "dtype"):
        if getattr(v, "ndim", 0) == 0:  # numpy scalar
            return _enc(v.item(), depth + 1, add)
        if v.dtype.kind not in "biufc":
            raise WireError(f"cannot send a numpy array of dtype {v.dtype} (numpy object array?): return numbers")
        return {"$ndarray": add(torch.from_numpy(v.copy()))}
    if isinstance(v, Handle):
        return {"$handle": [v.kind, _enc(v.value, depth + 1, add)]}
    if isinstance(v, list):
        return [_enc(x, depth + 1, add) for x in v]
    if isinstance(v, tuple):
        return {"$tuple": [_enc(x, depth + 1, add) for x in v]}
    if isinstance(v, dict):
        return {"$dict": [[_enc(k, depth + 1, add), _enc(x, depth + 1, add)] for k, x in v.items()]}
    raise WireError(f"cannot send a value of type {type(v).__module__}.{type(v).__qualname__}")


def _scalar(v):
    """Plain builtins only (a subclass with a lying ``__eq__`` becomes its plain value)."""
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, int):
        return int(v)
    if isinstance(v, str):
        return str(v)
    return float(v) if math.isfinite(v) else {"$float": repr(float(v))}


def _add(tensors: dict, t: torch.Tensor) -> str:
    name = f"t{len(tensors)}"
    tensors[name] = t.detach().to("cpu").contiguous().clone()  # clone: safetensors refuses shared storage
    return name


def dumps(value, max_bytes: int | None = None, plain: dict | None = None) -> tuple[bytes, bytes]:
    """Encode ``value`` to ``(json_bytes, safetensors_bytes)``. ``plain`` fields (JSON values) are stored beside
    ``"value"`` as they are, for readers that must not decode it; :func:`loads` ignores them."""
    tree, tensors = encode(value, max_bytes)
    return json.dumps({**(plain or {}), **tree}, allow_nan=False).encode(), _st_save(tensors)


def loads(json_bytes: bytes, tensor_bytes: bytes | None):
    """Decode what :func:`dumps` produced; strict about structure (see module docstring)."""
    try:
        tree = json.loads(json_bytes)
        tensors = _st_load(tensor_bytes) if tensor_bytes else {}
    except Exception as exc:  # json, unicode, safetensors header errors
        raise WireError(f"unreadable data: {type(exc).__name__}: {exc}") from None
    if not isinstance(tree, dict) or "value" not in tree:
        raise WireError("data has no 'value' field")
    return decode(tree["value"], tensors)


def decode(tree, tensors: dict[str, torch.Tensor]):
    """Rebuild a value from its JSON tree and tensor table."""
    budget = [MAX_NODES]

    def dec(node, depth):
        budget[0] -= 1
        if budget[0] < 0 or depth > MAX_DEPTH:
            raise WireError("value too large or too deeply nested")
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [dec(x, depth + 1) for x in node]
        if not isinstance(node, dict) or len(node) != 1:
            raise WireError("malformed value: expected a tagged object with one key")
        ((tag, body),) = node.items()
        return _decode_tagged(tag, body, tensors, lambda x: dec(x, depth + 1))

    return dec(tree, 0)


def _decode_tagged(tag, body, tensors, dec):
    if tag in ("$tensor", "$ndarray"):
        if not isinstance(body, str) or body not in tensors:
            raise WireError(f"tensor {body!r} is missing from the data")
        return tensors[body] if tag == "$tensor" else tensors[body].numpy()
    if tag == "$float" and body in ("nan", "inf", "-inf"):
        return float(body)
    if tag == "$tuple" and isinstance(body, list):
        return tuple(dec(x) for x in body)
    if tag == "$dict" and isinstance(body, list):
        out = {}
        for item in body:
            if not (isinstance(item, list) and len(item) == 2):
                raise WireError("malformed dict entry")
            key = dec(item[0])
            try:
                out[key] = dec(item[1])
            except TypeError:  # unhashable key, e.g. a list
                raise WireError("dict key is not hashable") from None
        return out
    if tag == "$handle" and isinstance(body, list) and len(body) == 2 and body[0] in HANDLE_KINDS:
        return Handle(body[0], dec(body[1]))
    raise WireError(f"unknown tag {tag!r}")
