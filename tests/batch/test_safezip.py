"""Unpacking an untrusted zip: hostile entries are refused one by one, a zip bomb as a whole."""

import io
import os
import zipfile

import pytest

from grader.batch.safezip import UnpackLimits, safe_relative, unpack
from grader.errors import GraderError
from tests.batch.helpers import DATE, write_zip

SMALL = UnpackLimits(max_file_bytes=1000, max_total_bytes=5000, max_entries=50)


def refused(report) -> dict[str, str]:
    return {r.path: r.reason for r in report.refused}


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../escape.ipynb", "'..'"),
        ("a/../../escape.ipynb", "'..'"),
        ("/etc/cron.d/x", "absolute"),
        ("C:/Users/x.ipynb", "absolute"),
        ("..\\windows.ipynb", "'..'"),
    ],
)
def test_paths_that_leave_the_folder_are_refused(name, reason):
    path, why = safe_relative(name)
    assert path is None and reason in why


def test_hostile_entries_are_refused_and_the_rest_is_unpacked(tmp_path):
    archive = write_zip(
        tmp_path / "in.zip",
        {"ok/a.ipynb": b"{}", "../up.ipynb": b"x", "/abs.ipynb": b"x", "big.ipynb": b"0" * 1001},
        symlinks={"ok/link.ipynb": "/etc/passwd"},
    )
    report = unpack(archive, tmp_path / "out", SMALL)
    assert set(refused(report)) == {"../up.ipynb", "/abs.ipynb", "big.ipynb", "ok/link.ipynb"}
    assert "symbolic link" in refused(report)["ok/link.ipynb"]
    assert "more than the limit of 1000" in refused(report)["big.ipynb"]
    assert sorted(p.name for p in (tmp_path / "out").rglob("*")) == ["a.ipynb", "ok"]
    assert not (tmp_path / "up.ipynb").exists() and not os.path.lexists(tmp_path / "out" / "ok" / "link.ipynb")


def test_entries_without_a_unix_file_type_are_plain_files(tmp_path):
    with zipfile.ZipFile(tmp_path / "in.zip", "w") as zf:
        zf.writestr(zipfile.ZipInfo("dos.ipynb"), b"{}")  # external_attr 0, as Windows tools write
        with zf.open("streamed.ipynb", "w") as f:  # permission bits only
            f.write(b"{}")
    report = unpack(tmp_path / "in.zip", tmp_path / "out")
    assert report.refused == [] and report.files == 2


def test_files_keep_the_zips_modification_time(tmp_path):
    unpack(write_zip(tmp_path / "in.zip", {"a.ipynb": b"{}"}), tmp_path / "out")
    mtime = (tmp_path / "out" / "a.ipynb").stat().st_mtime
    assert __import__("time").localtime(mtime)[:6] == DATE


def test_a_zip_bomb_by_declared_total_size_is_refused_whole(tmp_path):
    archive = write_zip(tmp_path / "in.zip", {f"f{i}.ipynb": b"0" * 900 for i in range(6)})
    with pytest.raises(GraderError, match="zip bomb"):
        unpack(archive, tmp_path / "out", SMALL)
    assert not (tmp_path / "out").exists()


def test_an_entry_that_inflates_past_its_declared_size_is_refused(tmp_path):
    """A header that lies: it declares 10 bytes, the data inflates to 5000."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("liar.ipynb", b"0" * 5000)
    data = bytearray(buf.getvalue())
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # uncompressed size in both headers
        at = data.index(sig) + offset
        data[at : at + 4] = (10).to_bytes(4, "little")
    (tmp_path / "liar.zip").write_bytes(bytes(data))
    report = unpack(tmp_path / "liar.zip", tmp_path / "out", SMALL)
    assert "liar.ipynb" in refused(report) and not (tmp_path / "out" / "liar.ipynb").exists()


def test_too_many_entries_and_non_zips_are_grader_errors(tmp_path):
    archive = write_zip(tmp_path / "many.zip", {f"f{i}": b"" for i in range(51)})
    with pytest.raises(GraderError, match="entries"):
        unpack(archive, tmp_path / "out", SMALL)
    (tmp_path / "not.zip").write_text("hello")
    with pytest.raises(GraderError, match="not a readable zip"):
        unpack(tmp_path / "not.zip", tmp_path / "out2")
