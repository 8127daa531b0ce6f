"""Reading files a submission could control, without trusting them.

A student's kernel can plant a symlink (to a secret), a FIFO (hangs a naive reader), a huge or sparse
file, or truncate a file while the host has it mmapped (SIGBUS kills the host). Read them only here:
no symlinks followed, regular files only, size-capped, read into memory (never mmapped).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class UnsafeFile(ValueError):
    """The file is not a plain regular file under the size cap; the message says what it is."""


def read_untrusted(path: Path, max_bytes: int) -> bytes:
    """Return the bytes of regular file ``path`` if it has at most ``max_bytes``; raise :class:`UnsafeFile`."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise UnsafeFile(f"{path.name}: was not written") from None
    except OSError as exc:  # ELOOP: a symlink
        raise UnsafeFile(f"{path.name}: cannot be opened safely ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFile(f"{path.name}: not a regular file")
        if info.st_size > max_bytes:
            raise UnsafeFile(f"{path.name}: {info.st_size} bytes, more than the limit of {max_bytes}")
        chunks, remaining = [], max_bytes + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        data = b"".join(chunks)
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise UnsafeFile(f"{path.name}: grew past the limit of {max_bytes} bytes while being read")
    return data
