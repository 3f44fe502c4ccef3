"""http: the one configured HTTP client (User-Agent, pools, timeouts, private-address guard)
and the capped reading of response bodies.

httpx gives the API (and respx for tests); the aiohttp transport gives the engine, which costs
about a tenth of httpx's own pool in CPU per request (see bench/poll.py).

Article links come from untrusted feeds, so requests made inside `untrusted()` refuse addresses
that are private, loopback, link-local or otherwise not global (IPv6 forms that carry such an
IPv4 address included), checked after DNS resolution (a hostname cannot smuggle 127.0.0.1 past
the check) and for IP literals before connecting. Those requests go through a connection pool
of their own, every connection of which the guard approved: a keep-alive connection that a feed
or a channel opened to a local host is never reused for them.

Bodies are read with `read_body`, which undoes the Content-Encoding itself, a bounded piece at a
time, and stops at the size cap: httpx's decoders expand a whole network chunk at once, so a
1,800-byte brotli body could take a gigabyte of memory before any count.
"""

from __future__ import annotations

import contextlib
import contextvars
import email.utils
import ipaddress
import socket
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import aiohttp
import brotli
import httpx
from aiohttp.abc import AbstractResolver, ResolveResult
from httpx_aiohttp import AiohttpTransport

from monitor import __version__
from monitor.errors import BlockedAddress, FetchError, TooLarge

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


_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def is_public(address: str) -> bool:
    """Whether `address` is a global unicast address, and so is every IPv4 address it carries
    (IPv4-mapped and -compatible, 6to4, Teredo, NAT64): `64:ff9b::7f00:1` reaches 127.0.0.1
    through a NAT64 gateway, and Python calls it global."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner and not all(is_public(str(v4)) for v4 in inner):
            return False
        if ip.ipv4_mapped is not None:
            return True  # its IPv4 address is public
    return ip.is_global and not ip.is_multicast


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    found = [a for a in (ip.ipv4_mapped, ip.sixtofour) if a is not None]
    if ip.teredo is not None:
        found += ip.teredo
    low32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    compatible = ip in _IPV4_COMPATIBLE and int(ip) > 1  # ::a.b.c.d (not :: or ::1)
    if compatible or any(ip in net for net in _NAT64):
        found.append(low32)
    return found


class _GuardedResolver(AbstractResolver):
    """Resolves as usual, then drops non-public addresses. Used by the guarded pool only, so
    every connection in that pool went to an address the guard approved."""

    def __init__(self) -> None:
        self._inner = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        allowed = [r for r in found if is_public(r["host"])]
        if not allowed:
            shown = ", ".join(sorted({r["host"] for r in found}))
            raise BlockedAddress(
                f"{host} resolves only to non-public addresses ({shown})", url=f"//{host}"
            )
        return allowed

    async def close(self) -> None:
        await self._inner.close()


class _Transport(AiohttpTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            request.content  # noqa: B018 - raises when the body is still a stream
        except httpx.RequestNotRead:
            # httpx builds redirected requests with an unread empty stream; handed on as a
            # stream, aiohttp would send it chunked ("0\r\n\r\n") and poison the keep-alive
            # connection for the next request. Read it so an empty body stays empty.
            await request.aread()
        return await super().handle_async_request(request)


class _GuardedTransport(httpx.AsyncBaseTransport):
    """Two pools: requests made inside `untrusted()` go through one whose resolver refuses
    non-public addresses (IP literals are checked here, before any connection); the others
    (feeds, channels: the operator's own choice) through the other."""

    def __init__(self, max_connections: int) -> None:
        def session(guarded: bool) -> aiohttp.ClientSession:
            connector = aiohttp.TCPConnector(
                limit=max_connections,
                use_dns_cache=False,
                resolver=_GuardedResolver() if guarded else aiohttp.ThreadedResolver(),
                keepalive_timeout=30,
            )
            return aiohttp.ClientSession(connector=connector, auto_decompress=False)

        self.trusted = _Transport(client=lambda: session(False))
        self.guarded = _Transport(client=lambda: session(True))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not _guarded.get():
            return await self.trusted.handle_async_request(request)
        host = request.url.host
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None and not is_public(str(literal)):
            raise BlockedAddress(f"{host} is not a public address", url=str(request.url))
        return await self.guarded.handle_async_request(request)

    async def aclose(self) -> None:
        await self.trusted.aclose()
        await self.guarded.aclose()


MAX_REDIRECTS = 8


def build_client(
    *,
    timeout: float,
    max_connections: int = 100,
    user_agent: str | None = None,
) -> httpx.AsyncClient:
    """The client every fetch and every HTTP channel shares. Per-host limits are the caller's.
    Redirects are followed by the callers (`fetch`, `Channel.post`), which read no redirect's
    body and decide where a request may go next."""
    return httpx.AsyncClient(
        transport=_GuardedTransport(max_connections),
        headers={"User-Agent": user_agent or USER_AGENT, "Accept-Encoding": "gzip, deflate, br"},
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0), pool=None),
        follow_redirects=False,
        max_redirects=MAX_REDIRECTS,
    )


