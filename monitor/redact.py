"""redact: secrets out of text bound for logs, stored errors and terminals.

A secret is a value of the config that must never be shown: a password, a channel's URL (the
path of a Slack webhook is its key, a webhook's `?token=…` is one), a custom header, a value
that a feed URL took from `${VAR}`. Error texts carry them without asking (aiohttp's
`InvalidUrlClientError` quotes the whole URL; a far end may echo its own address), so every
text that leaves for a log line, a stored last error or a terminal goes through `Secrets`,
which replaces each secret by what may be shown in its place: a URL by its scheme and host, a
`${VAR}` value by `${VAR}`, anything else by `***`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, unquote, urlsplit

# Shorter values would mask ordinary words; real secrets are longer.
MIN_SECRET = 6
MASK = "***"
# A path segment that is a key, not a word: long, with digits or capitals ("T0A1B2C3", a token).
_KEYLIKE = re.compile(r"(?=.*[0-9A-Z_])[A-Za-z0-9_\-.~%]{8,}")


class Secrets:
    """Known secrets and what each is shown as; calling it redacts a text."""

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        self._shown: dict[str, str] = {}
        for secret, shown in pairs:
            if len(secret) >= MIN_SECRET and secret != shown:
                self._shown.setdefault(secret, shown)
        # Longest first, so a whole URL is replaced before any piece of it.
        ordered = sorted(self._shown, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(lambda m: self._shown[m.group(0)], text)

    def __bool__(self) -> bool:
        return self._pattern is not None

    def adding(self, pairs: Iterable[tuple[str, str]]) -> Secrets:
        """These secrets and more (known outside the config, such as the web view's token)."""
        return Secrets([*self._shown.items(), *pairs])


def plain(value: str) -> list[tuple[str, str]]:
    """A secret that is not a URL: shown as `***`."""
    return [(value, MASK)]


def of_url(url: str) -> list[tuple[str, str]]:
    """A secret URL and the pieces of it that texts quote, as written and decoded: the URL
    itself (shown as its origin for http(s), else as its scheme: an Apprise URL such as
    `tgram://token/chat` holds its key where a host would be), its path and query, each query
    value, each path segment that looks like a key, and a password in it."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return plain(url)
    web = parts.scheme in ("http", "https") and bool(parts.hostname)
    pairs = [(url, f"{origin(url)}/{MASK}" if web else f"{parts.scheme}://{MASK}")]
    if not web:
        pairs.append((parts.netloc, MASK))
    tail = url[len(f"{parts.scheme}://{parts.netloc}") :]
    for piece in (tail, parts.path):
        if piece not in ("", "/"):
            pairs.append((piece, MASK))
    pairs += [(segment, MASK) for segment in parts.path.split("/") if _KEYLIKE.fullmatch(segment)]
    pairs += [(value, MASK) for _, value in parse_qsl(parts.query)]
    if password:
        pairs.append((password, MASK))
    return [pair for secret, shown in pairs for pair in ((secret, shown), (unquote(secret), shown))]


def password_of(url: str) -> list[tuple[str, str]]:
    """The password in a URL (a database's), as written and decoded."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return []
    return [(password, MASK), (unquote(password), MASK)] if password else []


def origin(url: str) -> str:
    """What may be shown of a secret http(s) URL: its scheme, host and port."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}" if parts.netloc else MASK
