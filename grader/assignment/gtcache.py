"""Ground truth computed once: each case's inputs and expected value, cached on disk by a content hash.

``grader grade`` keeps the cache in ``OUT/.groundtruth/`` (:func:`~grader.assignment.gtsources.cache_folder`),
next to the gradebook, so regrading a class recomputes nothing. The key of a case (sha256, hex) covers
everything its inputs and expected value depend on:

- the case as written in the spec: ``args``, ``reference_args``, the compare kind (a distribution case's
  reference gets no generator) and the resolved reference target ``module:function``;
- the code: every ``.py`` file under ``reference/`` (so an edit anywhere in the reference invalidates
  every entry), the grader modules that build inputs and run the reference
  (:data:`~grader.assignment.gtsources.GRADER_CODE`), and the source of each module a case names (its
  target, ``call`` inputs), e.g. ``grader/compare/rag.py`` or the assignment's own ``reference.py`` (a
  reference file of the course repository, hashed like any module);
- the bytes of every file a case reads (``file``, ``text_file``) and of every asset folder it names
  (``model``, ``tokenizer``, ``embedder``): each file's path and content;
- where and how the reference runs: device (cpu or cuda) and its name, torch, transformers and
  tokenizers versions, default dtype, matmul precision, deterministic algorithms.

The case's name, weight and visibility are not in the key: they do not change the values.

An entry is one file, ``<key>.safetensors``: the tensors of the case's inputs and expected value, and in
its metadata the format tag, the key and the :mod:`grader.boundary.wire` JSON tree of ``{"args", "expected"}``.
Plain data only, never pickle; written to a temporary file and renamed into place. An entry that cannot
be read, is not a regular file, or whose stored key differs from its name is ignored with a warning, and
the case is computed again (and the entry rewritten). A value that :mod:`grader.boundary.wire` would not give back
with the very same types (say a ``torch.Size``) is computed every time instead of cached.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from grader.assignment.casekey import FORMAT, CaseKeys
from grader.assignment.spec import Case
from grader.boundary import wire
from grader.common.files import write_bytes

_PLAIN = (type(None), bool, int, float, str)
log = logging.getLogger(__name__)


class GroundTruthCache:
    """Entries of one cache folder; the folder is created on the first write."""

    def __init__(self, folder: Path | None, assignment_folder: Path, assets: dict[str, Path]):
        """``folder`` None: keys only (no entry is read or written)."""
        self.folder = Path(folder) if folder is not None else None
        self.assignment_folder, self.assets = assignment_folder, assets
        self.discarded = 0  # unreadable or mismatched entries seen (each is computed again)
        self.keys = CaseKeys(assignment_folder, assets, _environment())

    def key(self, case: Case, target: str) -> str | None:
        """The content hash of ``case`` run by ``target`` (:meth:`CaseKeys.key`)."""
        return self.keys.key(case, target)

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.safetensors"

    def get(self, key: str) -> tuple[dict, object] | None:
        """``(args, expected)`` of an entry, or None when there is none or it cannot be trusted."""
        path = self.path(key)
        try:
            return _unpack(_read_regular_file(path), key)
        except FileNotFoundError:
            return None
        except Exception as exc:  # noqa: BLE001 - any defect of an entry means: compute again
            self.discarded += 1
            log.warning("ground truth cache: ignoring %s (%s: %s); computing it again", path, type(exc).__name__, exc)
            return None

    def put(self, key: str, args: dict, expected) -> bool:
        """Store an entry atomically; False (with a log line) when the value is not cached."""
        value = {"args": args, "expected": expected}
        if not _faithful(value):
            log.info("ground truth cache: %s not cached (a value wire encoding would not give back as is)", key)
            return False
        try:
            data = _pack(key, value)
            self.folder.mkdir(parents=True, exist_ok=True)
            write_bytes(self.path(key), data, private=True)  # hidden cases' expected values
        except (OSError, ValueError) as exc:  # ValueError: wire.WireError, safetensors
            log.warning("ground truth cache: cannot write %s (%s: %s)", self.path(key), type(exc).__name__, exc)
            return False
        return True


def _pack(key: str, value: dict) -> bytes:
    tree, tensors = wire.encode(value)
    metadata = {"format": FORMAT, "key": key, "value": json.dumps(tree, allow_nan=False)}
    return st_save(tensors, metadata=metadata)


def _unpack(data: bytes, key: str) -> tuple[dict, object]:
    """Check the entry's header and key, then decode it strictly (:func:`grader.boundary.wire.decode`)."""
    size = int.from_bytes(data[:8], "little")
    if len(data) < 8 or 8 + size > len(data):
        raise ValueError("truncated safetensors header")
    metadata = json.loads(data[8 : 8 + size]).get("__metadata__") or {}
    if metadata.get("format") != FORMAT:
        raise ValueError(f"not a ground-truth entry (format {metadata.get('format')!r})")
    if metadata.get("key") != key:
        raise ValueError(f"stored key {str(metadata.get('key'))[:16]!r}... differs from its name")
    value = wire.decode(json.loads(metadata["value"])["value"], st_load(data))
    if not (isinstance(value, dict) and set(value) == {"args", "expected"} and isinstance(value["args"], dict)):
        raise ValueError("entry holds no args and expected value")
    return value["args"], value["expected"]


def _read_regular_file(path: Path) -> bytes:
    """The bytes of ``path``; refuses a symlink, a fifo or anything else that is not a plain file."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError("not a regular file")
        return f.read()


def _faithful(value, depth: int = 0) -> bool:
    """Whether :mod:`grader.boundary.wire` gives ``value`` back with exactly the same types (no subclasses)."""
    if depth > wire.MAX_DEPTH:
        return False
    kind = type(value)
    if kind in _PLAIN:
        return True
    if kind is torch.Tensor:
        return value.layout == torch.strided and not value.is_quantized
    if kind in (list, tuple):
        return all(_faithful(v, depth + 1) for v in value)
    if kind is dict:
        return all(_faithful(k, depth + 1) and _faithful(v, depth + 1) for k, v in value.items())
    if kind is wire.Handle:
        return _faithful(value.value, depth + 1)
    numpy_array = kind.__module__ == "numpy" and kind.__name__ == "ndarray"
    return numpy_array and value.ndim > 0 and value.dtype.kind in "biuf" and value.dtype.isnative


def reference_environment() -> dict:
    """The environment of the keys as :func:`grader.assignment.groundtruth.build_plan` sees it: after the reference's
    determinism policy is applied (:func:`reference.device.configure_determinism`)."""
    from reference.device import configure_determinism

    configure_determinism()
    return _environment()


def _environment() -> dict:
    """What the reference's results may depend on besides code and inputs (see :mod:`reference.device`)."""
    from reference.device import provenance

    info = provenance()
    keep = ("device", "device_name", "torch", "transformers", "tokenizers", "default_dtype", "float32_matmul_precision")
    return {k: info.get(k) for k in (*keep, "deterministic_algorithms")}