# -- bodies ----------------------------------------------------------------------------------

PIECE = 64 * 1024  # the most any decoding step hands on at once
MAX_ENCODINGS = 2  # `Content-Encoding: gzip, gzip` is legal; more is an attack, not a server


class _Step(Protocol):
    def push(self, data: bytes) -> None: ...

    def pull(self, limit: int) -> bytes:
        """Up to about `limit` bytes of output; b"" when it needs more input."""
        ...


class _Zlib:
    """gzip (`wbits` 16+15, members one after another) or deflate (zlib-wrapped, or raw when
    the first bytes say so, as some servers send it)."""

    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        self._wbits = zlib.MAX_WBITS | 16 if gzip else zlib.MAX_WBITS
        self._d = zlib.decompressobj(self._wbits)
        self._input = b""
        self._started = False

    def push(self, data: bytes) -> None:
        self._input += data

    def pull(self, limit: int) -> bytes:
        if self._d.eof:
            rest = self._d.unused_data + self._input
            if not (self._gzip and rest.startswith(b"\x1f\x8b")):
                self._input = b""  # what follows the stream is ignored, as browsers do
                return b""
            self._d, self._input = zlib.decompressobj(self._wbits), rest
        if not self._input:
            return b""
        try:
            out = self._d.decompress(self._input, limit)
        except zlib.error:
            if self._gzip or self._started:
                raise
            self._wbits = -zlib.MAX_WBITS  # raw deflate
            self._d = zlib.decompressobj(self._wbits)
            out = self._d.decompress(self._input, limit)
        self._started = True
        self._input = self._d.unconsumed_tail
        return out


class _Brotli:
    def __init__(self) -> None:
        self._d = brotli.Decompressor()
        self._input = b""

    def push(self, data: bytes) -> None:
        self._input += data

    def pull(self, limit: int) -> bytes:
        if not self._d.can_accept_more_data():  # output still waiting from the last input
            return bytes(self._d.process(b"", output_buffer_limit=limit))
        data, self._input = self._input, b""
        return bytes(self._d.process(data, output_buffer_limit=limit)) if data else b""


_DECODERS: dict[str, Callable[[], _Step]] = {
    "gzip": lambda: _Zlib(True),
    "x-gzip": lambda: _Zlib(True),
    "deflate": lambda: _Zlib(False),
    "br": _Brotli,
}


class _Decoding:
    """A Content-Encoding undone step by step, each step asked for at most `PIECE` bytes, so
    memory holds a piece per step and the decoders' windows, never a whole expansion."""

    def __init__(self, header: str | None) -> None:
        names = [n.strip().lower() for n in (header or "").split(",")]
        names = [n for n in names if n and n != "identity"]
        if len(names) > MAX_ENCODINGS:
            raise ValueError(f"{len(names)} content encodings one over another")
        unknown = [n for n in names if n not in _DECODERS]
        if unknown:
            raise ValueError(f"unsupported content encoding {unknown[0]!r}")
        # Encodings are listed in the order they were applied: undo the last first.
        self.steps: list[_Step] = [_DECODERS[n]() for n in reversed(names)]
        self._input = b""

    def push(self, data: bytes) -> None:
        if self.steps:
            self.steps[0].push(data)
        else:
            self._input += data

    def pull(self, limit: int) -> bytes:
        if not self.steps:
            out, self._input = self._input[:limit], self._input[limit:]
            return out
        return self._pull(len(self.steps) - 1, limit)

    def _pull(self, index: int, limit: int) -> bytes:
        step = self.steps[index]
        while True:
            out = step.pull(limit)
            if out or index == 0:
                return out
            more = self._pull(index - 1, PIECE)
            if not more:
                return b""
            step.push(more)


async def read_body(response: httpx.Response, max_bytes: int, *, cut: bool = False) -> bytes:
    """The decoded body of a streamed response, at most `max_bytes` of it: past that, TooLarge,
    or with `cut` the first `max_bytes` (a channel's answer, of which a line is kept). Memory
    stays within `max_bytes` plus a piece per decoding step and the decoders' own windows
    (brotli's is 16 MiB at most), however far the body would expand."""
    url = str(response.url)
    try:
        decoding = _Decoding(response.headers.get("content-encoding"))
    except ValueError as exc:
        raise FetchError(str(exc), url=url) from None
    out = bytearray()
    try:
        async for chunk in response.aiter_raw():
            decoding.push(chunk)
            while piece := decoding.pull(min(PIECE, max_bytes - len(out) + 1)):
                out += piece
                if len(out) > max_bytes:
                    if cut:
                        return bytes(out[:max_bytes])
                    raise TooLarge(f"body grew past {max_bytes:,} bytes", url=url)
    except (zlib.error, brotli.error) as exc:
        encoding = response.headers.get("content-encoding", "")
        raise FetchError(f"cannot decode the {encoding} body: {exc}", url=url) from None
    return bytes(out)


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
