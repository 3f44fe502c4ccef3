"""web.access: who may see the web view, and proof that a form came from it.

Safe by default: on a loopback address the view is open (only this machine reaches it); bound
anywhere else it needs credentials from the environment, a token (`MONITOR_WEB_TOKEN`) or a
user and password (`MONITOR_WEB_USER`, `MONITOR_WEB_PASSWORD`; `_FILE` variants read a file),
and without them it refuses every page. /healthz, /readyz and /metrics stay open as before
(orchestrators probe them).

A browser signs in with the token once (a form; the cookie holds an HMAC of the token, never
the token) or with basic auth; scripts send `Authorization: Bearer …`. Every state-changing
request is a POST carrying a CSRF token: an HMAC, under a key of this process, of a random
cookie set with SameSite=Strict, and the request's Origin (when sent) must be this site.

Written by hand: aiohttp has no maintained CSRF middleware, and the whole of it is a cookie and
an HMAC comparison.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

SESSION_COOKIE = "monitor_session"
CSRF_COOKIE = "monitor_csrf"
CSRF_FIELD = "csrf"
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/login", "/static/style.css"})


def _env(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if not value and env.get(f"{name}_FILE"):
        try:
            value = Path(env[f"{name}_FILE"]).read_text(encoding="utf-8").strip()
        except OSError:
            value = None
    return value or None


@dataclass(frozen=True)
class Credentials:
    token: str | None = None
    user: str | None = None
    password: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Credentials:
        env = os.environ if env is None else env
        return cls(
            _env(env, "MONITOR_WEB_TOKEN"),
            _env(env, "MONITOR_WEB_USER"),
            _env(env, "MONITOR_WEB_PASSWORD"),
        )

    @property
    def basic(self) -> bool:
        return bool(self.user and self.password)

    @property
    def any(self) -> bool:
        return bool(self.token) or self.basic

    def secrets(self) -> set[str]:
        return {s for s in (self.token, self.password) if s}

    def session(self) -> str:
        """The sign-in cookie's value: stable across restarts, useless as a token."""
        assert self.token
        return hmac.new(self.token.encode(), b"monitor web session", hashlib.sha256).hexdigest()


def loopback(host: str) -> bool:
    """Whether `host` (of http.listen) is reachable from this machine only. An empty host is
    127.0.0.1 (the daemon binds that)."""
    if host in ("", "localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def allowed(request: web.Request, creds: Credentials) -> bool:
    """Whether the request carries the credentials (when some are configured)."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if creds.token:
        if scheme.lower() == "bearer" and hmac.compare_digest(value.strip(), creds.token):
            return True
        cookie = request.cookies.get(SESSION_COOKIE, "")
        if cookie and hmac.compare_digest(cookie, creds.session()):
            return True
    if creds.basic and scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(value.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        assert creds.user and creds.password
        return hmac.compare_digest(user, creds.user) & hmac.compare_digest(password, creds.password)
    return False


class Csrf:
    """Form tokens bound to a random per-browser cookie under a key of this process (a restart
    makes open forms stale: the page says to reload)."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)

    def cookie(self, request: web.Request) -> tuple[str, bool]:
        """The browser's CSRF cookie, and whether it is new (to be set on the response)."""
        found = request.cookies.get(CSRF_COOKIE, "")
        if len(found) >= 32:
            return found, False
        return secrets.token_urlsafe(32), True

    def token(self, cookie: str) -> str:
        return hmac.new(self._key, cookie.encode(), hashlib.sha256).hexdigest()

    def check(self, request: web.Request, sent: str, public_url: str | None = None) -> bool:
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if not cookie or not sent or not hmac.compare_digest(sent, self.token(cookie)):
            return False
        return same_origin(request, public_url)


def same_origin(request: web.Request, public_url: str | None = None) -> bool:
    """A POST whose Origin (or Referer) names another site than this one (as the request or
    `http.public_url` names it, behind a proxy) is refused; browsers send an Origin."""
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if origin is None:
        return True  # not a browser (a script with a token): nothing to forge
    ours = {request.host}
    if public_url:
        ours.add(urlsplit(public_url).netloc)
    return origin != "null" and urlsplit(origin).netloc in ours


def set_cookie(response: web.StreamResponse, request: web.Request, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="Strict",
        secure=request.secure,
        path="/",
        max_age=30 * 86400,
    )


SECURITY_HEADERS = {
    # No scripts at all; styles only from this site; forms post only here; never in a frame.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    # A click to an article does not tell the outlet our URL; a form here keeps its Origin (with
    # no-referrer a browser sends "Origin: null", which the CSRF check must refuse).
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
