"""Finding a class's submissions: Moodle's three layouts keyed by participant id, and the per-student rules."""

import os

import pytest

from grader.batch.intake import IntakeLimits, load_submissions
from grader.batch.moodle import PART, feedback_path, pid_from_identifier
from tests.batch.helpers import moodle, nb_json, write_zip

NB = nb_json("x = 1")


def intake(tmp_path, entries, **kw):
    archive = write_zip(tmp_path / "download.zip", entries, kw.pop("symlinks", None))
    return load_submissions(archive, "blatt03.ipynb", tmp_path / "unpacked", **kw)


@pytest.mark.parametrize("layout", ["folders", "old", "flat"])
def test_each_moodle_layout_is_keyed_by_participant_id_with_the_name_kept(tmp_path, layout):
    found = intake(tmp_path, {moodle("Erika Müller", 1234568, layout, "blatt03.ipynb"): NB})
    assert found.layout == "moodle"
    [sub] = found.submissions
    assert (sub.student_id, sub.name, sub.problem) == ("1234568", "Erika Müller", "")
    assert sub.notebook.read_bytes() == NB


def test_mixed_layouts_a_wrapping_folder_and_other_plugins(tmp_path):
    entries = {
        "INF101-Blatt 3-48213/" + moodle("Max Mustermann", 1, "folders", "blatt03.ipynb"): NB,
        "INF101-Blatt 3-48213/" + moodle("Jan OBrien", 2, "flat", "blatt03.ipynb"): NB,
        "INF101-Blatt 3-48213/Jan OBrien_2_assignsubmission_onlinetext/onlinetext.html": b"<p>hi</p>",
        "INF101-Blatt 3-48213/Teilnehmerin_3_assignsubmission_file_/sub/blatt03.ipynb": NB,
    }
    found = {s.student_id: s for s in intake(tmp_path, entries).submissions}
    assert sorted(found) == ["1", "2", "3"]
    assert "onlinetext" in found["2"].note and found["3"].name == "Teilnehmerin"


def test_the_moodle_name_pattern_splits_like_the_importer():
    m = PART.match("Max Mustermann_1234567_assignsubmission_file_blatt_03.ipynb")
    assert (m["name"], m["pid"], m["subtype"], m["type"], m["rest"]) == (
        "Max Mustermann",
        "1234567",
        "assignsubmission",
        "file",
        "blatt_03.ipynb",
    )
    assert pid_from_identifier("Participant 1234567") == "1234567"
    assert pid_from_identifier("Teilnehmer/in1234567 ") == "1234567"


def test_several_notebooks_named_then_newest_then_an_error(tmp_path):
    entries = {
        moodle("A", 1, "folders", "scratch.ipynb"): NB,
        moodle("A", 1, "folders", "blatt03.ipynb"): NB,
        moodle("B", 2, "folders", "v1.ipynb"): NB,
        moodle("B", 2, "folders", "v2.ipynb"): NB,
        moodle("C", 3, "folders", "x.ipynb"): NB,
        moodle("C", 3, "folders", "y.ipynb"): NB,
    }
    archive = write_zip(tmp_path / "d.zip", entries)
    load_submissions(archive, "blatt03.ipynb", tmp_path / "unpacked")  # unpack once, then age B's v1
    v1 = tmp_path / "unpacked" / "B_2_assignsubmission_file" / "v1.ipynb"
    os.utime(v1, (v1.stat().st_mtime - 60,) * 2)
    again = load_submissions(tmp_path / "unpacked", "blatt03.ipynb", tmp_path / "u2")
    found = {s.student_id: s for s in again.submissions}
    assert found["1"].notebook.name == "blatt03.ipynb" and "named blatt03.ipynb" in found["1"].note
    assert found["2"].notebook.name == "v2.ipynb" and "most recently modified" in found["2"].note
    assert "none newer than the others" in found["3"].problem and found["3"].status == "invalid"


def test_a_participant_under_two_names_is_not_graded(tmp_path):
    entries = {moodle("Max", 7, "folders", "blatt03.ipynb"): NB, moodle("Maxi", 7, "old", "blatt03.ipynb"): NB}
    [sub] = intake(tmp_path, entries).submissions
    assert "two names" in sub.problem and sub.status == "error"


def test_a_student_whose_notebook_was_refused_gets_the_reason(tmp_path):
    found = intake(
        tmp_path,
        {moodle("Max", 7, "folders", "blatt03.ipynb"): b"0" * 2000},
        limits=IntakeLimits(unpack={"max_file_bytes": 1000}),
    )
    [sub] = found.submissions
    assert sub.student_id == "7" and "refused when unpacking" in sub.problem and "limit of 1000" in sub.problem
    assert any("limit of 1000" in i for i in found.issues)


def test_a_py_file_instead_of_a_notebook(tmp_path):
    [sub] = intake(tmp_path, {moodle("Max", 7, "folders", "blatt03.py"): b"x = 1"}).submissions
    assert sub.problem == "no .ipynb file among the student's files (found blatt03.py)"


def test_a_200_mb_notebook_is_refused_by_size_unread(tmp_path):
    folder = tmp_path / "subs"
    folder.mkdir()
    with open(folder / "huge.ipynb", "wb") as f:
        f.truncate(200 << 20)  # sparse: no disk space, no time
    [sub] = load_submissions(folder, "blatt03.ipynb", tmp_path / "unpacked").submissions
    assert sub.student_id == "huge" and "209715200 bytes, more than the limit of 100000000" in sub.problem


def test_the_same_id_twice_in_a_plain_folder(tmp_path):
    (tmp_path / "subs" / "alice").mkdir(parents=True)
    (tmp_path / "subs" / "alice" / "hw.ipynb").write_bytes(NB)
    (tmp_path / "subs" / "alice.ipynb").write_bytes(NB)
    (tmp_path / "subs" / "bob.ipynb").write_bytes(NB)
    found = {s.student_id: s for s in load_submissions(tmp_path / "subs", "hw.ipynb", tmp_path / "u").submissions}
    assert "found 2 times" in found["alice"].problem and found["bob"].gradable


def test_an_unpack_folder_the_grader_did_not_make_is_never_emptied(tmp_path):
    (tmp_path / "unpacked").mkdir()
    (tmp_path / "unpacked" / "precious.txt").write_text("mine")
    with pytest.raises(Exception, match="not unpacked by the grader"):
        intake(tmp_path, {moodle("Max", 7, "folders", "blatt03.ipynb"): NB})
    assert (tmp_path / "unpacked" / "precious.txt").is_file()


@pytest.mark.parametrize("name", ["Max Mustermann", "O_Brien/x", ".hidden", "~tilde", ""])
def test_feedback_paths_map_back_the_way_moodles_importer_reads_them(name):
    path = feedback_path("1234567", name, "mini-feedback.html")
    first = path.split("/")[0]
    fields = first.split("_", 4)  # PHP explode('_', $part, 5)
    assert len(fields) >= 4 and fields[1] == "1234567" and fields[2:4] == ["assignfeedback", "file"]
    assert not first.startswith((".", "~")) and path.endswith("/mini-feedback.html")
