""" "What to look at" in a report: the failing functions in the order the assignment builds them up (each may
call the ones before), why each fails (its own cases, or one it calls), and a failed public case's inputs.

Only public cases' inputs are ever shown: they are in the student's release anyway. Inputs too large to read
in a report are given as one line of code that loads them (:func:`grader.public_inputs`).
"""

from __future__ import annotations

MAX_ELEMENTS = 40  # a tensor with more is "large": loaded by a line of code instead of printed
MAX_CHARS = 400
_LOAD = "from grader import public_inputs; args = public_inputs({name})  # then: your_function(**args)"


def describe_inputs(args: dict, test_name: str) -> str:
    """``name = value`` lines for a public case's arguments, or the line of code that loads them when large."""
    lines = []
    for name, value in args.items():
        text = _value(value)
        if text is None:
            return _LOAD.format(name=repr(test_name))
        lines.append(f"{name} = {text}")
    text = "\n".join(lines)
    if len(text) > MAX_CHARS:
        return _LOAD.format(name=repr(test_name))
    return text


def _value(value) -> str | None:
    import torch

    from grader.boundary.wire import Handle

    if isinstance(value, torch.Tensor):
        if value.numel() > MAX_ELEMENTS:
            return None
        dtype = "" if value.dtype == torch.float32 else f", dtype={value.dtype}"
        return f"torch.tensor({value.tolist()!r}{dtype})"
    if isinstance(value, Handle):
        if value.kind == "generator":
            return f"torch.Generator().manual_seed({value.value!r})"
        if value.kind in ("model", "tokenizer"):
            return f"the {value.kind} of {value.value!r} (assets/{value.value})"
        return None
    if isinstance(value, (list, tuple, dict)):
        return None if len(repr(value)) > MAX_CHARS else repr(value)
    return repr(value)


def guidance(questions, calls: dict[str, list[str]]) -> list[dict]:
    """One entry per failing function, in the assignment's order: ``function``, ``text`` (why), ``inputs`` (of
    its first failed public case, if any). ``questions``: :class:`~grader.grading.results.QuestionResult`
    objects in the assignment's order; ``calls``: which graded functions each one calls."""
    failing = {q.name for q in questions if any(t.status == "failed" for t in q.tests)}
    entries = []
    for q in questions:
        if q.name not in failing:
            continue
        failed = [t for t in q.tests if t.status == "failed"]
        inherited = [f for f in calls.get(q.name, []) if f in failing]
        first_public = next((t for t in failed if not t.hidden and t.inputs), None)
        inputs = ""
        if any(t.kind == "missing" for t in failed):
            text = "not defined in your notebook"
        elif inherited:
            which = "which fails too" if len(inherited) == 1 else "which fail too"
            text = f"{len(failed)} failing test(s); it calls {', '.join(inherited)}, {which}: fix {inherited[0]} first"
        else:
            text = f"{len(failed)} failing test(s)"
            if first_public is not None:
                text += f'. Inputs of "{first_public.name}":'
                inputs = first_public.inputs
        if not entries:
            text = "start here: " + text
        entries.append({"function": q.name, "text": text, "inputs": inputs})
    return entries
