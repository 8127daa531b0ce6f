"""The review page in a real browser: the system's headless chromium (Playwright, never `playwright install`)
against a real uvicorn server on a free port, over a real gradebook of 12 students and two written questions.

Every page runs with the network cut off except for the app itself: a request anywhere else is aborted and
recorded, and each test asserts there was none.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from grader.batch import suggestions
from grader.batch.reviews import Reviews
from grader.review.serve import ReviewServer
from tests.review.classbook import class_gradebook

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine")]
expect = sync_api.expect
SCREENSHOT = "GRADER_REVIEW_SCREENSHOT"  # scripts/review-screenshot.sh: where to keep the page's picture


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        yield browser
        browser.close()


@pytest.fixture
def served(tmp_path):
    out = class_gradebook(tmp_path)
    server = ReviewServer(out)
    server.start()
    yield server, out
    server.stop()


class TA:
    """One TA's browser: its own context (cookies, localStorage), logged in with the printed URL."""

    def __init__(self, browser, server: ReviewServer, name: str):
        self.origin = server.url.split("/?")[0] + "/"
        self.outside, self.dialogs, self.errors, self.requests = [], [], [], []
        self.context = browser.new_context(viewport={"width": 1280, "height": 800})
        self.context.route("**/*", self._gate)
        self.page = self.context.new_page()
        self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(server.url)
        self.page.fill("#login-name", name)
        self.page.press("#login-name", "Enter")
        expect(self.page.locator("#question-list li")).to_have_count(2)

    def _gate(self, route):
        url = route.request.url
        self.requests.append(url)
        if url.startswith((self.origin, "data:")):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def open(self, question: str, student: int = 1):
        """The question's answer of student ``s01``, ``s02``, ... (students in order: n steps to the next)."""
        self.page.click(f"text={question}")
        expect(self.page.locator("#student")).to_have_text("Name s01 (s01)")
        for n in range(2, student + 1):
            self.page.keyboard.press("n")
            expect(self.page.locator("#student")).to_have_text(f"Name s{n:02d} (s{n:02d})")

    def check_clean(self):
        """Nothing left the app, nothing popped up, the page's script raised nothing."""
        assert (self.outside, self.dialogs, self.errors) == ([], [], [])
        self.context.close()


def test_a_ta_grades_with_keyboard_and_clicks_edits_the_rubric_and_it_persists(browser, served):
    server, out = served
    ta = TA(browser, server, "ta-anna")
    page, student, score = ta.page, ta.page.locator("#student"), ta.page.locator("#score")
    ta.open("why-scale")
    page.keyboard.press("1")
    expect(score).to_have_text("2 / 2")
    page.keyboard.press("s")  # saved; the next unreviewed answer
    expect(student).to_have_text("Name s02 (s02)")
    expect(page.locator("#group-text")).to_have_text("1 other answer like this one")
    page.keyboard.press("1")
    page.keyboard.press("2")
    expect(score).to_have_text("1 / 2")
    page.keyboard.press("c")
    page.keyboard.type("Say why the variance grows.")
    page.keyboard.press("Control+Enter")
    expect(student).to_have_text("Name s03 (s03)")
    page.click("label[for=item-1]")  # by mouse: item 2 (-1) and an adjustment
    page.fill("#adjustment", "1")
    expect(score).to_have_text("0 / 2")
    page.click("#save")
    expect(student).to_have_text("Name s04 (s04)")
    page.keyboard.press("1")
    page.keyboard.press("p")  # unsaved: asks first
    expect(page.locator("#banner")).to_contain_text("not saved")
    expect(student).to_have_text("Name s04 (s04)")
    page.keyboard.press("p")
    expect(student).to_have_text("Name s03 (s03)")
    expect(page.locator("#rubric input:checked")).to_have_count(1)

    page.locator(".rubric .item").nth(1).locator("button.edit").click()
    page.fill(".edit-item input[type=number]", "-0.5")
    page.click("text=Save item")
    expect(page.locator(".rubric .item").nth(1)).to_contain_text("-0.5")
    expect(score).to_have_text("0.5 / 2")  # rescored at once

    listed = [url for url in ta.requests if "/api/answers?" in url]
    assert len(listed) == 1  # the list (grouped on the server: costly) once per question, not at every step
    page.reload()
    expect(student).to_have_text("Name s03 (s03)")  # the same answer, from the address
    expect(page.locator("#where")).to_have_text("why-scale: 3 / 12 reviewed")
    expect(page.locator("#comment")).to_have_value("")
    page.keyboard.press("q")
    expect(page.locator("#question-list li").first).to_contain_text("3 / 12 reviewed")
    with Reviews.open(out) as rv:
        scores = {sid: rv.manual_scores(sid)[0] for sid in ("s01", "s02", "s03", "s04")}
        assert {sid: s.score for sid, s in scores.items()} == {"s01": 2.0, "s02": 1.5, "s03": 0.5, "s04": 0.0}
        assert scores["s02"].comment == "Say why the variance grows." and not scores["s04"].reviewed
        assert {a["who"] for a in rv.audit("why-scale")} == {"ta-anna"}
        assert [a["action"] for a in rv.audit("why-scale")][-1] == "edit item"
    ta.check_clean()


