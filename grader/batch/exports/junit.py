"""JUnit XML for CI systems: a ``testsuite`` per student (score in its properties), a ``testcase`` per test."""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree as ET

from grader.batch.gradebook import Gradebook, GradeRow
from grader.common.files import atomic_write

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def write_junit(gb: Gradebook, path: Path) -> list[str]:
    """JUnit XML: a ``testsuite`` per student (score in its properties), a ``testcase`` per test.

    A wrong value or a missing function is a ``failure``; anything else that stopped a test (an exception,
    a timeout, a dead kernel, a notebook that could not run) is an ``error``."""
    info = gb.assignment()
    root = ET.Element("testsuites", name=info.id if info else "grader")
    totals = {"tests": 0, "failures": 0, "errors": 0, "time": 0.0}
    for r in gb.rows():
        suite = _junit_suite(r)
        root.append(suite)
        for key in ("tests", "failures", "errors"):
            totals[key] += int(suite.get(key))
        totals["time"] += r.seconds
    for key, value in totals.items():
        root.set(key, f"{value:.3f}" if key == "time" else str(value))
    with atomic_write(path, mode="wb") as f:
        ET.ElementTree(root).write(f, encoding="UTF-8", xml_declaration=True)
    return []


def _junit_suite(r: GradeRow) -> ET.Element:
    tests = [t for q in r.questions for t in q["tests"]]
    failures = sum(t["status"] == "failed" and t.get("kind") in ("wrong", "missing") for t in tests)
    errors = sum(t["status"] == "failed" for t in tests) - failures
    suite = ET.Element(
        "testsuite",
        name=r.student_id,
        tests=str(len(tests)),
        failures=str(failures),
        errors=str(errors),
        skipped="0",
        time=f"{r.seconds:.3f}",
    )
    props = ET.SubElement(suite, "properties")
    for key, value in (("score", r.score), ("max_score", r.max_score), ("status", r.status), ("name", r.name)):
        ET.SubElement(props, "property", name=key, value=_xml_text(str(value)))
    for q in r.questions:
        for t in q["tests"]:
            name = t["name"].split(": ", 1)[-1]
            case = ET.SubElement(suite, "testcase", classname=f"{r.student_id}.{q['name']}", name=_xml_text(name))
            if t["status"] == "failed":
                tag = "failure" if t.get("kind") in ("wrong", "missing") else "error"
                kind = t.get("kind", "wrong")
                ET.SubElement(case, tag, message=_xml_text(t["output"][:200]), type=kind).text = _xml_text(t["output"])
    return suite


def _xml_text(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot hold (student output may contain any)."""
    return _NOT_XML.sub("\ufffd", text)
