"""Finding submissions: flat folders and per-student folders, with the documented rules."""

import os

import pytest

from grader.batch.intake import find_submissions
from grader.errors import GraderError


def test_flat_folder_keys_by_file_name_and_keeps_wrong_file_types(tmp_path):
    for name in ("alice.ipynb", "bob.py", "README.md", "expected.toml", ".hidden.ipynb"):
        (tmp_path / name).write_text("{}")
    found = {s.student_id: s.notebook.name for s in find_submissions(tmp_path, "hw.ipynb")}
    assert found == {"alice": "alice.ipynb", "bob": "bob.py"}


def test_student_folders_prefer_the_assignment_notebook_then_the_newest(tmp_path):
    (tmp_path / "carol").mkdir()
    (tmp_path / "carol" / "scratch.ipynb").write_text("{}")
    (tmp_path / "carol" / "hw.ipynb").write_text("{}")
    (tmp_path / "dave").mkdir()
    for i, name in enumerate(("old.ipynb", "new.ipynb")):
        (tmp_path / "dave" / name).write_text("{}")
        os.utime(tmp_path / "dave" / name, (1000 + i, 1000 + i))
    (tmp_path / "erin").mkdir()
    found = {s.student_id: s for s in find_submissions(tmp_path, "hw.ipynb")}
    assert found["carol"].notebook.name == "hw.ipynb" and "named hw.ipynb" in found["carol"].note
    assert found["dave"].notebook.name == "new.ipynb" and "most recently modified" in found["dave"].note
    assert "no .ipynb file" in found["erin"].note


def test_symlinked_entries_are_ignored(tmp_path):
    (tmp_path / "real.ipynb").write_text("{}")
    (tmp_path / "link.ipynb").symlink_to(tmp_path / "real.ipynb")
    assert [s.student_id for s in find_submissions(tmp_path, "hw.ipynb")] == ["real"]


def test_a_missing_folder_is_a_grader_error(tmp_path):
    with pytest.raises(GraderError, match="not a folder"):
        find_submissions(tmp_path / "nope", "hw.ipynb")
