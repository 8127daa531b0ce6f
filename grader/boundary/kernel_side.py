"""The harness that runs *inside* the student's kernel: call one graded function on given inputs.

Its source is sent into the kernel together with ``grader.boundary.wire`` (executed in one namespace, so the
wire functions are plain globals here); it is never imported by the host for grading. It is
untrusted the moment it runs: the student's code can patch it. That is fine by design: it only moves
data, and every comparison happens on the host on the values it wrote.

Per call the host writes ``<folder>/in.json`` + ``in.safetensors`` (keyword arguments); all the calls of a
submission go in one request, ``__grader_harness__.call_many([(name, folder, repeat), ...])``, which makes
them in order and writes each call's ``out.json`` (+ ``out.safetensors``) as soon as it returns:
    {"status": "ok", "value": ..., "observed": {...}}   the return value (a list when repeat > 1), and what
                                                recording inputs saw (texts tokenized or embedded), if any
    {"status": "ok", "stacked": tensor}         repeat > 1 calls that all returned plain tensors of one shape,
                                                dtype and device: one tensor, the host unbinds it into the list
                                                (2000 separate tensors cost ~40 us each to write, as much as
                                                a sampler call)
    {"status": "missing" | "not_callable" | "exception" | "too_large" | "unencodable", "message": ...}
    {"status": "interrupted"}                   the call was interrupted (the host's watchdog: it took too long);
                                                the next call goes on
One request per call cost ~5 ms of messaging each (33 of them per 03-sampling submission); the host
watches the out.json files appear to enforce each call's own time limit (grader.grading.grade).
"""

from __future__ import annotations

import os
import traceback
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # in the kernel these are globals from grader.boundary.wire's source
    from grader.boundary.wire import Handle, WireError, WireTooLarge, dumps, loads


class Harness:
    def __init__(self, assets: dict[str, str], user_ns: dict, max_bytes: int, seed: int = 0):
        self.assets, self.user_ns, self.max_bytes, self.seed = assets, user_ns, max_bytes, seed
        self._models: dict = {}
        self._observers: list = []

    def call_many(self, calls: list) -> None:
        """Make each ``(name, folder, repeat)`` call in order; nothing that goes wrong in one stops the others:
        an interrupt, or a result file the notebook got in the way of (its result is then missing or wrong,
        which the host reports for that call alone)."""
        for name, folder, repeat in calls:
            try:
                self.call(name, folder, repeat)
            except BaseException:
                pass

    def call(self, name: str, folder: str, repeat: int = 1) -> None:
        if os.path.lexists(os.path.join(folder, "skip")):  # the host gave up on this function
            return
        _create(os.path.join(folder, "started"), b"")  # the host times the call from here
        try:
            result = self._call(name, folder, repeat)
        except KeyboardInterrupt:  # the host's watchdog: it says which status the call gets
            _write(folder, {"status": "interrupted"})
            raise
        except BaseException as exc:  # SystemExit too: it is the student's function's doing
            result = {"status": "exception", "message": _describe(exc)}
        _write(folder, result, self.max_bytes)

    def _call(self, name: str, folder: str, repeat: int) -> dict:
        import torch

        function = self.user_ns.get(name)
        if function is None:
            return {"status": "missing", "message": f"`{name}` is not defined in the notebook"}
        if not callable(function):
            return {"status": "not_callable", "message": f"`{name}` is a {type(function).__name__}, not a function"}
        with open(os.path.join(folder, "in.json"), "rb") as f_json:
            json_bytes = f_json.read()
        with open(os.path.join(folder, "in.safetensors"), "rb") as f_st:
            kwargs = loads(json_bytes, f_st.read())
        self._observers = []
        resolved = {key: self._resolve(value) for key, value in kwargs.items()}  # one generator for all repeats
        outputs = []
        for i in range(repeat):
            _seed_global_rng(torch, self.seed + i, first=i == 0)  # for functions that use the global RNG
            outputs.append(function(**resolved))
        stacked = _stack(torch, outputs) if repeat > 1 else None
        if stacked is not None:
            result = {"status": "ok", "stacked": stacked}
        else:
            result = {"status": "ok", "value": outputs if repeat > 1 else outputs[0]}
        if self._observers:
            result["observed"] = {name: list(texts) for name, texts in self._observers}
        return result

    def _resolve(self, value):
        if not isinstance(value, Handle):
            return value
        import torch

        if value.kind == "generator":
            return torch.Generator().manual_seed(int(value.value))
        if value.kind == "model":
            return self._load("model", value.value).eval()
        if value.kind == "tokenizer":
            recorder = RecordingTokenizer(self._load("tokenizer", value.value))
            self._observers.append(("tokenized", recorder.texts))
            return recorder
        if value.kind == "embedder":
            embedder = LookupEmbedder(value.value["texts"], value.value["vectors"])
            self._observers.append(("embedded", embedder.texts))
            return embedder
        raise ValueError(f"unknown input handle {value.kind!r}")

    def _load(self, kind: str, name: str):
        if (kind, name) not in self._models:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            loader = AutoModelForCausalLM if kind == "model" else AutoTokenizer
            self._models[kind, name] = loader.from_pretrained(self.assets[name])
        return self._models[kind, name]