def test_two_tas_on_one_answer_the_second_sees_a_conflict_and_nothing_is_overwritten(browser, served):
    server, out = served
    anna, ben = TA(browser, server, "ta-anna"), TA(browser, server, "ta-ben")
    for ta in (anna, ben):
        ta.open("causal-mask")
    anna.page.keyboard.press("1")
    anna.page.keyboard.press("s")
    expect(anna.page.locator("#student")).to_have_text("Name s02 (s02)")
    ben.page.keyboard.press("2")
    ben.page.keyboard.press("s")
    banner = ben.page.locator("#banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Not saved: this answer was saved meanwhile by ta-anna")
    expect(ben.page.locator("#student")).to_have_text("Name s01 (s01)")  # ben stays on it
    with Reviews.open(out) as rv:
        review = rv.answer("causal-mask", "s01").review
        assert (review.reviewer, review.items, review.version) == ("ta-anna", ["1"], 1)
    banner.locator("text=Load theirs").click()
    expect(ben.page.locator("#item-0")).to_be_checked()
    expect(ben.page.locator("#item-1")).not_to_be_checked()
    for ta in (anna, ben):
        ta.check_clean()


def test_g_grades_a_group_alike_and_an_answer_can_be_split_off(browser, served):
    server, out = served
    ta = TA(browser, server, "ta-anna")
    page = ta.page
    ta.open("why-scale")
    expect(page.locator("#group-text")).to_have_text("1 other answer like this one")
    page.keyboard.press("1")
    page.keyboard.press("g")
    expect(page.locator("#student")).to_have_text("Name s03 (s03)")  # s02 was graded with its group
    expect(page.locator("#where")).to_have_text("why-scale: 2 / 12 reviewed")
    page.keyboard.press("p")
    expect(page.locator("#student")).to_have_text("Name s02 (s02)")
    page.click("#split")
    expect(page.locator("#group")).to_be_hidden()
    with Reviews.open(out) as rv:
        assert [rv.manual_scores(sid)[0].score for sid in ("s01", "s02")] == [2.0, 2.0]
        assert ["s02"] in rv.groups("why-scale") and ["s01"] in rv.groups("why-scale")
    ta.check_clean()


def test_a_models_suggestion_comes_pre_ticked_and_marked_and_a_save_confirms_it(browser, served):
    server, out = served
    with Reviews.open(out) as rv:
        suggestions.store(rv.db, "causal-mask", "s01", rv.answer("causal-mask", "s01").digest, ["2"], "test-model")
    ta = TA(browser, server, "ta-anna")
    ta.open("causal-mask")
    expect(ta.page.locator("#suggestion")).to_be_visible()
    expect(ta.page.locator("#item-1")).to_be_checked()
    expect(ta.page.locator(".rubric .item").nth(1).locator(".badge.suggested")).to_have_text("suggested")
    with Reviews.open(out) as rv:
        assert rv.answer("causal-mask", "s01").review is None  # nothing counts before a TA saves
    ta.page.keyboard.press("1")
    ta.page.keyboard.press("s")
    expect(ta.page.locator("#student")).to_have_text("Name s02 (s02)")
    expect(ta.page.locator("#suggestion")).to_be_hidden()
    with Reviews.open(out) as rv:
        review = rv.answer("causal-mask", "s01").review
        assert (review.items, review.suggested) == (["2", "1"], ["2"])
    ta.check_clean()


