"""The ground-truth cache (grader.assignment.gtcache): computed once, invalidated by exactly what changed, never
trusted blindly; and the hash of a whole assignment's ground truth (grader.assignment.gtkey), remembered until
anything it covers changes.

The reference runs for real; only the second builds replace it with a function that fails if called.
"""

import importlib.util
import json
import logging
import shutil
import uuid
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from grader.assignment import casekey, gtcache, gtkey
from grader.assignment.assets import asset_paths
from grader.assignment.casekey import hash_groundtruth
from grader.assignment.groundtruth import build_plan
from grader.assignment.gtcache import FORMAT, GroundTruthCache
from grader.assignment.gtsources import cache_folder
from grader.assignment.spec import load_assignment
from grader.boundary.wire import Handle
from reference.models import course_lm_path
from tests.helpers import GREEDY, MINI_SPEC, REPO, SOFTMAX, notebook

EXTRA = """
[assets.lm]
kind = "folder"
path = "lm"

[[questions]]
function = "top_k_filter"
points = 1
  [[questions.cases]]
  name = "from a file"
  args = { logits = { file = "data/logits.safetensors", key = "logits" }, k = 2 }

[[questions]]
function = "generate"
points = 1
  [[questions.cases]]
  name = "greedy continuation"
  args = { model = { model = "lm" }, input_ids = { encode = "Once upon a time", tokenizer = "lm" }, max_new_tokens = 3 }
  compare = { kind = "exact" }

[[questions]]
function = "double"
points = 1
reference = "{module}:double"
  [[questions.cases]]
  name = "two"
  args = { x = { tensor = [2, 3], dtype = "int64" } }
  compare = { kind = "exact" }
"""
CASES = 6


def noop(*args, **kwargs):
    raise AssertionError("the reference ran although every case is cached")


@pytest.fixture
def assignment(tmp_path, monkeypatch):
    """The mini assignment plus a file input, a model folder asset and a reference module of its own."""
    module = f"gtref_{uuid.uuid4().hex[:8]}"
    code = tmp_path / "code"
    code.mkdir()
    (code / f"{module}.py").write_text("def double(x):\n    return x * 2\n")
    monkeypatch.syspath_prepend(str(code))
    folder = tmp_path / "mini"
    folder.mkdir()
    (folder / "assignment.toml").write_text(MINI_SPEC + EXTRA.replace("{module}", module))
    (folder / "data").mkdir()
    save_file({"logits": torch.tensor([[1.0, 3.0, 2.0, 0.5]])}, str(folder / "data" / "logits.safetensors"))
    shutil.copytree(course_lm_path(), folder / "lm")
    notebook(folder, "mini", GREEDY, SOFTMAX)
    return load_assignment(folder)


def module_file(assignment) -> Path:
    question = assignment.spec.questions[-1]
    return Path(importlib.util.find_spec(question.reference.partition(":")[0]).origin)


def build_warm(assignment, cache, monkeypatch):
    """A build in which the reference must not run."""
    with monkeypatch.context() as m:
        m.setattr("grader.assignment.groundtruth.run_reference", noop)
        m.setattr("grader.assignment.groundtruth.materialize", noop)
        return build_plan(assignment, cache_dir=cache)


def counts(plan) -> tuple[int, int]:
    return plan.groundtruth.cached, plan.groundtruth.computed