class RecordingTokenizer:
    """The real tokenizer, noting every text it is asked to tokenize (what the prompt really was)."""

    def __init__(self, tokenizer):
        self._tokenizer, self.texts = tokenizer, []

    def _note(self, text):
        for t in [text] if isinstance(text, str) else text if isinstance(text, (list, tuple)) else []:
            if isinstance(t, str):
                self.texts.append(t)

    def __call__(self, text=None, *args, **kwargs):
        self._note(text)
        return self._tokenizer(text, *args, **kwargs)

    def encode(self, text, *args, **kwargs):
        self._note(text)
        return self._tokenizer.encode(text, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._tokenizer, name)


class LookupEmbedder:
    """embed(list[str]) -> (N, D): embeddings the host computed for exactly the case's texts."""

    def __init__(self, texts, vectors):
        self._rows = {text: i for i, text in enumerate(texts)}
        self._vectors, self.texts = vectors, []

    def __call__(self, texts):
        import torch

        if isinstance(texts, str):
            raise TypeError("embed() takes a list of strings, not one string")
        texts = list(texts)
        unknown = [t for t in texts if t not in self._rows]
        if unknown:
            raise ValueError(
                f"embed() was given a text that is neither the question nor a document: {unknown[0][:80]!r}"
            )
        self.texts.extend(texts)
        return self._vectors[torch.tensor([self._rows[t] for t in texts], dtype=torch.long)].clone()


def _seed_global_rng(torch, seed: int, first: bool) -> None:
    """``torch.manual_seed(seed)`` for a call, minus seeds queued for accelerators this machine does not have.

    subtle: ``torch.manual_seed`` queues the seed for every accelerator not yet initialised (CUDA, XPU, MTIA:
    all of them on a CPU machine, even with the CPU build of torch), and each queueing records
    ``traceback.format_stack()``: ~2-3 us per frame on the stack, three times over. In a kernel (IPython's
    and ipykernel's frames sit below the harness) that is ~0.4 ms a call against ~40 us for a sampler call,
    and several ms for a case's first call: 2000 repeats took 4.6 s per 10,000 calls instead of 0.5 s.
    So: the CPU generator, every accelerator already initialised, and, for a case's first call only, a
    seed queued for an accelerator that exists but is not initialised yet (it takes that seed when it is).
    """
    torch.default_generator.manual_seed(seed)
    for name in ("cuda", "xpu", "mtia"):
        device = getattr(torch, name, None)
        if device is not None and (device.is_initialized() or (first and device.is_available())):
            device.manual_seed_all(seed)
    mps = getattr(torch, "mps", None)
    if mps is not None:
        mps.manual_seed(seed)  # returns at once without MPS


def _stack(torch, outputs: list):
    """``outputs`` as one tensor along a new first dimension, or None unless all are plain tensors that stack."""
    first = outputs[0]
    if not all(
        type(t) is torch.Tensor and t.shape == first.shape and t.dtype == first.dtype and t.device == first.device
        for t in outputs
    ):
        return None
    try:
        return torch.stack([t.detach() for t in outputs])
    except Exception:  # e.g. sparse or quantized tensors: send them one by one
        return None


def _describe(exc: BaseException) -> str:
    """The exception and the student's frames (the harness's own frames are dropped)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<grader")]
    lines = traceback.format_list(frames[-5:]) + traceback.format_exception_only(type(exc), exc)
    return "".join(lines)[-3000:]


def _write(folder: str, result: dict, max_bytes: int = 1 << 20) -> None:
    """Write a call's result; a value that cannot be encoded (any error, e.g. a sparse, meta or quantized tensor)
    becomes an ``unencodable`` result, so every call that ran leaves one."""
    try:
        json_bytes, tensor_bytes = dumps(result, max_bytes)
    except WireTooLarge as exc:
        json_bytes, tensor_bytes = dumps({"status": "too_large", "message": str(exc)})
    except Exception as exc:
        why = str(exc) if isinstance(exc, WireError) else f"{type(exc).__name__}: {exc}"[:500]
        message = f"returned a value that cannot be sent ({why})"
        json_bytes, tensor_bytes = dumps({"status": "unencodable", "message": message})
    if len(tensor_bytes) + len(json_bytes) > max_bytes:
        size = len(tensor_bytes) + len(json_bytes)
        json_bytes, tensor_bytes = dumps({"status": "too_large", "message": f"returned {size} bytes"})
    _create(os.path.join(folder, "out.safetensors"), tensor_bytes)
    _create(os.path.join(folder, "out.json"), json_bytes)


def _create(path: str, data: bytes) -> None:
    if os.path.lexists(path):  # e.g. a planted symlink: replace it, never write through it
        os.unlink(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
