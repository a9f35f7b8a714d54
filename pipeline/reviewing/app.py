"""The review page's web app (FastAPI): a page, its script and style, and a small JSON API
over a `ReviewSession`.

Security: the server binds to loopback unless told otherwise. The address it prints
carries the server's key; opening it sets a same-site, HTTP-only cookie (named for the port,
holding a value derived from the key, never the key) and redirects to the
bare page, which holds a second key for the `X-QCode-CSRF` header that every API call must
send (a cross-site page can neither read the key nor send the header). Requests naming
another host are refused (no DNS rebinding), bodies over 64 KiB get 413, unknown codes
422, and the page is served with a strict Content-Security-Policy: no inline script, no
resources from elsewhere. The page writes every string with `textContent`, never as HTML.
"""

from __future__ import annotations

import hmac
import html
import secrets
from importlib import resources
from typing import Literal

from fastapi import FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware

from .session import ReviewError, ReviewSession

LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]", "::1"]  # the Host names a loopback page answers to

MAX_BODY = 64 * 1024
COOKIE = "qcode_review"  # + "_PORT": each server its own cookie, so a second server never signs the first tab out
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none';"
        " form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}
STATIC = {"app.js": "text/javascript", "style.css": "text/css"}
# each browser tab sends its own random name, so Backspace undoes that tab's decisions only
TAB = Header("", alias="X-QCode-Tab", max_length=64, pattern=r"^[A-Za-z0-9-]*$")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DecideRequest(_Body):
    id: str = Field(min_length=1, max_length=300)
    action: Literal["accept", "reject"]
    codes: list[str] = Field(default_factory=list, max_length=100)
    note: str | None = Field(None, max_length=4000)
    rev: str | None = Field(None, max_length=64)
    model: str | None = Field(
        None, max_length=40, pattern=r"^(batch|live-[0-9]+)$"
    )  # the model whose suggestion was shown
    suggested: list[str] | None = Field(None, max_length=100)  # the codes it pre-selected


class BulkRequest(_Body):
    code: str = Field(min_length=1, max_length=100)
    min_score: float = Field(ge=0.0, le=1.0, allow_inf_nan=False)
    expected: int = Field(ge=0)


def _static(name: str) -> str:
    return (resources.files("pipeline.reviewing") / "static" / name).read_text("utf-8")


class BodyLimit:
    """Refuse request bodies over `limit` bytes (declared, or streamed without a length)
    with 413 before the app sees them."""

    def __init__(self, app, limit: int = MAX_BODY):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            if not declared.isdigit() or int(declared) > self.limit:
                return await _too_large(scope, receive, send, self.limit)
            return await self.app(scope, receive, send)
        messages, size = [], 0
        while True:  # no declared length: read it all first, up to the limit
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if size > self.limit:
                return await _too_large(scope, receive, send, self.limit)
            if message["type"] != "http.request" or not message.get("more_body"):
                break

        async def replay():
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


async def _too_large(scope, receive, send, limit: int) -> None:
    await JSONResponse({"detail": f"request body over {limit} bytes"}, status_code=413, headers=HEADERS)(
        scope, receive, send
    )


def create_app(
    session: ReviewSession, *, token: str | None = None, hosts: list[str] | None = None, port: int | None = None
) -> FastAPI:
    """The app for one session. `token` is the key in the printed address (random if not
    given); `hosts` the Host names accepted (loopback names by default); `port` names the
    cookie. The cookie carries a session value derived from the key, never the key."""
    token = token or secrets.token_urlsafe(32)
    csrf = hmac.new(token.encode(), b"csrf", "sha256").hexdigest()
    cookie = (f"{COOKIE}_{port}" if port else COOKIE, hmac.new(token.encode(), b"session", "sha256").hexdigest())
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.token = token
    app.state.session = session
    _guard(app, cookie, csrf, hosts)
    _page_routes(app, token, cookie, csrf)
    _api_routes(app, session)
    return app


def _same(a: str, b: str) -> bool:
    """Constant-time comparison that is False, not an error, for non-ASCII input."""
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))


def _authorised(request: Request, cookie: tuple[str, str]) -> bool:
    name, value = cookie
    return _same(request.cookies.get(name, ""), value)