def same_value(a, b, path="value"):
    assert type(a) is type(b), f"{path}: {type(a)} != {type(b)}"
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape, path
        torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and np.array_equal(a, b), path
    elif isinstance(a, dict):
        assert list(a) == list(b), path
        for k in a:
            same_value(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same_value(x, y, f"{path}[{i}]")
    elif isinstance(a, Handle):
        assert a.kind == b.kind, path
        same_value(a.value, b.value, f"{path}.value")
    else:
        assert a == b, path


def same_plan(a, b):
    assert [q.function for q in a.questions] == [q.function for q in b.questions]
    for qa, qb in zip(a.questions, b.questions, strict=True):
        assert (qa.points, qa.description) == (qb.points, qb.description)
        for ca, cb in zip(qa.cases, qb.cases, strict=True):
            assert (ca.name, ca.compare, ca.hidden, ca.weight) == (cb.name, cb.compare, cb.hidden, cb.weight)
            same_value(ca.args, cb.args, f"{ca.name} args")
            same_value(ca.expected, cb.expected, f"{ca.name} expected")
    assert a.assets == b.assets


def entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.safetensors"))


def keys(assignment, folder) -> dict[str, str]:
    cache = GroundTruthCache(folder, assignment.folder, asset_paths(assignment))
    spec = assignment.spec
    return {c.name: cache.key(c, spec.reference_for(q, c)) for q in spec.questions for c in q.cases}


def test_second_build_computes_nothing_and_gives_the_same_plan(assignment, tmp_path, monkeypatch):
    folder = cache_folder(tmp_path / "out")
    assert folder == tmp_path / "out" / ".groundtruth"
    cold = build_plan(assignment, cache_dir=folder)
    assert counts(cold) == (0, CASES) and str(cold.groundtruth) == f"ground truth: 0 cached, {CASES} computed"
    assert len(entries(folder)) == CASES
    assert not [p for p in folder.iterdir() if p.name.startswith(".tmp-")]
    warm = build_warm(assignment, folder, monkeypatch)
    assert counts(warm) == (CASES, 0) and warm.groundtruth.discarded == 0
    same_plan(cold, warm)
    same_plan(build_plan(assignment), warm)  # no cache: as before
    assert warm.provenance == cold.provenance


def test_entries_are_plain_data_with_their_key(assignment, tmp_path):
    folder = tmp_path / "gt"
    build_plan(assignment, cache_dir=folder)
    for name, key in keys(assignment, folder).items():
        data = (folder / f"{key}.safetensors").read_bytes()
        header = json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])
        meta = header["__metadata__"]
        assert meta["format"] == FORMAT and meta["key"] == key, name
        json.loads(meta["value"])  # the wire JSON tree; tensors are the safetensors' own
        assert b"pickle" not in data and b"\x80\x04" not in data[:2]


@pytest.mark.parametrize(
    ("change", "recomputed"),
    [
        ("args", {"random"}),
        ("file", {"from a file"}),
        ("model", {"greedy continuation"}),
        ("module", {"two"}),
    ],
)
def test_a_change_invalidates_only_the_cases_it_affects(assignment, tmp_path, monkeypatch, change, recomputed):
    folder = tmp_path / "gt"
    before = keys(assignment, folder)
    build_plan(assignment, cache_dir=folder)
    if change == "args":  # the seed of the "random" case
        toml = assignment.folder / "assignment.toml"
        toml.write_text(toml.read_text().replace("randn = [3, 7], seed = 0", "randn = [3, 7], seed = 9"))
        assignment = load_assignment(assignment.folder)
    elif change == "file":
        save_file({"logits": torch.tensor([[0.0, 1.0, 5.0, 2.0]])}, str(assignment.folder / "data/logits.safetensors"))
    elif change == "model":  # same model, other bytes
        config = assignment.folder / "lm" / "config.json"
        config.write_text(json.dumps(json.loads(config.read_text()), indent=4))
    else:
        path = module_file(assignment)
        path.write_text(path.read_text() + "# reviewed\n")
    after = keys(assignment, folder)
    assert {name for name in before if before[name] != after[name]} == recomputed
    plan = build_plan(assignment, cache_dir=folder)
    assert counts(plan) == (CASES - len(recomputed), len(recomputed))
    assert len(entries(folder)) == CASES + len(recomputed)  # the old entries stay, unused
    if change == "file":
        expected = next(c.expected for q in plan.questions for c in q.cases if c.name == "from a file")
        assert torch.isinf(expected[0, 0]) and expected[0, 2] == 5.0  # the new file's values, not the cached ones


