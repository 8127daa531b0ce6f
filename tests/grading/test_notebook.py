"""Reading a submitted notebook: anything malformed is the submission's problem ("invalid", one line naming the
file and what is wrong), never the grader's error."""

from __future__ import annotations

import json

import pytest

from grader.grading.notebook import NotebookUnreadable, read_notebook


def write(tmp_path, cells, nbformat=4):
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps({"nbformat": nbformat, "nbformat_minor": 5, "metadata": {}, "cells": cells}))
    return path


@pytest.mark.parametrize(
    "cell, problem",
    [
        ({"cell_type": "code", "metadata": {}, "outputs": []}, "cell 2 has no source text"),
        ({"cell_type": "code", "source": 42, "metadata": {}, "outputs": []}, "cell 2 has no source text"),
        ({"source": "x = 1", "metadata": {}}, "cell 2 has no cell_type string"),
        ({"cell_type": ["code"], "source": "x", "metadata": {}}, "not a readable notebook (TypeError: "),
        ("print(1)", "not a readable notebook (ValidationError: "),
    ],
)
def test_malformed_cells_make_the_notebook_unreadable(tmp_path, cell, problem):
    good = {"cell_type": "code", "source": "x = 1", "metadata": {}, "outputs": [], "execution_count": None}
    with pytest.raises(NotebookUnreadable) as caught:
        read_notebook(write(tmp_path, [good, cell]))
    message = str(caught.value)
    assert message.startswith(f"nb.ipynb: {problem}") and "\n" not in message


def test_source_as_a_list_of_lines_is_a_normal_notebook(tmp_path):
    cell = {"cell_type": "code", "source": ["x = 1\n", "y = 2"], "metadata": {}, "outputs": [], "execution_count": None}
    assert read_notebook(write(tmp_path, [cell])).cells[0].source == "x = 1\ny = 2"


def test_an_nbformat_string_with_terminal_escapes_is_not_echoed(tmp_path):
    with pytest.raises(NotebookUnreadable) as caught:
        read_notebook(write(tmp_path, [], nbformat="\x1b[2Jfour\r"))
    assert "\x1b" not in str(caught.value) and "\r" not in str(caught.value)
    assert str(caught.value).startswith("nb.ipynb: ")