def _guard(app: FastAPI, cookie: tuple[str, str], csrf: str, hosts: list[str] | None) -> None:
    """Every request: a loopback Host, a bounded body, and for the API the key's cookie and
    the CSRF header; security headers on every response; review errors as JSON."""

    async def guard(request: Request, call_next):
        if request.url.path.startswith("/api/"):
            if not _authorised(request, cookie):
                return JSONResponse(
                    {"detail": "not signed in: open the address printed by `qcode review serve`"}, 403, headers=HEADERS
                )
            if not _same(request.headers.get("x-qcode-csrf", ""), csrf):
                return JSONResponse({"detail": "missing or wrong X-QCode-CSRF header"}, 403, headers=HEADERS)
        response = await call_next(request)
        for k, v in HEADERS.items():
            response.headers.setdefault(k, v)
        return response

    # the last added runs first: host check, then body size, then keys
    app.add_middleware(BaseHTTPMiddleware, dispatch=guard)
    app.add_middleware(BodyLimit)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=hosts or LOOPBACK_HOSTS)

    @app.exception_handler(ReviewError)
    async def review_error(request: Request, err: ReviewError):
        return JSONResponse({"detail": str(err), **err.extra}, status_code=err.status, headers=HEADERS)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, err: RequestValidationError):
        """422 naming each bad field, never echoing the input (a lone surrogate or a NaN
        in it cannot be written as JSON, which made the default handler fail with 500)."""
        problems = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in err.errors()]
        detail = "; ".join(problems).encode("utf-8", "backslashreplace").decode("utf-8")
        return JSONResponse({"detail": detail}, status_code=422, headers=HEADERS)


def _page_routes(app: FastAPI, token: str, cookie: tuple[str, str], csrf: str) -> None:
    """The page (the key in the address becomes a cookie, then the key leaves the URL) and
    its static files."""

    @app.get("/", response_class=HTMLResponse)
    def page(request: Request, key: str | None = Query(None, max_length=200)):
        if key is not None:
            if not _same(key, token):
                return PlainTextResponse("wrong key: open the address printed by `qcode review serve`", 403)
            response = RedirectResponse("/", status_code=303)
            response.set_cookie(cookie[0], cookie[1], httponly=True, samesite="strict", path="/")
            return response
        if not _authorised(request, cookie):
            return PlainTextResponse(
                "open the address printed by `qcode review serve` (it carries the server's key)", 403
            )
        return HTMLResponse(_static("index.html").replace("{{csrf}}", html.escape(csrf)))

    @app.get("/static/{name}")
    def static(name: str):
        if name not in STATIC:
            return PlainTextResponse("not found", 404)
        return Response(_static(name), media_type=STATIC[name])


def page_state(session: ReviewSession) -> dict:
    """What the page needs once: the reviewer, the file, the codebook, the order."""
    s = session.served
    fields = ("id", "name", "theme", "definition", "include", "exclude")
    return {
        "reviewer": s.reviewer,
        "file": s.path.name,
        "codebook": s.codebook.name,
        "codes": [{f: getattr(c, f) for f in fields} for c in s.codebook.codes],
        "themes": [{"id": t.id, "name": t.name} for t in s.codebook.themes],
        "order": s.order,
        "threshold": s.threshold,
    }


def _api_routes(app: FastAPI, session: ReviewSession) -> None:
    """The JSON API the page calls: thin wrappers over ReviewSession."""

    @app.get("/api/state")
    def state():
        return page_state(session)

    @app.get("/api/queue")
    def queue(order: Literal["queue", "file"] | None = None, code: str | None = Query(None, max_length=100)):
        return {"ids": session.queue(order, code or None)}

    @app.get("/api/passage")
    def passage(id: str = Query(..., max_length=300)):
        return session.passage(id)

    @app.get("/api/examples")
    def examples(code: str = Query(..., max_length=100), exclude: str | None = Query(None, max_length=300)):
        return {"code": code, "examples": session.examples(code, exclude)}

    @app.get("/api/recent")
    def recent():
        return {"recent": session.recent()}

    @app.get("/api/stats")
    def stats():
        return session.stats()

    @app.post("/api/decide")
    def decide(body: DecideRequest, tab: str = TAB):
        shown = (body.model, body.suggested) if body.model is not None and body.suggested is not None else None
        return session.decide(body.id, body.action, body.codes, body.note, body.rev, shown, tab)

    @app.post("/api/undo")
    def undo(tab: str = TAB):
        return session.undo(tab)

    @app.get("/api/bulk")
    def bulk_preview(code: str = Query(..., max_length=100), min_score: float = Query(..., ge=0.0, le=1.0)):
        return session.bulk_preview(code, min_score)

    @app.post("/api/bulk")
    def bulk(body: BulkRequest, tab: str = TAB):
        return session.bulk_accept(body.code, body.min_score, body.expected, tab)
