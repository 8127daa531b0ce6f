"""Choosing how submissions are isolated on this machine: the bubblewrap sandbox, or a plain local kernel.

Grading untrusted code requires the sandbox unless the caller explicitly opts out; a student's own
self-check falls back to a plain local kernel (macOS, Windows, Linux without bubblewrap) and says so.
"""

from __future__ import annotations

import sys
from pathlib import Path

from grader.errors import SandboxUnavailable
from grader.kernel import Launcher, LocalLauncher


def sandbox_status() -> tuple[bool, str]:
    if not sys.platform.startswith("linux"):
        return False, f"the sandbox needs Linux (this is {sys.platform})"
    from grader import sandbox

    return sandbox.available()


def choose_launcher(assets: dict[str, Path], *, require_sandbox: bool) -> tuple[Launcher, str]:
    """A launcher and a one-line notice describing the isolation it gives."""
    ok, reason = sandbox_status()
    if ok:
        from grader.sandbox import BubblewrapLauncher

        return BubblewrapLauncher(assets=assets), "sandbox: bubblewrap (own namespaces, unprivileged uid, limits)"
    if require_sandbox:
        raise SandboxUnavailable(
            f"no sandbox on this machine ({reason}); install bubblewrap "
            "(apt-get install bubblewrap) or pass --no-sandbox to run submissions unisolated"
        )
    return LocalLauncher(), f"no sandbox ({reason}): notebooks run in a plain local kernel with time limits only"


def doctor() -> list[tuple[str, str, str]]:
    """What isolation this machine supports: (feature, status, detail) rows."""
    ok, reason = sandbox_status()
    rows = [("sandbox", "yes" if ok else "no", reason)]
    if sys.platform.startswith("linux"):
        from grader import sandbox

        rows += sandbox.isolation_report()
    return rows