def test_reference_code_and_device_invalidate_every_case(assignment, tmp_path, monkeypatch):
    folder = tmp_path / "gt"
    extra = tmp_path / "helper.py"
    extra.write_text("X = 1\n")
    files = casekey.code_files
    monkeypatch.setattr(casekey, "code_files", lambda: [*files(), ("reference/helper.py", extra)])
    assert counts(build_plan(assignment, cache_dir=folder)) == (0, CASES)
    assert counts(build_warm(assignment, folder, monkeypatch)) == (CASES, 0)
    extra.write_text("X = 2\n")
    assert counts(build_plan(assignment, cache_dir=folder)) == (0, CASES)
    environment = gtcache._environment
    monkeypatch.setattr(gtcache, "_environment", lambda: {**environment(), "device": "cuda"})
    assert counts(build_plan(assignment, cache_dir=folder)) == (0, CASES)


@pytest.mark.parametrize("change", ["file", "model", "module", "reference code", "spec", "environment"])
def test_the_whole_ground_truth_hash_is_remembered_until_anything_it_covers_changes(
    assignment, tmp_path, monkeypatch, change
):
    memo = tmp_path / "out" / ".groundtruth"
    extra = tmp_path / "helper.py"
    extra.write_text("X = 1\n")
    files = casekey.code_files
    for module in (casekey, gtkey):
        monkeypatch.setattr(module, "code_files", lambda: [*files(), ("reference/helper.py", extra)])
    key = gtkey.groundtruth_key(assignment, memo)
    environment = gtcache.reference_environment()
    assert key == hash_groundtruth(assignment, environment)[0] == build_plan(assignment).groundtruth_key
    with monkeypatch.context() as m:  # remembered: nothing is hashed again, the environment is not asked for
        m.setattr(gtkey, "hash_groundtruth", noop)
        m.setattr(gtcache, "reference_environment", noop)
        assert gtkey.groundtruth_key(assignment, memo) == key
    if change == "file":
        save_file({"logits": torch.tensor([[0.0, 1.0, 5.0, 2.0]])}, str(assignment.folder / "data/logits.safetensors"))
    elif change == "model":
        config = assignment.folder / "lm" / "config.json"
        config.write_text(json.dumps(json.loads(config.read_text()), indent=4))
    elif change == "module":
        path = module_file(assignment)
        path.write_text(path.read_text() + "# reviewed\n")
    elif change == "reference code":
        extra.write_text("X = 2\n")
    elif change == "spec":
        toml = assignment.folder / "assignment.toml"
        toml.write_text(toml.read_text().replace("randn = [3, 7], seed = 0", "randn = [3, 7], seed = 9"))
        assignment = load_assignment(assignment.folder)
    else:  # another machine or torch build: the witness differs, the hash is computed again
        environment = gtkey._environment
        monkeypatch.setattr(gtkey, "_environment", lambda: {**environment(), "gpus": ["0000:01:00.0"]})
    assert gtkey.recall(gtkey.memo_path(memo, assignment), assignment) is None
    fresh = gtkey.groundtruth_key(assignment, memo)
    assert fresh == build_plan(assignment).groundtruth_key
    assert (fresh == key) == (change == "environment")  # the same machine in truth: the same hash
    assert gtkey.recall(gtkey.memo_path(memo, assignment), assignment) == fresh


def test_an_unreadable_memo_is_computed_again(assignment, tmp_path):
    memo = tmp_path / "gt"
    key = gtkey.groundtruth_key(assignment, memo)
    gtkey.memo_path(memo, assignment).write_text("{not json")
    assert gtkey.recall(gtkey.memo_path(memo, assignment), assignment) is None
    assert gtkey.groundtruth_key(assignment, memo) == key


def test_code_files_cover_the_reference_package_and_the_grader_inputs():
    names = [name for name, _ in casekey.code_files()]
    assert "reference/sampling.py" in names and "reference/models/build.py" in names
    own = {"grader/assignment/groundtruth.py", "grader/assignment/inputs.py", "grader/assignment/gtcache.py"}
    assert own <= set(names)
    assert all(path.is_file() for _, path in casekey.code_files())


