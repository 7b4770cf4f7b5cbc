"""Who may talk to the service, as aiohttp middleware.

- Bound to the loopback (the default), the service answers only requests whose ``Host`` is
  a loopback name (a page of another site cannot reach it through DNS rebinding).
- Bound to any other address it needs a token (``$QSIM_SERVE_TOKEN``, else a random one
  printed once at start-up); every request must carry it in the ``X-Qsim-Token`` header or
  the ``qsim_token`` cookie. Opening ``/?token=...`` once sets that cookie (HttpOnly,
  SameSite=Strict) and redirects to ``/``, so the token leaves the address bar; no page
  ever contains it.
- A POST must come from the page itself: ``X-Qsim-Request: 1`` (a header a cross-site form
  cannot send, and a cross-site script cannot without a CORS preflight the service never
  grants) and, when the browser sends ``Origin``, the service's own origin.
- Every answer carries a strict Content-Security-Policy (scripts and styles only from the
  service itself, no inline script), ``no-store`` and no framing.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

TOKEN_ENV = "QSIM_SERVE_TOKEN"
TOKEN_HEADER = "X-Qsim-Token"
TOKEN_COOKIE = "qsim_token"
REQUEST_HEADER = "X-Qsim-Request"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or address) is the loopback."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def service_token(host: str) -> tuple[str | None, bool]:
    """(token, generated) for a service bound to ``host``: None on the loopback, else
    ``$QSIM_SERVE_TOKEN`` or a new random token (``generated`` True: print it once)."""
    if is_loopback(host):
        return None, False
    configured = os.environ.get(TOKEN_ENV, "")
    if configured:
        return configured, False
    return secrets.token_urlsafe(24), True


def _host_name(request: web.Request) -> str:
    return urlsplit(f"//{request.host}").hostname or ""


def _refuse(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text + "\n", headers={"Content-Security-Policy": CSP})


def guard(token: str | None) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """The middleware enforcing the module docstring's rules (``token`` None: loopback)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if token is None and not is_loopback(_host_name(request)):
            return _refuse(421, "qsim serve: this service answers only on the loopback")
        if token is not None:
            offered = request.headers.get(TOKEN_HEADER) or request.cookies.get(TOKEN_COOKIE, "")
            in_query = request.method == "GET" and request.path == "/"
            query_token = request.query.get("token", "") if in_query else ""
            if query_token and hmac.compare_digest(query_token.encode(), token.encode()):
                response = web.HTTPSeeOther("/")
                response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="Strict", path="/")
                return response
            if not hmac.compare_digest(offered.encode(), token.encode()):
                return _refuse(401, "qsim serve: a valid token is required")
        if request.method not in ("GET", "HEAD"):
            origin = request.headers.get("Origin")
            own = f"{request.scheme}://{request.host}"
            if request.headers.get(REQUEST_HEADER) != "1" or (origin and origin != own):
                return _refuse(403, "qsim serve: cross-site request refused")
        response = await handler(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response

    return middleware
