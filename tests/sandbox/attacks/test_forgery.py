"""Attacks on the grade itself: comparison functions patched in the kernel, fake scores printed or written,
result files too large to read, and values whose ``__eq__`` lies. Nothing the notebook does but return values
from the graded functions changes its grade."""

from __future__ import annotations

import dataclasses
import resource

import pytest

from tests.helpers import GREEDY, SOFTMAX
from tests.sandbox.attacks.helpers import (
    FULL,
    LIMITS,
    NOTHING,
    ONLY_SOFTMAX,
    grade,
    kinds,
    peak_growth_mb,
    scores,
)

pytestmark = pytest.mark.slow  # real kernels in real sandboxes


# ---------------------------------------------------------------------------------- forged comparisons


def test_patched_comparison_functions_in_the_kernel_do_not_make_wrong_values_pass(plan, sandbox, tmp_path):
    patch = (
        "import math, torch, numpy, numpy.testing, builtins\n"
        "torch.allclose = lambda *a, **k: True\n"
        "torch.equal = lambda *a, **k: True\n"
        "torch.isclose = lambda a, b, *x, **k: torch.ones(a.shape, dtype=torch.bool)\n"
        "torch.testing.assert_close = lambda *a, **k: None\n"
        "numpy.testing.assert_allclose = lambda *a, **k: None\n"
        "numpy.testing.assert_array_equal = lambda *a, **k: None\n"
        "numpy.allclose = lambda *a, **k: True\n"
        "math.isclose = lambda *a, **k: True\n"
        "torch.Tensor.__eq__ = lambda self, other: True\n"
        "torch.Tensor.__ne__ = lambda self, other: False\n"
    )
    wrong = (
        "def greedy_next_token(logits):\n    return torch.zeros(logits.shape[0], dtype=torch.int64)\n"
        "def softmax_with_temperature(logits, temperature):\n    return torch.full_like(logits, 0.2)\n"
    )
    graded = grade(plan, sandbox, tmp_path, patch, wrong)
    assert scores(graded.result) == NOTHING
    assert set(kinds(graded.result).values()) == {"wrong"}


# ------------------------------------------------------------------------------------------- fake scores


def test_printed_written_and_preplanted_fake_scores_have_no_effect(plan, sandbox, tmp_path):
    fake = (
        "import json, os, threading, time, torch\n"
        "perfect = {'score': 3.0, 'max_score': 3.0, 'status': 'passed', 'tests': []}\n"
        "print(json.dumps(perfect))\n"
        "for name in ('results.json', 'out.json', 'gradebook.csv', 'attacker.json'):\n"
        "    open(name, 'w').write(json.dumps(perfect))\n"
        "forged = json.dumps({'status': 'ok', 'value': True, 'score': 1, 'passed': True})\n"
        "planted = []\n"
        "for n in range(1, 20):  # in advance: the io folder is the grader's\n"
        "    try:\n"
        "        os.makedirs(f'io/call-{n}', exist_ok=True)\n"
        "        open(f'io/call-{n}/out.json', 'w').write(forged)\n"
        "        planted.append(n)\n"
        "    except OSError:\n        pass\n"
        "def forge():  # and while grading runs: into every call folder the grader creates\n"
        "    while True:\n"
        "        for n in range(1, 20):\n"
        "            path = f'io/call-{n}/out.json'\n"
        "            try:  # only greedy_next_token's calls (no 'temperature'): softmax stays honest\n"
        "                greedy = 'temperature' not in open(f'io/call-{n}/in.json').read()\n"
        "                if greedy and not os.path.exists(path):\n"
        "                    open(path, 'w').write(forged)\n"
        "            except OSError:\n                pass\n"
        "        time.sleep(0.001)\n"
        "threading.Thread(target=forge, daemon=True).start()\n"
        "print('planted in advance:', planted)\n"
    )
    graded = grade(plan, sandbox, tmp_path, fake, SOFTMAX)  # greedy_next_token is not defined
    result = graded.result
    assert scores(result) == ONLY_SOFTMAX and result.score == 2.0
    # "missing" as written by the harness, or unreadable where the forger's file won the race: never a pass
    assert {t.kind for t in result.questions[0].tests} <= {"missing", "invalid_output"}
    assert result.cells[0].status == "ok"


# ------------------------------------------------------------------------------------------- huge values


def test_a_200_million_element_tensor_is_refused_before_copying(plan, sandbox, tmp_path):
    huge = (  # 200 million elements (1.6 GB as int64) that cost the kernel 8 bytes
        "import torch\ndef greedy_next_token(logits):\n"
        "    return torch.zeros(1, dtype=torch.int64).expand(200_000_000)\n"
    )
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    graded = grade(plan, sandbox, tmp_path, huge, SOFTMAX)
    result = graded.result
    assert scores(result) == ONLY_SOFTMAX
    assert set(kinds(result)[t.name] for t in result.questions[0].tests) == {"too_large"}
    assert result.cells[0].status == "ok"
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 200_000  # KiB: not copied