def test_bad_entries_are_computed_again_with_a_warning(assignment, tmp_path, monkeypatch, caplog):
    folder = tmp_path / "gt"
    cold = build_plan(assignment, cache_dir=folder)
    key = keys(assignment, folder)
    path = {name: folder / f"{k}.safetensors" for name, k in key.items()}
    outside = tmp_path / "outside.safetensors"
    outside.write_bytes(path["t=2"].read_bytes())
    outside_bytes = outside.read_bytes()
    path["random"].write_bytes(path["random"].read_bytes()[:40])  # truncated safetensors
    path["hidden tie"].write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")  # garbage header
    garbage = {"format": FORMAT, "key": key["from a file"], "value": "{not json"}
    save_file({}, str(path["from a file"]), metadata=garbage)  # right header, garbage JSON value
    path["two"].write_bytes(path["greedy continuation"].read_bytes())  # another case's entry: key differs
    path["t=2"].unlink()
    path["t=2"].symlink_to(outside)  # a symlink planted in the cache (to a valid entry)
    with caplog.at_level(logging.WARNING, logger="grader.assignment.gtcache"):
        plan = build_plan(assignment, cache_dir=folder)
    assert counts(plan) == (1, CASES - 1) and plan.groundtruth.discarded == CASES - 1
    warned = "\n".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    for name in ("random", "hidden tie", "from a file", "two", "t=2"):
        assert str(path[name]) in warned, name
    assert "differs from its name" in warned
    assert "unreadable cache entries" in str(plan.groundtruth)
    same_plan(cold, plan)
    assert not path["t=2"].is_symlink() and outside.read_bytes() == outside_bytes  # replaced, not followed
    assert counts(build_warm(assignment, folder, monkeypatch)) == (CASES, 0)  # rewritten


def test_an_unusable_cache_folder_only_costs_time(assignment, tmp_path, caplog):
    blocked = tmp_path / "gt"
    blocked.write_text("a file where the cache folder should be")
    with caplog.at_level(logging.WARNING, logger="grader.assignment.gtcache"):
        plan = build_plan(assignment, cache_dir=blocked)
    assert counts(plan) == (0, CASES)
    assert "cannot write" in caplog.text
    folder = tmp_path / "gt2"
    build_plan(assignment, cache_dir=folder)
    (folder / f"{keys(assignment, folder)['two']}.safetensors").unlink()
    (folder / f"{keys(assignment, folder)['two']}.safetensors").mkdir()  # a folder in an entry's place
    with caplog.at_level(logging.WARNING, logger="grader.assignment.gtcache"):
        assert counts(build_plan(assignment, cache_dir=folder)) == (CASES - 1, 1)


def test_values_wire_would_change_are_not_cached(tmp_path, monkeypatch):
    module = f"gtref_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text("import torch\ndef shape(n):\n    return torch.zeros(n, 2).shape\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    folder = tmp_path / "a"
    folder.mkdir()
    spec = MINI_SPEC.split("[[questions]]")[0] + (
        f'[[questions]]\nfunction = "shape"\npoints = 1\nreference = "{module}:shape"\n'
        '  [[questions.cases]]\n  name = "size"\n  args = { n = 3 }\n  compare = { kind = "exact" }\n'
    )
    (folder / "assignment.toml").write_text(spec)
    notebook(folder, "mini", GREEDY)
    assignment = load_assignment(folder)
    for _ in range(2):
        plan = build_plan(assignment, cache_dir=tmp_path / "gt")
        assert counts(plan) == (0, 1) and type(plan.questions[0].cases[0].expected) is torch.Size
    assert not entries(tmp_path / "gt")


@pytest.mark.parametrize("name", ["03-sampling", "04-rag"])
def test_course_assignments_come_back_identical(name, tmp_path, monkeypatch):
    assignment = load_assignment(REPO / "assignments" / name)
    cold = build_plan(assignment, cache_dir=tmp_path)
    warm = build_warm(assignment, tmp_path, monkeypatch)
    assert warm.groundtruth.computed == 0 and warm.groundtruth.cached == cold.groundtruth.computed > 0
    same_plan(cold, warm)
