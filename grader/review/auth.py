"""Who may use the review page: whoever holds the token printed with its URL.

The printed URL carries the token (``/?token=...``). The first request with it gets a cookie holding the token
(HttpOnly: no script reads it; SameSite=Strict: no other site's page sends it) and is redirected to the same URL
without the token, so that it does not stay in the address bar or the history. After that, every request needs
the cookie; a POST also needs the token in the :data:`HEADER` header, which the page's own script sends and a
form on another site cannot (CSRF). Anything else is 403.

Every response carries :data:`SECURITY_HEADERS`: a strict Content-Security-Policy (only the app's own script and
style; images only from the app or data: URIs; nothing framed, nothing fetched elsewhere), so that markup that
got past the sanitizer still could not run a script or send a student's answer anywhere.
"""

from __future__ import annotations

import hashlib
import secrets

from starlette.datastructures import URL
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

HEADER = "X-Review-Token"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}


def cookie_name(token: str) -> str:
    """One cookie per server: two review pages on one host (other ports) do not log each other out."""
    return "grader-review-" + hashlib.sha256(token.encode()).hexdigest()[:12]


def same(given: str | None, token: str) -> bool:
    return given is not None and secrets.compare_digest(given.encode(), token.encode())


class TokenAuth(BaseHTTPMiddleware):
    """The token check in front of every route, and the security headers on every response."""

    def __init__(self, app, token: str):
        super().__init__(app)
        self.token, self.cookie = token, cookie_name(token)

    async def dispatch(self, request: Request, call_next) -> Response:
        response = await self._checked(request, call_next)
        response.headers.update(SECURITY_HEADERS)
        return response

    async def _checked(self, request: Request, call_next) -> Response:
        given = request.query_params.get("token")
        if given is not None and request.method == "GET":
            if not same(given, self.token):
                return _forbidden()
            return self._login(request.url)
        if not same(request.cookies.get(self.cookie), self.token):
            return _forbidden()
        if request.method not in ("GET", "HEAD") and not same(request.headers.get(HEADER), self.token):
            return _forbidden()
        return await call_next(request)

    def _login(self, url: URL) -> Response:
        rest = url.remove_query_params("token")
        response = RedirectResponse(rest.path + (f"?{rest.query}" if rest.query else ""), 303)  # relative
        response.set_cookie(self.cookie, self.token, httponly=True, samesite="strict", path="/")
        return response


def _forbidden() -> Response:
    return PlainTextResponse("forbidden: open the review page with the URL that 'grader review' printed", 403)
