"""What the check server (:mod:`grader.selfcheck.server`) keeps warm between checks: the check plans and the
launcher (with its zygote), and a guess of the assets a check needs, read without importing torch.
"""

from __future__ import annotations

import os
from pathlib import Path

from grader.assignment import bundle
from grader.errors import GraderError


class Plans:
    """Check plans by tests folder, reused while the bundle's bytes are the same (it is a few kilobytes)."""

    KEEP = 8

    def __init__(self):
        self.cache: dict[str, tuple[str, object]] = {}

    def get(self, notebook: Path, tests: Path | None):
        from grader.selfcheck.check import load_check_plan  # imports torch: after the zygote has started

        folder = tests or bundle.find_for(notebook)
        key, content = str(folder.resolve()), bundle.digest(folder)
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


class Launchers:
    """The warm launcher (with the zygote, torch and transformers imported): one, for the latest assets.

    Made by :func:`grader.sandbox.isolation.start_launcher_for` exactly as an in-process ``grader check`` makes
    it; replaced when the assets differ or their folders changed (the zygote's mount namespace holds the old
    ones)."""

    def __init__(self):
        self.key = None
        self.pending = None  # start_launcher's "ready" callable, until called
        self.ready: tuple | None = None  # (launcher, notice)

    def start(self, assets: dict, fast_start: bool) -> None:
        key = _launcher_key(assets, fast_start)
        if key == self.key:
            return
        self.close()
        from grader.sandbox.isolation import start_launcher_for

        self.pending = start_launcher_for(dict(assets), require_sandbox=False, fast_start=fast_start)
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
            self.ready[0].close()
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
    """The assets a check of ``notebook`` will most likely need, read without importing torch
    (:func:`grader.assignment.bundle.asset_names`), so that the zygote can start first. A guess: if it is wrong,
    the launcher for the real plan replaces it; None when the bundle does not say."""
    try:
        folder = tests or bundle.find_for(notebook)
    except GraderError:
        return None
    names = bundle.asset_names(folder)
    return None if names is None else {name: folder.parent / "assets" / name for name in names}
