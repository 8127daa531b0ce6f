"""What the check server (:mod:`grader.selfcheck.server`) keeps warm between checks: the check plans and the
launcher (with its zygote), and a guess of the assets a check needs, read without importing torch.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path


class Plans:
    """Check plans by tests folder, reused while the bundle's bytes are the same (it is a few kilobytes)."""

    KEEP = 8

    def __init__(self):
        self.cache: dict[str, tuple[str, object]] = {}

    def get(self, notebook: Path, tests: Path | None):
        from grader.selfcheck.check import find_bundle, load_check_plan

        folder = tests or find_bundle(notebook)
        key, content = str(folder.resolve()), _bundle_digest(folder)
        hit = self.cache.pop(key, None)
        if hit is not None and content is not None and hit[0] == content:
            self.cache[key] = hit
            return hit[1]
        plan = load_check_plan(notebook, folder)
        if content is not None:
            self.cache[key] = (content, plan)
            while len(self.cache) > self.KEEP:
                self.cache.pop(next(iter(self.cache)))
        return plan


def _bundle_digest(folder: Path) -> str | None:
    from grader.assignment.plan import BUNDLE_JSON, BUNDLE_TENSORS

    h = hashlib.sha256()
    try:
        for name in (BUNDLE_JSON, BUNDLE_TENSORS):
            data = (folder / name).read_bytes()
            h.update(len(data).to_bytes(8, "little") + data)
    except OSError:
        return None
    return h.hexdigest()


class Launchers:
    """The warm launcher (with the zygote, torch and transformers imported): one, for the latest assets.

    Made by ``grader.cli._start_launcher`` exactly as an in-process ``grader check`` makes it; replaced
    when the assets differ or their folders changed (the zygote's mount namespace holds the old ones)."""

    def __init__(self):
        self.key = None
        self.pending = None  # start_launcher's "ready" callable, until called
        self.ready: tuple | None = None  # (launcher, notice)

    def start(self, assets: dict, fast_start: bool) -> None:
        key = _launcher_key(assets, fast_start)
        if key == self.key:
            return
        self.close()
        from grader.cli import _start_launcher

        self.pending = _start_launcher(dict(assets), None, no_sandbox=True, no_fast_start=not fast_start)
        self.key = key

    def get(self, assets: dict, fast_start: bool) -> tuple:
        self.start(assets, fast_start)
        if self.ready is None:
            self.ready = self.pending()  # if interrupted, still pending: the next get or close waits again
            self.pending = None
        return self.ready

    def close(self) -> None:
        if self.pending is not None:
            try:
                self.ready = self.pending()
            except Exception:
                self.ready = None
        if self.ready is not None:
            close = getattr(self.ready[0], "close", None)
            if close is not None:
                close()
        self.key = self.pending = self.ready = None


def _launcher_key(assets: dict, fast_start: bool) -> tuple:
    def identity(path: Path) -> tuple:
        found = []
        for p in (path, path / "config.json"):
            try:
                st = os.stat(p)
                found.append((st.st_dev, st.st_ino, st.st_mtime_ns))
            except OSError:
                found.append(None)
        return tuple(found)

    return fast_start, tuple(sorted((name, str(path), identity(Path(path))) for name, path in assets.items()))


def assets_hint(notebook: Path, tests: Path | None) -> dict | None:
    """The assets a check of ``notebook`` will most likely need, read without importing torch (the
    bundle's JSON as :func:`grader.assignment.plan.load_bundle` lays it out), so that the zygote can start first. A
    guess: if it is wrong, the launcher for the real plan replaces it."""
    try:
        if tests is None:
            parent = notebook.resolve().parent
            tests = next(c / "tests" for c in [parent, *parent.parents][:4] if (c / "tests" / "public.json").is_file())
        fields = dict(json.loads((tests / "public.json").read_bytes())["value"]["$dict"])
        names = fields["assets"]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            return None
        return {name: tests.parent / "assets" / name for name in names}
    except (OSError, ValueError, KeyError, TypeError, StopIteration):
        return None
