"""The review page's server (Starlette's TestClient, the real gradebook): the token, CSRF, the JSON API, conflicts,
anonymous grading, bad input."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from grader.batch import suggestions
from grader.batch.gradebook import Gradebook
from grader.batch.reviews import Reviews
from grader.grading.answers import collect_answers
from grader.review.app import create_app
from grader.review.auth import CSP, HEADER
from grader.review.serve import ReviewServer
from tests.batch.helpers import fake_result
from tests.review.classbook import QUESTIONS, class_gradebook, notebook

TOKEN = "test-token-0123456789"


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return class_gradebook(tmp_path_factory.mktemp("class"))


def client(out, *, anonymous=False, login=True, app=None) -> TestClient:
    """A browser of the page: ``app`` (one server) for several TAs, a new app otherwise."""
    c = TestClient(app or create_app(out, TOKEN, anonymous=anonymous), base_url="http://127.0.0.1")
    if login:
        c.get(f"/?token={TOKEN}")
    return c


def post(c: TestClient, path: str, body, *, token: str | None = TOKEN):
    headers = {HEADER: token} if token else {}
    if isinstance(body, (dict, list)):
        return c.post(path, json=body, headers=headers)
    return c.post(path, content=body, headers={**headers, "Content-Type": "application/json"})


def keys(c: TestClient, question: str) -> dict[str, dict]:
    """label -> listed answer."""
    return {a["label"]: a for a in c.get(f"/api/answers?question={question}").json()["answers"]}


def test_every_request_without_the_token_or_its_cookie_is_forbidden(out):
    c = client(out, login=False)
    for path in ("/", "/api/questions", "/static/review.js", "/api/answers?question=why-scale"):
        response = c.get(path)
        assert response.status_code == 403, path
        assert response.headers["content-security-policy"] == CSP
    assert c.get("/?token=wrong").status_code == 403
    assert c.get("/?token=" + TOKEN[:-1] + "é").status_code == 403
    c.cookies.set("grader-review-0", TOKEN)  # the token under another server's cookie name
    assert c.get("/api/questions").status_code == 403


def test_the_token_sets_a_strict_httponly_cookie_and_leaves_the_url(out):
    c = client(out, login=False)
    response = c.get(f"/?token={TOKEN}", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    page = c.get("/")
    assert page.status_code == 200 and page.headers["content-security-policy"] == CSP
    assert page.headers["referrer-policy"] == "no-referrer"


def test_the_page_loads_nothing_from_elsewhere_and_has_no_inline_script_or_style(out):
    c = client(out)
    page = c.get("/").text
    assert re.findall(r"<script(?![^>]*\ssrc=\"/static/)", page) == []
    assert re.findall(r"\sstyle=|\son\w+=", page) == []
    assert re.findall(r"(?:src|href)=\"(?!/static/|#|data:)", page) == []
    for asset in ("review.js", "review.css"):
        response = c.get(f"/static/{asset}")
        assert response.status_code == 200 and "http" not in response.text
    assert c.get("/static/page.html.j2").status_code == 404


def test_a_post_needs_the_token_header_too(out):
    c = client(out)
    answer = keys(c, "why-scale")["Name s10 (s10)"]
    body = {"question": "why-scale", "key": answer["key"], "items": ["1"], "who": "ta", "base_version": 0}
    assert post(c, "/api/review", body, token=None).status_code == 403
    assert post(c, "/api/review", body, token="wrong").status_code == 403
    assert keys(c, "why-scale")["Name s10 (s10)"]["review"] is None


def test_questions_list_their_progress_and_rubric(out):
    questions = client(out).get("/api/questions").json()["questions"]
    assert [(q["name"], q["total"]) for q in questions] == [("why-scale", 12), ("causal-mask", 12)]
    text = "Does not say that the dot product's variance grows with d_k"
    assert questions[0]["rubric"][1] == {"item": "2", "points": -1.0, "text": text, "version": 1}
    assert "<math" in questions[0]["prompt_html"]


def test_an_answer_comes_rendered_with_its_status(out):
    c = client(out)
    listed = keys(c, "why-scale")
    missing = c.get(f"/api/answer?question=why-scale&key={listed['Name s05 (s05)']['key']}").json()
    assert missing["status"] == "missing" and "deleted" in missing["note"]
    hostile = c.get(f"/api/answer?question=why-scale&key={listed['Name s03 (s03)']['key']}").json()
    assert "<script" not in hostile["html"] and "Scaling keeps the softmax soft." in hostile["html"]
    assert listed["Name s01 (s01)"]["group_size"] == 2


def test_two_tas_saving_one_answer_get_a_conflict_and_nothing_is_lost(out):
    app = create_app(out, TOKEN)
    anna, ben = client(out, app=app), client(out, app=app)
    key = keys(anna, "causal-mask")["Name s01 (s01)"]["key"]
    body = {"question": "causal-mask", "key": key, "items": ["1"], "comment": "Good.", "base_version": 0}
    first = post(anna, "/api/review", {**body, "who": "ta-anna"})
    assert first.status_code == 200 and first.json()["review"]["version"] == 1
    second = post(ben, "/api/review", {**body, "items": ["2"], "who": "ta-ben"})
    assert second.status_code == 409
    conflict = second.json()
    assert conflict["current"]["reviewer"] == "ta-anna" and conflict["current"]["items"] == ["1"]
    assert "ta-anna" in conflict["error"]
    with Reviews.open(out) as rv:
        stored = rv.answer("causal-mask", "s01").review
    assert (stored.reviewer, stored.items) == ("ta-anna", ["1"])
    again = post(ben, "/api/review", {**body, "items": ["2"], "who": "ta-ben", "base_version": 1})
    assert again.status_code == 200 and again.json()["review"]["version"] == 2


@pytest.mark.parametrize(
    "body, message",
    [
        (b"{not json", "Invalid JSON"),
        (b"[]", "body"),
        ({"question": "why-scale", "key": "k", "items": "1", "who": "ta", "base_version": 0}, "items"),
        ({"question": "why-scale", "key": "k", "items": [], "who": "", "base_version": 0}, "who"),
        ({"question": "why-scale", "key": "k", "items": [], "who": "ta", "base_version": -1}, "base_version"),
        ({"question": "why-scale", "key": "k", "items": [], "who": "ta", "base_version": 0, "x": 1}, "x"),
        ({"question": "why-scale", "key": "k", "items": [], "who": "ta", "base_version": "0"}, "base_version"),
        ({"question": "nope", "key": "k", "items": [], "who": "ta", "base_version": 0}, "no manual question"),
        ({"question": "why-scale", "key": "k", "items": [], "who": "ta", "base_version": 0}, "no answer with key"),
    ],
)
def test_bad_input_is_a_400_with_one_line(out, body, message):
    response = post(client(out), "/api/review", body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert message in error and "\n" not in error


def test_an_unknown_rubric_item_and_a_huge_body_are_refused(out):
    c = client(out)
    key = keys(c, "why-scale")["Name s12 (s12)"]["key"]
    body = {"question": "why-scale", "key": key, "items": ["99"], "who": "ta", "base_version": 0}
    assert "no rubric item" in post(c, "/api/review", body).json()["error"]
    huge = post(c, "/api/review", {**body, "items": [], "comment": "x" * 2_000_000})
    assert huge.status_code == 400 and "larger than" in huge.json()["error"]


def test_a_rubric_edit_applies_to_every_answer_and_conflicts_are_refused(tmp_path):
    out = class_gradebook(tmp_path)
    c = client(out)
    listed = keys(c, "why-scale")
    for label in ("Name s04 (s04)", "Name s08 (s08)"):
        body = {"question": "why-scale", "key": listed[label]["key"], "items": ["1", "2"], "who": "ta"}
        assert post(c, "/api/review", {**body, "base_version": 0}).status_code == 200
    edit = {"question": "why-scale", "item": "2", "points": -0.5, "text": "No variance argument", "who": "ta"}
    assert post(c, "/api/rubric", {**edit, "base_version": 1}).json()["item"]["version"] == 2
    assert [keys(c, "why-scale")[label]["score"] for label in ("Name s04 (s04)", "Name s08 (s08)")] == [1.5, 1.5]
    stale = post(c, "/api/rubric", {**edit, "points": -2, "base_version": 1})
    assert stale.status_code == 409 and stale.json()["current"]["points"] == -0.5
    added = post(c, "/api/rubric", {"question": "why-scale", "points": 0.5, "text": "Cites the paper", "who": "ta"})
    assert added.json()["item"]["item"] == "3"
    with Reviews.open(out) as rv:
        assert [s.score for s in rv.manual_scores("s04")] == [1.5, 0.0]
        assert [a["action"] for a in rv.audit("why-scale")][-2:] == ["edit item", "add item"]


def test_a_group_is_graded_alike_and_can_be_split(tmp_path):
    out = class_gradebook(tmp_path)
    c = client(out)
    listed = keys(c, "why-scale")
    group = [a for a in listed.values() if a["group"] == listed["Name s01 (s01)"]["group"]]
    versions = {a["key"]: 0 for a in group}
    saved = post(c, "/api/group", {"question": "why-scale", "versions": versions, "items": ["1"], "who": "ta"})
    assert saved.status_code == 200 and len(saved.json()["reviews"]) == 2
    again = post(c, "/api/group", {"question": "why-scale", "versions": versions, "items": [], "who": "ta-ben"})
    assert again.status_code == 409 and again.json()["current"]["reviewer"] == "ta"
    split = {"question": "why-scale", "key": listed["Name s02 (s02)"]["key"], "who": "ta"}
    assert post(c, "/api/split", split).status_code == 200
    assert keys(c, "why-scale")["Name s02 (s02)"]["group_size"] == 1
    with Reviews.open(out) as rv:
        assert [rv.manual_scores(s)[0].score for s in ("s01", "s02")] == [2.0, 2.0]


def test_anonymous_grading_shows_neither_names_nor_ids(out):
    c = client(out, anonymous=True)
    listing = c.get("/api/answers?question=why-scale").text
    assert "Student 1" in listing and "Student 12" in listing
    assert "Name s" not in listing and not re.search(r"\bs\d\d\b", listing)
    first = c.get("/api/answers?question=why-scale").json()["answers"][0]
    assert first["label"] == "Student 1"
    body = c.get(f"/api/answer?question=why-scale&key={first['key']}").text
    assert "Name s" not in body and not re.search(r"\bs\d\d\b", body)


def test_the_server_binds_a_free_local_port_and_prints_a_url_with_the_token(out):
    server = ReviewServer(out)
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/\?token=[\w-]{32}", server.url)
        assert not server.shared and server.socket.getsockname()[0] == "127.0.0.1"
    finally:
        server.socket.close()


def test_the_page_works_while_the_grader_holds_its_lock_and_records_a_resubmission(tmp_path):
    out = class_gradebook(tmp_path)
    c = client(out)
    key = keys(c, "why-scale")["Name s10 (s10)"]["key"]
    with Gradebook.open(out) as gb:  # what `grader grade` holds while it grades
        body = {"question": "why-scale", "key": key, "items": ["1"], "who": "ta", "base_version": 0}
        assert post(c, "/api/review", body).status_code == 200
        assert keys(c, "why-scale")["Name s10 (s10)"]["to_review"] is False
        run = gb.start_run(jobs=1, isolation="local", source="x", layout="folder", issues=[])
        answers = collect_answers(notebook(tmp_path, "s10", ("A new answer.", "Leaks.")), QUESTIONS)
        gb.record(run, fake_result("s10", {"greedy_next_token: random": True}), "fp2", answers)
        again = keys(c, "why-scale")["Name s10 (s10)"]
    assert again["to_review"] is True and again["review"]["version"] == 1  # reviewed, but another answer


def test_a_models_suggestion_is_shown_apart_and_counts_only_once_a_ta_saves(tmp_path):
    out = class_gradebook(tmp_path)
    with Reviews.open(out) as rv:
        suggestions.store(rv.db, "why-scale", "s08", rv.answer("why-scale", "s08").digest, ["2"], "test-model")
    c = client(out)
    listed = keys(c, "why-scale")["Name s08 (s08)"]
    assert listed["suggested"] == ["2"] and listed["review"] is None and listed["to_review"]
    shown = c.get(f"/api/answer?question=why-scale&key={listed['key']}").json()
    assert (shown["suggested"], shown["to_review"]) == (["2"], True)
    with Reviews.open(out) as rv:
        assert rv.manual_scores("s08")[0].reviewed is False
    body = {"question": "why-scale", "key": listed["key"], "items": ["1", "2"], "who": "ta", "base_version": 0}
    assert post(c, "/api/review", body).json()["review"]["suggested"] == ["2"]  # what the TA had in front of them
