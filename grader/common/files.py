"""Writing a file so that readers see the old content or the new one, never half of it (a crash included)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


@contextmanager
def atomic_write(path: Path, mode: str = "w", newline: str | None = None, private: bool = False) -> Iterator[IO]:
    """Open a new temporary file next to ``path`` (``.tmp-*``, in the same folder so the rename is atomic); on
    a clean exit rename it over ``path``, on an exception remove it. Text mode writes UTF-8. The file's
    permissions follow the umask, or are 0600 when ``private`` (e.g. hidden expected values)."""
    path = Path(path)
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex[:12]}{path.suffix}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, 0o600 if private else 0o666)
    text = {} if "b" in mode else {"encoding": "utf-8", "newline": newline}
    try:
        with os.fdopen(fd, mode, **text) as file:
            yield file
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> Path:
    """``path`` with ``text`` (UTF-8), atomically."""
    with atomic_write(path) as file:
        file.write(text)
    return Path(path)


def write_bytes(path: Path, data: bytes, private: bool = False) -> Path:
    """``path`` with ``data``, atomically."""
    with atomic_write(path, "wb", private=private) as file:
        file.write(data)
    return Path(path)
