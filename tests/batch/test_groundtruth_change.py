"""A ground truth that changes after grading (here an input file of the assignment; gtcache's tests cover the
reference code, models and the device): the rerun refuses with one line, --student too; reverted, the grades
stand; --regrade grades everyone against the new one, through real kernels, leaving no grade or export from the
old one."""

import csv
import json
import sqlite3

import pytest
import torch
from safetensors.torch import save_file
from typer.testing import CliRunner

from grader.cli import app
from tests.batch.helpers import sandbox_args
from tests.helpers import GREEDY, MINI_SPEC, SOFTMAX, notebook

pytestmark = pytest.mark.slow
FILE_CASE = 'args = { logits = { file = "data/logits.safetensors", key = "logits" } }'
LUCKY = (  # always token 0: right only while the file's largest logit is the first
    "import torch\ndef greedy_next_token(logits):\n    return torch.zeros(logits.shape[:-1], dtype=torch.long)\n"
)


def logits(folder, *values):
    save_file({"logits": torch.tensor([list(values)])}, str(folder / "data" / "logits.safetensors"))


def groundtruths(out) -> dict:
    db = sqlite3.connect(out / "gradebook.sqlite")
    try:
        return dict(db.execute("SELECT groundtruth, count(*) FROM current GROUP BY groundtruth").fetchall())
    finally:
        db.close()


def test_a_changed_input_file_is_refused_until_regrade_and_regrade_leaves_nothing_old(tmp_path):
    folder = tmp_path / "mini"
    (folder / "data").mkdir(parents=True)
    (folder / "assignment.toml").write_text(
        MINI_SPEC.replace("args = { logits = { randn = [3, 7], seed = 0 } }", FILE_CASE)
    )
    logits(folder, 5.0, 1.0, 2.0)
    notebook(folder, "mini", GREEDY, SOFTMAX)
    subs, out = tmp_path / "subs", tmp_path / "out"
    notebook(subs, "honest", GREEDY, SOFTMAX)
    notebook(subs, "lucky", LUCKY, SOFTMAX)
    args = ["grade", str(folder), str(subs), "--out", str(out), "-j", "2", *sandbox_args()]
    runner = CliRunner()

    first = runner.invoke(app, args)
    assert first.exit_code == 0 and "graded 2/2" in first.output, first.output
    assert runner.invoke(app, ["export", str(out), "--format", "all"]).exit_code == 0
    [old] = groundtruths(out)
    lucky_score = json.loads((out / "exports" / "gradescope" / "lucky" / "results.json").read_text())["score"]
    assert lucky_score == 2.5

    logits(folder, 1.0, 5.0, 2.0)  # the instructor fixes the input file
    for extra in ([], ["--student", "lucky"]):
        refused = runner.invoke(app, [*args, *extra])
        assert refused.exit_code == 1, refused.output
        [line] = refused.output.strip().splitlines()
        assert "2 grade(s) graded against another ground truth" in line and "pass --regrade" in line
    assert groundtruths(out) == {old: 2}  # nothing graded, nothing lost
    logits(folder, 5.0, 1.0, 2.0)  # reverted: the grades stand again
    back = runner.invoke(app, args)
    assert back.exit_code == 0 and "nothing to grade" in back.output, back.output

    logits(folder, 1.0, 5.0, 2.0)
    regraded = runner.invoke(app, [*args, "--regrade"])
    assert regraded.exit_code == 0 and "graded 2/2" in regraded.output, regraded.output
    [new] = groundtruths(out)
    assert new != old and groundtruths(out) == {new: 2}
    assert json.loads((out / "exports" / "gradescope" / "lucky" / "results.json").read_text())["score"] == 2.0
    assert "lucky,lucky,,,,2\n" in (out / "exports" / "canvas.csv").read_text()
    rows = {r["student_id"]: r["score"] for r in csv.DictReader((out / "gradebook.csv").open())}
    assert rows == {"honest": "3", "lucky": "2"} and not (out / "exports" / "gradebook.csv").exists()
    assert 'id="groundtruth-warning"' not in (out / "summary.html").read_text()

    again = runner.invoke(app, args)  # the new ground truth is remembered: nothing to grade, nothing refused
    assert again.exit_code == 0 and "nothing to grade" in again.output, again.output
