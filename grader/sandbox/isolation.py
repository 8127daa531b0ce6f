"""Choosing how submissions are isolated on this machine: the bubblewrap sandbox, or a plain local kernel.

Grading untrusted code requires the sandbox unless the caller explicitly opts out; a student's own
self-check falls back to a plain local kernel (macOS, Windows, Linux without bubblewrap) and says so.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from grader.errors import SandboxUnavailable
from grader.sandbox.launcher import Launcher, LocalLauncher


def sandbox_status() -> tuple[bool, str]:
    if not sys.platform.startswith("linux"):
        return False, f"the sandbox needs Linux (this is {sys.platform})"
    from grader.sandbox import bubblewrap

    return bubblewrap.available()


def choose_launcher(
    assets: dict[str, Path],
    *,
    require_sandbox: bool,
    fast_start: bool = True,
    preload: Sequence[str] = (),
    gpu: bool = False,
) -> tuple[Launcher, str]:
    """A launcher and a one-line notice describing the isolation it gives (see :func:`start_launcher`)."""
    return start_launcher(assets, require_sandbox=require_sandbox, fast_start=fast_start, preload=preload, gpu=gpu)()


def start_launcher_for(
    assets: dict[str, Path],
    notebook: Path | None = None,
    *,
    require_sandbox: bool,
    fast_start: bool = True,
    gpu: bool = False,
) -> Callable[[], tuple[Launcher, str]]:
    """:func:`start_launcher` for an assignment: its zygote preloads what ``assets`` and the instructor
    ``notebook`` need (:func:`preload_for`). What ``grader grade``, ``check`` and ``validate`` use."""
    preload = preload_for(assets, notebook)
    return start_launcher(assets, require_sandbox=require_sandbox, fast_start=fast_start, preload=preload, gpu=gpu)


def start_launcher(
    assets: dict[str, Path],
    *,
    require_sandbox: bool,
    fast_start: bool = True,
    preload: Sequence[str] = (),
    gpu: bool = False,
) -> Callable[[], tuple[Launcher, str]]:
    """Begin choosing a launcher; calling the result gives (launcher, notice).

    With ``fast_start``, sandboxed kernels are forked from a zygote that imports torch and ``preload`` once
    (:mod:`grader.sandbox.zygote.launcher`); it starts importing now, in its own process, so the caller can build
    its plan meanwhile. If it cannot start, plain sandboxed kernels are used and the notice says why. With ``gpu``,
    sandboxed kernels see this machine's GPU devices (:func:`grader.sandbox.filesystem.gpu_devices`).
    """
    ok, reason = sandbox_status()
    if ok:
        from grader.sandbox.bubblewrap import BubblewrapLauncher

        sandbox = "sandbox: bubblewrap (own namespaces, unprivileged uid, limits)"
        if not fast_start:
            return lambda: (BubblewrapLauncher(assets=assets, gpu=gpu), sandbox)
        from grader.sandbox.zygote.launcher import ZygoteLauncher

        try:
            launcher = ZygoteLauncher(assets=assets, preload=preload, wait=False, gpu=gpu)
        except SandboxUnavailable as exc:
            fallback = f"{sandbox}; fast start unavailable ({exc})"
            return lambda: (BubblewrapLauncher(assets=assets, gpu=gpu), fallback)

        def ready() -> tuple[Launcher, str]:
            try:
                launcher.wait_ready()
            except SandboxUnavailable as exc:
                return BubblewrapLauncher(assets=assets, gpu=gpu), f"{sandbox}; fast start unavailable ({exc})"
            loaded = ", ".join(dict.fromkeys(name.split(".")[0] for name in launcher.preloaded))
            return launcher, f"{sandbox}; fast start: kernels forked from a zygote with {loaded} imported"

        return ready
    if require_sandbox:
        raise SandboxUnavailable(
            f"no sandbox on this machine ({reason}); install bubblewrap "
            "(apt-get install bubblewrap) or pass --no-sandbox to run submissions unisolated"
        )
    local = f"no sandbox ({reason}): notebooks run in a plain local kernel with time limits only"
    return lambda: (LocalLauncher(), local)


def doctor() -> list[tuple[str, str, str]]:
    """What isolation this machine supports: (feature, status, detail) rows."""
    ok, reason = sandbox_status()
    rows = [("sandbox", "yes" if ok else "no", reason)]
    if sys.platform.startswith("linux"):
        from grader.sandbox import bubblewrap

        rows += bubblewrap.isolation_report()
    return rows


# Modules a zygote may import for an assignment: import-time side effects known to be fork-safe (no threads,
# no per-user config read from the environment at import, as matplotlib does).
PRELOADABLE = ("torch", "transformers", "tokenizers", "numpy", "safetensors")


def preload_for(assets: Mapping[str, Path], notebook: Path | None = None) -> list[str]:
    """What a zygote for this assignment should import besides torch: transformers where a model asset is used
    (the harness loads it with ``from_pretrained``), and what the instructor's notebook imports of
    :data:`PRELOADABLE`."""
    modules = ["transformers"] if assets else []
    for folder in assets.values():
        modules += _model_modules(Path(folder))
    if notebook is not None:
        modules += [name for name in notebook_imports(notebook) if name in PRELOADABLE]
    return list(dict.fromkeys(modules))


def _model_modules(folder: Path) -> list[str]:
    """transformers' lazily imported modules a model folder needs (``from_pretrained`` would import them in
    every kernel, about a second): the auto classes and the model's own ``modeling_<model_type>``."""
    import json

    try:
        model_type = json.loads((folder / "config.json").read_text())["model_type"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    if not isinstance(model_type, str) or not model_type.isidentifier():
        return []
    auto = ["transformers.models.auto.modeling_auto", "transformers.models.auto.tokenization_auto"]
    return [*auto, f"transformers.models.{model_type}.modeling_{model_type}"]


def notebook_imports(path: Path) -> list[str]:
    """Top-level module names imported by the code cells of a (trusted) notebook; unparsable cells are skipped."""
    import ast

    import nbformat

    names = []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names += [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.append(node.module.split(".")[0])
    return [name for name in dict.fromkeys(names) if name not in sys.stdlib_module_names]
