"""Contract: what grader/compat/ipykernel.py relies on in ipykernel: a cell's code is compiled under a file
named by the murmur2 hash of its source, in an ``ipykernel_<pid>`` folder."""

from __future__ import annotations

import ipykernel
from ipykernel.compiler import XCachingCompiler, get_file_name

from grader.compat.ipykernel import CELL_FRAME, cell_file_hash, name_cells

UPGRADE = f"ipykernel {ipykernel.__version__}: {{what}}; update grader/compat/ipykernel.py"


def test_a_cells_file_is_named_by_the_hash_of_its_source(monkeypatch):
    monkeypatch.delenv("IPYKERNEL_CELL_NAME", raising=False)
    source = "def f(x):\n    return 1 / x\n"
    name = XCachingCompiler().get_code_name(source, source, 1)
    assert name == get_file_name(source), UPGRADE.format(what="cells are no longer named by get_file_name")
    match = CELL_FRAME.search(f'File "{name}", line 2, in f')
    assert match is not None, UPGRADE.format(what=f"a cell's file is named {name!r}")
    assert match.group(1) == cell_file_hash(source)


def test_frames_are_named_by_their_cell_and_others_are_kept():
    source = "def f(x):\n    return 1 / x\n"
    text = (
        f'  File "/tmp/ipykernel_7/{cell_file_hash(source)}.py", line 2, in f\n'
        '  File "/tmp/ipykernel_7/123.py", line 4, in g\n'
    )
    named = name_cells(text, {'code cell 3 ("def f(x):")': source})
    assert 'code cell 3 ("def f(x):"), line 2, in f' in named
    assert "ipykernel_7/123.py" in named
