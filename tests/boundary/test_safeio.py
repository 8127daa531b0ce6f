"""Files a submission controls are read without following links, blocking, or reading past a cap."""

import os

import pytest

from grader.boundary.safeio import UnsafeFile, read_untrusted


def test_regular_file_is_read(tmp_path):
    (tmp_path / "out.json").write_bytes(b"{}")
    assert read_untrusted(tmp_path / "out.json", 10) == b"{}"


def test_symlink_to_a_secret_is_not_followed(tmp_path):
    (tmp_path / "secret").write_text("hidden answers")
    (tmp_path / "out.json").symlink_to(tmp_path / "secret")
    with pytest.raises(UnsafeFile, match="safely"):
        read_untrusted(tmp_path / "out.json", 1000)


def test_fifo_does_not_hang(tmp_path):
    os.mkfifo(tmp_path / "out.json")
    with pytest.raises(UnsafeFile, match="not a regular file"):
        read_untrusted(tmp_path / "out.json", 1000)


def test_file_over_the_cap_is_refused_without_reading(tmp_path):
    with open(tmp_path / "big", "wb") as f:
        f.truncate(10**9)  # sparse: costs no disk
    with pytest.raises(UnsafeFile, match="more than the limit"):
        read_untrusted(tmp_path / "big", 1000)


def test_missing_file_says_it_was_not_written(tmp_path):
    with pytest.raises(UnsafeFile, match="was not written"):
        read_untrusted(tmp_path / "out.json", 10)