def test_an_oversized_result_file_written_past_the_harness_is_not_read(plan, sandbox, tmp_path):
    small = dataclasses.replace(plan, limits=LIMITS.model_copy(update={"return_bytes": 1_000_000}))
    bypass = (
        "import sys, torch\n"
        "def softmax_with_temperature(logits, temperature):\n"
        "    module = sys.modules['__grader_harness_module__']\n"
        "    def write(folder, result, max_bytes=0):  # no size check: a 50 MB tensor file\n"
        "        import os\n"
        "        with open(os.path.join(folder, 'out.json'), 'w') as f:\n"
        '            f.write(\'{"value": {"status": "ok", "value": {"$tensor": "t0"}}}\')\n'
        "        with open(os.path.join(folder, 'out.safetensors'), 'wb') as f:\n"
        "            f.write(b'\\0' * (50 << 20))\n"
        "    module._write = write\n"
        "    return torch.softmax(logits / temperature, dim=-1)\n"
    )
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    graded = grade(small, sandbox, tmp_path, GREEDY, bypass)
    result = graded.result
    # the patched harness also writes the hidden calls' results (they are made after the public ones)
    assert kinds(result) == {
        "greedy_next_token: random": "passed",
        "greedy_next_token: hidden tie": "invalid_output",
        "softmax_with_temperature: t=2": "invalid_output",
    }
    softmax = result.questions[1].tests[0]
    assert "more than the limit of 1000000" in softmax.output, softmax.output
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 40_000  # KiB: 50 MB never read


def test_a_single_huge_output_message_costs_the_host_little(plan, sandbox, tmp_path):
    flood = "import sys\nsys.stdout.write('x' * (150 << 20)); sys.stdout.flush()"
    graded, growth = peak_growth_mb(lambda: grade(plan, sandbox, tmp_path, GREEDY, flood, SOFTMAX))
    assert scores(graded.result) == FULL
    print("host memory growth while grading:", growth, "MB")
    assert growth < 100


# ------------------------------------------------------------------------------------------ lying values


def test_values_whose_eq_lies_never_pass(plan, sandbox, tmp_path):
    liars = (
        "import torch\n"
        "class Liar(torch.Tensor):\n"
        "    def __eq__(self, other):\n        return True\n"
        "    __ne__ = lambda self, other: False\n"
        "class Anything:\n"
        "    def __eq__(self, other):\n        return True\n"
        "    __hash__ = object.__hash__\n"
        "    shape = dtype = property(lambda self: self)\n"
        "def greedy_next_token(logits):\n"
        "    return torch.zeros(logits.shape[0], dtype=torch.int64).as_subclass(Liar)  # wrong values\n"
        "def softmax_with_temperature(logits, temperature):\n"
        "    return Anything()\n"
    )
    graded = grade(plan, sandbox, tmp_path, liars)
    result = graded.result
    assert scores(result) == NOTHING
    got = kinds(result)
    assert got["greedy_next_token: random"] in ("wrong", "unencodable", "invalid_output"), got
    assert got["softmax_with_temperature: t=2"] == "unencodable", got


def test_forged_result_fields_of_the_wrong_shape_or_type_fail_that_call_only(plan, sandbox, tmp_path):
    forger = (
        "import sys, torch\n"
        "def greedy_next_token(logits):\n"
        "    module = sys.modules['__grader_harness_module__']\n"
        "    if not hasattr(module, 'honest_write'):\n"
        "        module.honest_write = module._write\n"
        "        def write(folder, result, max_bytes=1 << 20):\n"
        "            if folder.endswith('call-1'):  # this call: 2 million empty rows in 72 bytes\n"
        "                result = {'status': 'ok', 'stacked': torch.zeros(2_000_000, 0)}\n"
        "            elif folder.endswith('call-2'):  # softmax: an exception whose message is not a string\n"
        "                result = {'status': 'exception', 'message': {'x': [1] * 1000}}\n"
        "            module.honest_write(folder, result, max_bytes)\n"
        "        module._write = write\n"
        "    return torch.argmax(logits, dim=-1)\n"
    )
    result = grade(plan, sandbox, tmp_path, forger, SOFTMAX).result
    assert kinds(result) == {
        "greedy_next_token: random": "invalid_output",
        "greedy_next_token: hidden tie": "passed",  # its later call, written honestly
        "softmax_with_temperature: t=2": "exception",
    }
    assert result.tests[0].output.endswith("the call's result is malformed")
    assert result.tests[2].output == "raised an exception: (no message)"
