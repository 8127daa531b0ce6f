"""Ground truth computed once: each case's inputs and expected value, cached on disk by a content hash.

``grader grade`` keeps the cache in ``OUT/.groundtruth/`` (:func:`cache_folder`), next to the gradebook,
so regrading a class recomputes nothing. The key of a case (sha256, hex) covers everything its inputs
and expected value depend on:

- the case as written in the spec: ``args``, ``reference_args``, the compare kind (a distribution case's
  reference gets no generator) and the resolved reference target ``module:function``;
- the code: every ``.py`` file under ``reference/`` (so an edit anywhere in the reference invalidates
  every entry), the grader modules that build inputs and run the reference (:data:`GRADER_CODE`), and the
  source of each module a case names (its target, ``call`` inputs), e.g. ``grader/compare/rag.py`` or the
  assignment's own ``reference.py`` (a reference file of the course repository, hashed like any module);
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

import hashlib
import importlib.util
import json
import logging
import os
import stat
from pathlib import Path

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from grader.assignment.references import module_file
from grader.assignment.spec import Case
from grader.boundary import wire
from grader.common.files import write_bytes

CACHE_DIR = ".groundtruth"
FORMAT = "grader-groundtruth/1"
GRADER_CODE = (
    "assignment/groundtruth.py",
    "assignment/inputs.py",
    "assignment/references.py",
    "boundary/kernel_side.py",
    "boundary/wire.py",
    "assignment/gtcache.py",
)
ASSET_KEYS = ("model", "tokenizer", "embedder")
_HERE = Path(__file__).resolve().parents[1]  # grader/
_PLAIN = (type(None), bool, int, float, str)
_FILE_DIGESTS: dict[str, tuple[tuple, str]] = {}  # path -> (stat signature, sha256): a file is hashed once
log = logging.getLogger(__name__)


def cache_folder(out: Path) -> Path:
    """Where ``grader grade`` keeps the ground truth of the output folder ``out``."""
    return Path(out) / CACHE_DIR


class GroundTruthCache:
    """Entries of one cache folder; the folder is created on the first write."""

    def __init__(self, folder: Path, assignment_folder: Path, assets: dict[str, Path]):
        self.folder, self.assignment_folder, self.assets = Path(folder), assignment_folder, assets
        self.discarded = 0  # unreadable or mismatched entries seen (each is computed again)
        self._environment = _environment()
        self._code = _code_digest()

    def key(self, case: Case, target: str) -> str | None:
        """The content hash of ``case`` run by ``target``; None when its code cannot be found (no caching)."""
        found = _scan([case.args, case.reference_args])
        modules = {}
        for module in sorted({target.partition(":")[0], *(t.partition(":")[0] for t in found["calls"])}):
            modules[module] = _module_digest(module, self.assignment_folder)
            if modules[module] is None:
                return None
        material = {
            "format": FORMAT,
            "target": target,
            "compare": case.compare.kind,
            "args": case.args,
            "reference_args": case.reference_args,
            "code": self._code,
            "modules": modules,
            "files": {name: _file_or_none(self.assignment_folder / name) for name in sorted(found["files"])},
            "assets": {n: folder_digest(self.assets[n]) for n in sorted(found["assets"]) if n in self.assets},
            "environment": self._environment,
        }
        text = json.dumps(material, default=repr, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(text.encode()).hexdigest()

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


def _scan(nodes) -> dict[str, set[str]]:
    """Asset names, files and reference calls a case's argument specs mention (at any depth)."""
    found: dict[str, set[str]] = {"assets": set(), "files": set(), "calls": set()}
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            stack.extend(node.values())
            found["assets"].update(node[k] for k in ASSET_KEYS if isinstance(node.get(k), str))
            found["files"].update(node[k] for k in ("file", "text_file") if isinstance(node.get(k), str))
            if isinstance(node.get("call"), str):
                found["calls"].add(node["call"])
    return found


def code_files() -> list[tuple[str, Path]]:
    """The code every case depends on, as (name, path): the reference package's ``.py`` files, recursively,
    and :data:`GRADER_CODE`, sorted by path."""
    import reference

    root = Path(reference.__file__).resolve().parent
    files = [(f"reference/{p.relative_to(root).as_posix()}", p) for p in sorted(root.rglob("*.py"))]
    return files + [(f"grader/{name}", _HERE / name) for name in GRADER_CODE]


def _code_digest() -> str:
    h = hashlib.sha256()
    for name, path in code_files():
        h.update(f"{name}\0{file_digest(path)}\n".encode())
    return h.hexdigest()


def _module_digest(module: str, folder: Path) -> str | None:
    """The digest of a module's source file (or of its package's ``__init__``; or of the assignment's own
    reference file, see :func:`grader.assignment.references.module_file`); None if it is not found."""
    path = module_file(module, folder)
    if path is not None:
        return file_digest(path) if path.is_file() else None
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not os.path.isfile(spec.origin):
        return None
    return file_digest(Path(spec.origin))


def _file_or_none(path: Path) -> str | None:
    try:
        return file_digest(path)
    except OSError:
        return None  # a missing file: the case fails when it is computed, and nothing is stored


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes, hashed once per process while its size, times and inode stay the same."""
    path = Path(path).resolve()
    st = path.stat()
    signature = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)
    known = _FILE_DIGESTS.get(str(path))
    if known and known[0] == signature:
        return known[1]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    _FILE_DIGESTS[str(path)] = (signature, h.hexdigest())
    return h.hexdigest()


def folder_digest(folder: Path) -> str:
    """sha256 over the relative paths and contents of the files under ``folder`` (or of ``folder`` itself
    when it is a file); symlinked folders are not followed. A missing folder has its own digest."""
    folder = Path(folder)
    if folder.is_file():
        return file_digest(folder)
    h = hashlib.sha256()
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for name in sorted(names):
            path = Path(root) / name
            if path.is_file():
                h.update(f"{path.relative_to(folder).as_posix()}\0{file_digest(path)}\n".encode())
    return h.hexdigest()


def _environment() -> dict:
    """What the reference's results may depend on besides code and inputs (see :mod:`reference.device`)."""
    from reference.device import provenance

    info = provenance()
    keep = ("device", "device_name", "torch", "transformers", "tokenizers", "default_dtype", "float32_matmul_precision")
    return {k: info.get(k) for k in (*keep, "deterministic_algorithms")}
