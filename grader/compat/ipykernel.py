"""ipykernel internals a traceback relies on: the temporary file name each cell's code is compiled under.

A student function that raises inside a kernel has frames named ``<tmp>/ipykernel_<pid>/<hash>.py``: ipykernel's
``XCachingCompiler`` names a cell's code by a murmur2 hash of its source (``ipykernel.compiler.get_file_name``).
Hashing each cell's source the same way tells which cell a frame is in. Contract: ``tests/compat/test_ipykernel.py``.
"""

from __future__ import annotations

import re

# a frame in a cell's code, as traceback.format_list writes it: the file's hash and the line
CELL_FRAME = re.compile(r'File "[^"\n]*ipykernel_\d+[\\/](\d+)\.py", line (\d+)')


def cell_file_hash(source: str) -> str:
    """The ``<hash>`` of the file ipykernel compiles a cell with this exact source under."""
    from ipykernel.compiler import get_tmp_hash_seed, murmur2_x86

    return str(murmur2_x86(source, get_tmp_hash_seed()))


def name_cells(text: str, sources: dict[str, str]) -> str:
    """``text`` with every cell frame (``File ".../ipykernel_2/4212535095.py", line 15``) named by the label
    of the cell it is in (``sources``: label -> the cell's source); frames of unknown cells are left as they are."""
    if not CELL_FRAME.search(text):
        return text
    by_hash = {cell_file_hash(source): label for label, source in sources.items()}

    def rename(match: re.Match) -> str:
        label = by_hash.get(match.group(1))
        return f"{label}, line {match.group(2)}" if label else match.group(0)

    return CELL_FRAME.sub(rename, text)