def test_hostile_answers_run_nothing(browser, served, tmp_path):
    server, _ = served
    ta = TA(browser, server, "ta-anna")
    page = ta.page
    ta.open("why-scale")
    page.keyboard.press("1")
    page.keyboard.press("s")
    expect(page.locator("#student")).to_have_text("Name s02 (s02)")
    page.keyboard.press("n")  # s03: <script>window.__pwned=1</script>
    expect(page.locator("#answer")).to_contain_text("Scaling keeps the softmax soft.")
    assert page.evaluate("typeof window.__pwned") == "undefined"
    page.keyboard.press("n")  # s04: <img src=x onerror="window.__pwned=1">
    expect(page.locator("#student")).to_have_text("Name s04 (s04)")
    expect(page.locator("#answer")).to_contain_text("Because of the variance.")
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("#answer script, #answer [onerror]").count() == 0
    for n in (5, 6):  # s06: math as MathML
        page.keyboard.press("n")
        expect(page.locator("#student")).to_have_text(f"Name s0{n} (s0{n})")
    expect(page.locator("#answer math")).to_have_count(3)
    page.keyboard.press("1")
    page.keyboard.press("c")
    page.keyboard.type("Right: the variance grows with d_k, so the logits saturate the softmax.")
    page.keyboard.press("Escape")
    page.keyboard.press("?")
    expect(page.locator("#help")).to_be_visible()
    shot = Path(os.environ.get(SCREENSHOT) or tmp_path / "review-page.png")
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    assert page.evaluate("typeof window.__pwned") == "undefined"
    ta.check_clean()


def test_the_course_batch_graded_through_the_page_reaches_the_exports_and_reports(browser, tmp_path):
    """02-attention's ten examples graded in real kernels, one answer graded on the page, then `grader export`:
    the student's total, the Moodle-style CSV column and the feedback report hold the TA's points."""
    import csv
    import json
    import subprocess
    import sys

    from typer.testing import CliRunner

    from grader.cli import app
    from tests.batch.helpers import sandbox_args
    from tests.helpers import REPO

    attention = REPO / "assignments" / "02-attention"
    subs = tmp_path / "subs"
    subs.mkdir()
    for path in (attention / "examples").glob("*.ipynb"):
        shutil.copy(path, subs / path.name)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "grader.cli", "grade", attention, subs, "--out", out, "--quiet", *sandbox_args()]
    graded = subprocess.run(command, capture_output=True, text=True, timeout=600)  # its own event loop
    assert graded.returncode == 0, graded.stdout + graded.stderr
    server = ReviewServer(out)
    server.start()
    try:
        ta = TA(browser, server, "ta-anna")
        page = ta.page
        page.click("text=no-mask")
        ids = sorted(p.stem for p in subs.glob("*.ipynb"))
        expect(page.locator("#student")).to_have_text(ids[0])
        for sid in ids[1 : ids.index("correct") + 1]:  # students in id order, one key press each
            page.keyboard.press("n")
            expect(page.locator("#student")).to_have_text(sid)
        expect(page.locator("#answer")).to_contain_text("copy it")
        page.keyboard.press("1")
        page.keyboard.press("2")
        page.keyboard.press("c")
        page.keyboard.type("Both halves: training and generation.")
        page.keyboard.press("Control+Enter")
        expect(page.locator("#student")).not_to_have_text("correct")
        ta.check_clean()
    finally:
        server.stop()
    exported = CliRunner().invoke(app, ["export", str(out), "--format", "csv", "--format", "moodle-feedback"])
    assert exported.exit_code == 0, exported.output
    automatic = json.loads((out / "results" / "correct.json").read_text())["score"]
    rows = {r["student_id"]: r for r in csv.DictReader((out / "gradebook.csv").open())}
    assert float(rows["correct"]["no-mask"]) == 2.0
    assert float(rows["correct"]["score"]) == automatic + 2.0
    report = (out / "reports" / "correct.html").read_text()
    assert "Both halves: training and generation." in report and "Generation: the future tokens" in report
