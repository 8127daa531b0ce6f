"""Finding and writing slot cgroups, on a fake cgroup v2 tree (this machine has v1; CI may have either)."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.sandbox import cgroups


@pytest.fixture
def fake_v2(tmp_path, monkeypatch) -> Path:
    """A cgroup2 mount at tmp_path/cg where the grader sits in /grader.slice, with memory and pids."""
    parent = tmp_path / "cg" / "grader.slice"
    parent.mkdir(parents=True)
    (parent / "cgroup.controllers").write_text("cpu memory pids\n")
    (parent / "cgroup.subtree_control").write_text("")
    mounts, own = tmp_path / "mounts", tmp_path / "cgroup"
    mounts.write_text(f"cgroup2 {tmp_path / 'cg'} cgroup2 rw,nosuid,nodev,noexec 0 0\n")
    own.write_text("0::/grader.slice\n")
    monkeypatch.setattr(cgroups, "PROC_MOUNTS", mounts)
    monkeypatch.setattr(cgroups, "PROC_CGROUP", own)
    return parent


def test_v2_parent_gets_memory_and_pids_enabled_for_children(fake_v2):
    support = cgroups.probe()
    assert (support.version, support.memory, support.pids) == (2, fake_v2, fake_v2)
    assert (fake_v2 / "cgroup.subtree_control").read_text() == "+memory +pids"


def test_v2_without_the_controllers_falls_back_with_a_reason(fake_v2):
    (fake_v2 / "cgroup.controllers").write_text("cpu io\n")
    support = cgroups.probe()
    assert not support.usable and "lacks controllers ['memory', 'pids']" in support.reason


def test_v2_slot_cgroup_gets_both_limits_in_one_folder(fake_v2):
    group = cgroups.SlotCgroup(cgroups.probe(), "grader-sandbox-61000").create(1 << 30, 67)
    folder = fake_v2 / "grader-sandbox-61000"
    assert (folder / "memory.max").read_text() == str(1 << 30)
    assert (folder / "pids.max").read_text() == "67"
    assert group.procs_files == [folder / "cgroup.procs"]


def test_explicit_parent_is_used_instead_of_the_grader_cgroup(fake_v2, tmp_path):
    delegated = tmp_path / "cg" / "delegated"
    delegated.mkdir()
    (delegated / "cgroup.controllers").write_text("memory pids\n")
    assert cgroups.probe("/delegated").memory == delegated
