"""links: which links name the same article.

`canonical_url` is the article key a link gives before any page is read; `page_canonical` the
one a page's own `rel=canonical` gives, when it can name this article. Pure functions.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import courlan

_HOST_PREFIX = re.compile(r"^(?:www\d*|m|mobile|amp)\.")
_AMP_PATH = re.compile(r"(?:/amp(?=/|$)|\.amp(?=$|\.html?$)|/amp\.html?$)")
_AMP_PARAMS = frozenset({"amp", "outputtype", "output", "_amp", "amp_js_v", "usqp"})
# Tracking parameters of news sites that courlan's list (utm_*, fbclid, …) leaves in: NYT's
# smid, the Guardian's CMP, MSN's ocid/cvid (a new cvid on every request), BBC's at_*/ns_*, …
_TRACKING = frozenset(
    {"smid", "cmp", "ocid", "cvid", "ito", "taid", "rpc", "ns_mchannel", "ns_source",
     "ns_campaign", "ns_linkname", "ns_fee", "at_medium", "at_campaign", "at_custom1",
     "at_custom2", "at_custom3", "at_custom4", "at_link_id", "at_link_origin", "at_ptr_name"}
)  # fmt: skip
# Parameters that only say the link came from a feed when that is their value (mod=rss).
_FEED_VALUES = frozenset({"rss", "feed", "rssfeed", "rss_feed", "atom", "newsfeed"})
_FROM_FEED = frozenset({"mod", "track", "src", "source", "from", "ref", "feed"})
_HOME = re.compile(r"^/(?:(?:index|default|home)\.\w+)?$", re.IGNORECASE)


def canonical_url(url: str) -> str:
    """A key for "the same page": tracking parameters (utm_*, fbclid, …), fragments, default
    ports, `www.`/`m.`/`amp.` hosts, AMP variants (`/amp/`, `.amp`, `?amp=1`,
    `?outputType=amp`), http vs https and trailing slashes do not make a new article."""
    url = url.strip()
    try:
        # Not strict: strict keeps only courlan's short list of known parameters (id, page, …)
        # and drops the rest, so ?articleId=77 and ?articleId=78 became one article.
        normal = courlan.normalize_url(url, strict=False)
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
    path = _AMP_PATH.sub("", parts.path).rstrip("/") or "/"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not _amp(k, v) and not _tracking(k, v)
    ]
    return urlunsplit(("https", host, path, urlencode(query), ""))


def page_canonical(link: str, declared: str) -> str:
    """The article key from the page's own `rel=canonical`/`og:url`, unless it cannot name this
    article: a site's home page or a section above the link (some sites declare one of those on
    every article, and each article after the first would be taken for it and dropped). Then the
    link decides."""
    page, own = canonical_url(declared), canonical_url(link)
    try:
        target, here = urlsplit(page), urlsplit(own)
    except ValueError:
        return own
    if not target.hostname or (_HOME.match(target.path or "/") and not target.query):
        return own
    above = target.path.rstrip("/") + "/"
    if target.hostname == here.hostname and not target.query and here.path.startswith(above):
        return own
    return page


def _tracking(key: str, value: str) -> bool:
    key = key.lower()
    return key in _TRACKING or (key in _FROM_FEED and value.lower() in _FEED_VALUES)


def _amp(key: str, value: str) -> bool:
    key = key.lower()
    if key in ("outputtype", "output"):
        return value.lower() == "amp"
    return key in _AMP_PARAMS
