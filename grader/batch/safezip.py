"""Unpacking an uploaded zip (Moodle's "Download all submissions") without trusting it.

Refused and reported, entry by entry, while the rest is unpacked:
- paths that could land outside the target: ``..`` parts, absolute paths, drive letters (``C:``);
  Windows separators (``\\``) are read as ``/`` first;
- anything that is not a plain file or folder: symlinks, devices, FIFOs (from the Unix mode bits);
- encrypted entries, duplicate paths, entries whose data is corrupt (bad CRC);
- an entry larger than ``max_file_bytes``, by its declared size *and* by the bytes actually inflated
  (a header that lies about the size is caught while streaming, the partial file is removed).

Refused as a whole (:class:`~grader.errors.GraderError`): a file that is not a zip, more than
``max_entries`` entries, or declared sizes of the accepted entries adding up to more than
``max_total_bytes`` (a zip bomb), checked before anything is written.

Files keep the zip's modification times, so "the newest notebook" means the newest upload.
"""

from __future__ import annotations

import os
import stat
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, Field

from grader.errors import GraderError

CHUNK = 1 << 20
SKIPPED_PARTS = {"__MACOSX"}


class UnpackLimits(BaseModel):
    max_file_bytes: int = Field(100_000_000, description="Largest single file unpacked (declared or actual).")
    max_total_bytes: int = Field(4_000_000_000, description="Largest sum of declared sizes of unpacked files.")
    max_entries: int = Field(100_000, description="Most entries an archive may hold.")


@dataclass
class Refused:
    path: str
    reason: str


@dataclass
class UnpackReport:
    files: int = 0
    refused: list[Refused] = field(default_factory=list)


def unpack(archive: Path, dest: Path, limits: UnpackLimits | None = None) -> UnpackReport:
    """Unpack ``archive`` into the (new or empty) folder ``dest``; return what was refused and why."""
    limits = limits or UnpackLimits()
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise GraderError(f"{archive}: not a readable zip file ({exc})") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_entries:
            raise GraderError(f"{archive}: {len(infos)} entries, more than the limit of {limits.max_entries}")
        report = UnpackReport()
        accepted = _screen(infos, limits, report)
        total = sum(info.file_size for info, _ in accepted)
        if total > limits.max_total_bytes:
            raise GraderError(
                f"{archive}: refused as a zip bomb: its files would unpack to {total} bytes, "
                f"more than the limit of {limits.max_total_bytes}"
            )
        dest.mkdir(parents=True, exist_ok=True)
        for info, rel in accepted:
            _extract(zf, info, dest / rel, limits.max_file_bytes, report)
    return report


def _screen(infos: list[zipfile.ZipInfo], limits: UnpackLimits, report: UnpackReport):
    """The entries to unpack, as (info, safe relative path); the others go into ``report.refused``."""
    accepted, seen = [], set()
    for info in infos:
        rel, reason = safe_relative(info.filename)
        if rel is None:
            report.refused.append(Refused(info.filename, reason))
            continue
        if info.is_dir() or SKIPPED_PARTS & set(rel.parts):
            continue
        reason = _entry_problem(info, limits)
        if reason is None and str(rel) in seen:
            reason = "a second entry with the same path"
        if reason:
            report.refused.append(Refused(info.filename, reason))
            continue
        seen.add(str(rel))
        accepted.append((info, rel))
    return accepted


def safe_relative(name: str) -> tuple[PurePosixPath | None, str]:
    """``name`` as a relative path that stays inside the target, or ``(None, reason)``."""
    name = name.replace("\\", "/")
    path = PurePosixPath(name)
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return None, "an absolute path"
    if ".." in path.parts:
        return None, "a path with '..' (it would leave the folder)"
    parts = [p for p in path.parts if p not in ("", ".")]
    if not parts:
        return None, "an empty path"
    if any("\x00" in p for p in parts):
        return None, "a NUL character in the path"
    return PurePosixPath(*parts), ""


def _entry_problem(info: zipfile.ZipInfo, limits: UnpackLimits) -> str | None:
    kind = stat.S_IFMT(info.external_attr >> 16)  # 0: the zip records no Unix file type (e.g. made on Windows)
    if kind == stat.S_IFLNK:
        return "a symbolic link"
    if kind not in (0, stat.S_IFREG):
        return "not a regular file"
    if info.flag_bits & 0x1:
        return "encrypted"
    if info.file_size > limits.max_file_bytes:
        return f"{info.file_size} bytes unpacked, more than the limit of {limits.max_file_bytes}"
    return None


def _extract(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, max_bytes: int, report: UnpackReport) -> None:
    """Stream one entry to ``target``, counting the bytes actually inflated."""
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    try:
        with zf.open(info) as src, open(target, "xb") as out:
            while chunk := src.read(CHUNK):
                written += len(chunk)
                if written > max_bytes:
                    raise ValueError(f"inflates to more than the limit of {max_bytes} bytes")
                out.write(chunk)
    except (ValueError, zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
        target.unlink(missing_ok=True)
        report.refused.append(Refused(info.filename, f"could not be unpacked: {exc}"))
        return
    mtime = time.mktime((*info.date_time, 0, 0, -1))
    target.chmod(0o644)
    os.utime(target, (mtime, mtime))
    report.files += 1
