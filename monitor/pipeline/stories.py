"""stories: the keys that say two articles are the same: a canonical URL and a text fingerprint.

Same entry is the store's (feed, guid) constraint; same article is the canonical URL or the text
fingerprint computed here; same story is decided in `monitor.storage.stories` from these keys.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import urlsplit, urlunsplit

import courlan

_HOST_PREFIX = re.compile(r"^(?:www\d*|m|mobile|amp)\.")
_WORD = re.compile(r"\w+")


def canonical_url(url: str) -> str:
    """A key for "the same page": tracking parameters (utm_*, fbclid, …), fragments, default
    ports, `www.`/`m.` hosts, http vs https and trailing slashes do not make a new article."""
    url = url.strip()
    try:
        normal = courlan.normalize_url(url, strict=True)
    except (ValueError, TypeError, AttributeError):
        normal = url
    try:
        parts = urlsplit(normal)
        port = parts.port
    except ValueError:  # e.g. an unbalanced IPv6 bracket or a non-numeric port
        return url
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return url
    host = _HOST_PREFIX.sub("", parts.hostname.lower())
    if port and port not in (80, 443):
        host = f"{host}:{port}"
    path = parts.path.rstrip("/") or "/"
    return urlunsplit(("https", host, path, parts.query, ""))


def text_hash(title: str, text: str) -> str:
    """Fingerprint of an article's words: identical reports hash alike whatever their markup,
    spacing, case or accents. A substantial body is enough on its own (outlets retitle wire
    copy); a short one is too generic, so the title is counted too."""
    basis = text if len(text) >= 200 else f"{title}\n{text}"
    folded = unicodedata.normalize("NFKD", basis).casefold()
    words = _WORD.findall("".join(c for c in folded if not unicodedata.combining(c)))
    return hashlib.sha256(" ".join(words).encode()).hexdigest()
