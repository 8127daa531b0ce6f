"""The review page as a Starlette application: the page, its own script and style, and the JSON API.

Everything the page loads comes from here (no CDN: it works offline). Only GET and POST routes exist; every
request goes through :class:`grader.review.auth.TokenAuth`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from functools import partial
from pathlib import Path

import jinja2
from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from grader.common.templates import template_folder
from grader.errors import GraderError
from grader.review import api
from grader.review.auth import HEADER, TokenAuth
from grader.review.payloads import RubricEdit, SaveGroup, SaveReview, Split, one_line

ASSETS = {"review.js": "text/javascript; charset=utf-8", "review.css": "text/css; charset=utf-8"}
MAX_BODY = 1_000_000  # bytes of a request body


def create_app(out: Path, token: str, *, anonymous: bool = False) -> Starlette:
    """The app for output folder ``out``, opened with ``token``."""
    settings = api.Settings(out, anonymous, secrets.token_bytes(16))
    folder = template_folder() / "review"
    page = jinja2.Environment(loader=jinja2.FileSystemLoader(folder), autoescape=True).get_template("page.html.j2")
    html = page.render(token=token, header=HEADER, anonymous=anonymous)

    def get(call: Callable[[api.Settings, Request], dict]):
        async def endpoint(request: Request) -> Response:
            return await _answered(partial(call, settings, request))

        return endpoint

    def post(call: Callable, model: type[BaseModel]):
        async def endpoint(request: Request) -> Response:
            raw = b""
            async for chunk in request.stream():  # read no more than MAX_BODY
                raw += chunk
                if len(raw) > MAX_BODY:
                    return _error(400, f"bad request: the body is larger than {MAX_BODY:,} bytes")
            try:
                body = model.model_validate_json(raw)
            except ValidationError as exc:
                return _error(400, one_line(exc))
            return await _answered(partial(call, settings, body))

        return endpoint

    async def index(request: Request) -> Response:
        return HTMLResponse(html)

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS:
            return _error(404, "not found")
        return Response((folder / name).read_bytes(), media_type=ASSETS[name])

    routes = [
        Route("/", index),
        Route("/static/{name}", asset),
        Route("/api/questions", get(lambda s, r: api.questions(s))),
        Route("/api/answers", get(lambda s, r: api.answers(s, _param(r, "question")))),
        Route("/api/answer", get(lambda s, r: api.answer(s, _param(r, "question"), _param(r, "key")))),
        Route("/api/review", post(api.save_review, SaveReview), methods=["POST"]),
        Route("/api/group", post(api.save_group, SaveGroup), methods=["POST"]),
        Route("/api/split", post(api.split, Split), methods=["POST"]),
        Route("/api/rubric", post(api.edit_rubric, RubricEdit), methods=["POST"]),
    ]
    return Starlette(routes=routes, middleware=[Middleware(TokenAuth, token=token)])


async def _answered(call: Callable[[], dict]) -> Response:
    """Run a gradebook call in the thread pool: 200 with its JSON, 409 on a conflict, 400 on a refusal."""
    try:
        return JSONResponse(await run_in_threadpool(call))
    except api.Refused as exc:
        return JSONResponse(exc.body, 409)
    except GraderError as exc:
        return _error(400, str(exc))


def _param(request: Request, name: str) -> str:
    value = request.query_params.get(name)
    if not value:
        raise GraderError(f"bad request: the query parameter {name!r} is missing")
    return value


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status)
