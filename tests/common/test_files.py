"""Atomic writes: readers see the old file or the new one, never half of one, and nothing is left behind."""

from __future__ import annotations

import stat

import pytest

from grader.common.files import atomic_write, write_bytes, write_text


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = write_text(tmp_path / "grades.csv", "old")
    with pytest.raises(RuntimeError), atomic_write(path) as file:
        file.write("half of the new")
        raise RuntimeError("the grader crashed mid-write")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["grades.csv"]


def test_private_files_are_readable_by_their_owner_only(tmp_path):
    path = write_bytes(tmp_path / "expected.safetensors", b"hidden", private=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == b"hidden"


def test_a_planted_symlink_at_the_temporary_name_is_never_written_through(tmp_path, monkeypatch):
    victim = tmp_path / "victim"
    victim.write_text("untouched")
    monkeypatch.setattr("uuid.uuid4", lambda: type("U", (), {"hex": "0" * 32})())
    (tmp_path / ".tmp-000000000000.csv").symlink_to(victim)
    with pytest.raises(FileExistsError):
        write_text(tmp_path / "grades.csv", "new")
    assert victim.read_text() == "untouched"
