"""http: the one configured HTTP client (User-Agent, pool, timeouts, private-address guard).

httpx gives the API (and respx for tests); the aiohttp transport gives the engine, which costs
about a tenth of httpx's own pool in CPU per request (see bench/poll.py). Decompression
(gzip, deflate, brotli) is httpx's.

Article links come from untrusted feeds, so requests made inside `untrusted()` refuse addresses
that are private, loopback, link-local or otherwise not global, checked after DNS resolution
(a hostname cannot smuggle 127.0.0.1 past the check) and for IP literals before connecting.
"""

from __future__ import annotations

import contextlib
import contextvars
import email.utils
import ipaddress
import socket
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver, ResolveResult
from httpx_aiohttp import AiohttpTransport

from monitor import __version__
from monitor.errors import BlockedAddress

USER_AGENT = (
    f"monitor/{__version__} (self-hosted news alert daemon; +https://pypi.org/project/monitor/)"
)

_guarded: contextvars.ContextVar[bool] = contextvars.ContextVar("monitor_guarded", default=False)


@contextlib.contextmanager
def untrusted(allow_private: bool) -> Iterator[None]:
    """Requests made in this block refuse non-public addresses unless `allow_private`."""
    token = _guarded.set(not allow_private)
    try:
        yield
    finally:
        _guarded.reset(token)


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class _GuardedResolver(AbstractResolver):
    """Resolves as usual, then drops non-public addresses when the request is untrusted."""

    def __init__(self) -> None:
        self._inner = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        if not _guarded.get():
            return found
        allowed = [r for r in found if is_public(r["host"])]
        if not allowed:
            shown = ", ".join(sorted({r["host"] for r in found}))
            raise BlockedAddress(
                f"{host} resolves only to non-public addresses ({shown})", url=f"//{host}"
            )
        return allowed

    async def close(self) -> None:
        await self._inner.close()


class _GuardedTransport(AiohttpTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if _guarded.get():
            host = request.url.host
            try:
                literal = ipaddress.ip_address(host)
            except ValueError:
                literal = None
            if literal is not None and not is_public(str(literal)):
                raise BlockedAddress(f"{host} is not a public address", url=str(request.url))
        try:
            request.content  # noqa: B018 - raises when the body is still a stream
        except httpx.RequestNotRead:
            # httpx builds redirected requests with an unread empty stream; handed on as a
            # stream, aiohttp would send it chunked ("0\r\n\r\n") and poison the keep-alive
            # connection for the next request. Read it so an empty body stays empty.
            await request.aread()
        return await super().handle_async_request(request)


def build_client(
    *,
    timeout: float,
    max_connections: int = 100,
    user_agent: str | None = None,
) -> httpx.AsyncClient:
    """The client every fetch and every HTTP channel shares. Per-host limits are the caller's."""

    def session() -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=max_connections,
            # Cached DNS answers would skip the guard for a host first resolved by a trusted fetch.
            use_dns_cache=False,
            resolver=_GuardedResolver(),
            keepalive_timeout=30,
        )
        return aiohttp.ClientSession(connector=connector, auto_decompress=False)

    transport = _GuardedTransport(client=session)
    return httpx.AsyncClient(
        transport=transport,
        headers={"User-Agent": user_agent or USER_AGENT, "Accept-Encoding": "gzip, deflate, br"},
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0), pool=None),
        follow_redirects=True,
        max_redirects=8,
    )


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """`Retry-After` as seconds from now: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def describe(exc: BaseException, timeout: float | None = None) -> str:
    """A one-line description of a transport error for logs, feed state and alert errors."""
    cause = exc.__cause__
    # The aiohttp transport reports a refused connection as a connect *timeout*; say what it is.
    if isinstance(cause, aiohttp.ClientConnectorError):
        reason = cause.os_error.strerror or str(cause.os_error)
        return f"cannot connect to {cause.host}:{cause.port}: {reason}"
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer within {timeout:g}s" if timeout else "timed out"
    text = str(exc) or exc.__class__.__name__
    return text.splitlines()[0][:300]


def response_header(response: Any, name: str) -> str | None:
    value = response.headers.get(name)
    return str(value) if value is not None else None
