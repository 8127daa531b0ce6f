"""Turning a case's ``args`` from the spec into values: seeded tensors, files, literals and handles.

Each argument is a plain TOML value (number, string, bool, list) or an inline table with one of:

    { tensor = [[1.0, 2.0]], dtype = "float32" }           a literal tensor
    { randn = [4, 50], seed = 1, scale = 3.0 }             seeded standard normal * scale (+ shift)
    { randint = [2, 8], high = 100, seed = 1, low = 0 }    seeded integers in [low, high)
    { file = "data/x.safetensors", key = "logits" }        a tensor from a file in the assignment folder
    { encode = "Once upon a time", tokenizer = "course-lm" } token ids (1, L) from an asset's tokenizer
    { token_id = ".", tokenizer = "course-lm" }            the id of a text that is exactly one token (an int)
    { model = "course-lm" }                                the asset's model (loaded where the call runs)
    { tokenizer = "course-lm" }                            the asset's tokenizer (records the texts it is given)
    { embedder = "course-lm", texts = ["question", "documents"] }
                                                           an embed(list[str]) -> (N, D) function that knows
                                                           exactly the texts of those arguments
    { generator = 0 }                                      a torch.Generator seeded with 0
    { text_file = "data/story.txt" }                      the text of a file in the assignment folder
    { call = "reference.attention:causal_mask", args = { seq_len = 4 } }
                                                           the value a reference function returns (so one
                                                           function is graded on the reference's inputs)
    { tuple = [1, 2] }, { literal = {...} }                a tuple; any value taken as is

The keys each kind takes are in :data:`grader.assignment.input_tables.INPUT_KEYS`, checked when the spec is
read. Everything here runs on the host; the values are the same every time (seeded, CPU generator).
"""

from __future__ import annotations

from pathlib import Path

import torch

from grader.assignment.input_tables import kind_of, table_problem
from grader.assignment.references import load_model, load_tokenizer, run_reference
from grader.boundary.wire import Handle
from grader.errors import SpecError

DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "int64": torch.int64,
    "int32": torch.int32,
    "bool": torch.bool,
}


def materialize(args: dict, folder: Path, assets: dict[str, Path], where: str) -> dict:
    """Return the keyword arguments of a call; ``where`` names the case in error messages.

    Embedders are built last: their lookup table embeds the texts of other arguments.
    """
    values = {
        name: _value(spec, folder, assets, f"{where}, argument '{name}'")
        for name, spec in args.items()
        if not _is_embedder(spec)
    }
    for name, spec in args.items():
        if _is_embedder(spec):
            values[name] = _guard(f"{where}, argument '{name}'", "embedder", spec, _embedder, spec, assets, values)
    return {name: values[name] for name in args}


def _is_embedder(spec) -> bool:
    return isinstance(spec, dict) and kind_of(spec) == "embedder"


def _value(spec, folder: Path, assets: dict[str, Path], where: str):
    if isinstance(spec, list):
        return [_value(x, folder, assets, where) for x in spec]
    if not isinstance(spec, dict):
        return spec
    problem = table_problem(spec)  # checked when the spec was read; again for direct callers
    if problem:
        raise SpecError(f"{where}: {problem}")
    return _guard(where, kind_of(spec), spec, _BUILDERS[kind_of(spec)], spec, folder, assets)


def _guard(where: str, kind: str, spec: dict, build, *args):
    try:
        return build(*args)
    except SpecError as exc:
        raise SpecError(f"{where}: {exc}") from None
    except (KeyError, TypeError, ValueError, RuntimeError, OSError) as exc:
        raise SpecError(f"{where}: cannot build {kind!r} input from {spec}: {exc}") from None


def _dtype(spec: dict, default: str) -> torch.dtype:
    name = spec.get("dtype", default)
    if name not in DTYPES:
        raise SpecError(f"unknown dtype {name!r}; use one of {sorted(DTYPES)}")
    return DTYPES[name]


def _randn(spec: dict, folder, assets) -> torch.Tensor:
    g = torch.Generator().manual_seed(int(spec["seed"]))
    x = torch.randn(*spec["randn"], generator=g, dtype=torch.float64)
    return (x * spec.get("scale", 1.0) + spec.get("shift", 0.0)).to(_dtype(spec, "float32"))


def _randint(spec: dict, folder, assets) -> torch.Tensor:
    g = torch.Generator().manual_seed(int(spec["seed"]))
    return torch.randint(spec.get("low", 0), spec["high"], tuple(spec["randint"]), generator=g).to(
        _dtype(spec, "int64")
    )


def _inside(folder: Path, name: str) -> Path:
    path = (folder / name).resolve()
    if folder.resolve() not in path.parents:
        raise SpecError(f"file {name!r} is outside the assignment folder")
    return path


def _file(spec: dict, folder: Path, assets) -> torch.Tensor:
    from safetensors.torch import load_file

    return load_file(str(_inside(folder, spec["file"])))[spec["key"]]


def _call(spec: dict, folder: Path, assets) -> object:
    args = materialize(spec.get("args", {}), folder, assets, f"call {spec['call']}")
    return run_reference(spec["call"], args, assets, f"input from {spec['call']}", folder)


def _asset(assets: dict[str, Path], name: str) -> Path:
    if name not in assets:
        raise SpecError(f"asset {name!r} is not declared in the spec's [assets]")
    return assets[name]


def _encode(spec: dict, folder, assets) -> torch.Tensor:
    tokenizer = load_tokenizer(str(_asset(assets, spec["tokenizer"])))
    return torch.tensor([tokenizer.encode(spec["encode"])], dtype=torch.int64)


def _embedder(spec: dict, assets: dict[str, Path], siblings: dict) -> Handle:
    """A lookup-table embedder over the texts of the arguments named in ``texts``, embedded on the host by
    the reference embedder of the asset. In the kernel, embedding any other text is an error."""
    from reference.retrieval import course_embedder

    texts: list[str] = []
    for name in spec["texts"]:
        value = siblings[name]
        for text in [value] if isinstance(value, str) else value:
            if text not in texts:
                texts.append(text)
    path = _asset(assets, spec["embedder"])
    embed = course_embedder(load_model(str(path), "cpu"), load_tokenizer(str(path)))
    return Handle("embedder", {"texts": texts, "vectors": embed(texts).detach().cpu()})


def _token_id(spec: dict, folder, assets) -> int:
    tokenizer = load_tokenizer(str(_asset(assets, spec["tokenizer"])))
    ids = tokenizer.encode(spec["token_id"])
    if len(ids) != 1:
        raise SpecError(f"{spec['token_id']!r} is {len(ids)} tokens, not one")
    return ids[0]


_BUILDERS = {
    "tensor": lambda s, f, a: torch.tensor(s["tensor"], dtype=_dtype(s, "float32")),
    "randn": _randn,
    "randint": _randint,
    "file": _file,
    "encode": _encode,
    "token_id": _token_id,
    "model": lambda s, f, a: (_asset(a, s["model"]), Handle("model", s["model"]))[1],
    "tokenizer": lambda s, f, a: (_asset(a, s["tokenizer"]), Handle("tokenizer", s["tokenizer"]))[1],
    "generator": lambda s, f, a: Handle("generator", int(s["generator"])),
    "text_file": lambda s, f, a: _inside(f, s["text_file"]).read_text(encoding="utf-8"),
    "call": _call,
    "tuple": lambda s, f, a: tuple(_value(x, f, a, "tuple") for x in s["tuple"]),
    "literal": lambda s, f, a: s["literal"],
}
