"""listing: bytes of an HTML listing page (a section front, a "latest" page) → its articles as
entries. No network, no database.

With selectors (`Selectors`: CSS for the item, and within it the link, headline and date), each
item is one entry. Without them, the page's main content (`<main>`, `role="main"`, else the body
less its header, navigation, asides and footer) is searched for links whose URL looks like an
article's (`looks_like_article`) on the page's own site, with the link's text, or the headline
beside an image link, as the title, and the nearest `<time>` as the date.

An entry's guid is its article URL and its summary is empty, so the pipeline fetches and
extracts each new article as for a summary-only feed. lxml + cssselect, not selectolax: both
read a real-sized section page in a few milliseconds (bench/listing.py: 3.6 against 2.0 ms for
200 cards), while cssselect's parser says where a selector is wrong (`monitor check`), which
selectolax does not (it accepts `a[href` silently), and lxml is what the feed path parses with.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Container
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.html
from cssselect import GenericTranslator
from lxml import etree

from monitor.pipeline.parse_raw import RawEntry, RawFeed, RawItem, ReadyItem, parse_date
from monitor.pipeline.parse_raw import resolve_link as _resolve
from monitor.pipeline.sanitize import collapse

MAX_ITEMS = 200  # entries read from one page at most (a front page has under 200 articles)
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)
# Regions of a page that are not its content (the default reading skips links inside them).
_CHROME_TAGS = frozenset({"header", "nav", "footer", "aside", "form"})
_CHROME_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search"})
# First path segments of pages that list or describe rather than report.
_NOT_ARTICLES = frozenset(
    "tag tags topic topics author authors category categories section sections page search "
    "login signin register subscribe subscription account about contact privacy terms cookies "
    "newsletter newsletters archive archives feed rss help jobs careers advertise shop".split()
)
_DATE_PATH = re.compile(r"/(19|20)\d\d[/-](0?[1-9]|1[0-2])([/-]|$)|/(19|20)\d{6}(/|$|[-_])")
_LONG_ID = re.compile(r"(^|[/_.-])\d{5,}($|[/_.-])")
_WORD_SPLIT = re.compile(r"[-_+]+")
_EXTENSION = re.compile(r"\.(s?html?|php|aspx?|cms)$", re.I)


def compile_selector(css: str) -> etree.XPath:
    """A CSS selector as XPath relative to an element (the element itself included)."""
    return etree.XPath(GenericTranslator().css_to_xpath(css, prefix="descendant-or-self::"))


def looks_like_article(url: str, page_url: str) -> bool:
    """Whether `url` reads like an article's address on the page's own site: a date in the
    path (/2025/04/16/, /20250416-), a numeric id of five digits or more, or a last segment
    that is a slug of three words or more; and not a tag, author, section, paging or
    service page."""
    parts, page = urlsplit(url), urlsplit(page_url)
    if not same_site(parts.hostname or "", page.hostname or ""):
        return False
    segments = [s for s in parts.path.split("/") if s]
    if not segments or segments[0].lower() in _NOT_ARTICLES:
        return False
    if parts.path.rstrip("/") == page.path.rstrip("/"):
        return False
    if (_DATE_PATH.search(parts.path) and len(segments) >= 3) or _LONG_ID.search(parts.path):
        return True
    slug = _EXTENSION.sub("", segments[-1])
    return len([w for w in _WORD_SPLIT.split(slug) if w]) >= 3


def same_site(host: str, page_host: str) -> bool:
    """The same host, or one a subdomain of the other once a leading www. is dropped."""
    host, page_host = host.lower().removeprefix("www."), page_host.lower().removeprefix("www.")
    return bool(host) and (
        host == page_host or host.endswith("." + page_host) or page_host.endswith("." + host)
    )


def read_listing(
    body: bytes,
    url: str,
    content_type: str | None = None,
    *,
    item: etree.XPath | None = None,
    link: etree.XPath | None = None,
    title: etree.XPath | None = None,
    date: etree.XPath | None = None,
    known: Container[bytes] = (),
) -> RawFeed:
    """The entries of one listing page fetched from `url`: by the compiled selectors
    (`compile_selector`) when `item` is given, else by the default reading."""
    try:
        root = _document(body, content_type)
    except (etree.ParserError, ValueError) as exc:
        return RawFeed([], "html", error=f"not an HTML page: {exc}"[:200])
    base = next((b.get("href") for b in root.iter("base") if b.get("href")), None)
    page_url = urljoin(url, base.strip()) if base else url
    if item is not None:
        found = _by_selectors(root, page_url, item, link, title, date)
    else:
        found = _by_default(root, page_url)
    items: list[RawItem] = []
    hashes: list[bytes] = []
    skipped: list[bytes] = []
    for entry_url, headline, when in found[:MAX_ITEMS]:
        digest = hashlib.blake2b(
            f"{entry_url}\0{headline}\0{when}".encode("utf-8", "surrogatepass"), digest_size=8
        ).digest()
        if digest in known:
            skipped.append(digest)
            continue
        published = parse_date(when) if when else None
        entry = RawEntry(headline, False, "", False, (), published, None, (), None)
        items.append(ReadyItem(entry_url, entry, entry_url))
        hashes.append(digest)
    title_el = root.find(".//title")
    page_title = collapse(title_el.text_content()) if title_el is not None else None
    error = None
    if not found:
        error = (
            "no items matched the item selector" if item is not None else "no article links found"
        )
    return RawFeed(
        items,
        "html",
        title=page_title or None,
        link=url,
        error=error,
        item_hashes=hashes,
        skipped=skipped,
    )


def _document(body: bytes, content_type: str | None) -> Any:
    """The parsed page; the HTTP charset, when given, wins over what the page declares."""
    charset = _CHARSET.search(content_type or "")
    parser = None
    if charset:
        try:
            "".encode(charset.group(1))
            parser = lxml.html.HTMLParser(encoding=charset.group(1))
        except LookupError:
            parser = None
    return lxml.html.document_fromstring(body, parser=parser)


Found = tuple[str, str, str]  # (article URL, headline, date as written)


def _text(el: Any) -> str:
    return collapse(el.text_content()) if el is not None else ""


def _date_of(el: Any) -> str:
    """A date element's machine-readable value (`datetime`, `content`) or else its text."""
    if el is None:
        return ""
    return (el.get("datetime") or el.get("content") or _text(el)).strip()


def _first(xpath: etree.XPath | None, el: Any) -> Any:
    if xpath is None:
        return None
    found = xpath(el)
    return found[0] if found else None


def _by_selectors(
    root: Any,
    page_url: str,
    item: etree.XPath,
    link: etree.XPath | None,
    title: etree.XPath | None,
    date: etree.XPath | None,
) -> list[Found]:
    out: list[Found] = []
    seen: set[str] = set()
    for el in item(root):
        anchor = _first(link, el) if link is not None else _first(_ANY_LINK, el)
        href = anchor.get("href") if anchor is not None else None
        url = _resolve(href, page_url) if href else None
        if url is None or url in seen:
            continue
        seen.add(url)
        headline = _text(_first(title, el)) if title is not None else _headline(anchor, el)
        when = _date_of(_first(date, el) if date is not None else _first(_TIME, el))
        out.append((url, headline, when))
    return out


_ANY_LINK = compile_selector("a[href]")
_TIME = compile_selector("time")
_HEADING = compile_selector("h1, h2, h3, h4, h5, h6")


def _headline(anchor: Any, container: Any) -> str:
    """The link's own text when it reads like a headline, else the first heading in the
    container (a teaser whose link wraps only an image), else the image's alt text."""
    text = _text(anchor)
    if len(text.split()) >= 3 or container is None:
        return text
    heading = _first(_HEADING, container)
    if heading is not None and _text(heading):
        return _text(heading)
    alt = next((img.get("alt") for img in anchor.iter("img") if img.get("alt")), "")
    return text or collapse(alt)


def _main(root: Any) -> Any:
    """The page's main content: `<main>`, `role="main"`, `<article>`s' common parent, or the
    body."""
    for path in ("//main", "//*[@role='main']", "//*[@id='content' or @id='main']"):
        found = root.xpath(path)
        if found:
            return found[0]
    body = root.find("body")
    return body if body is not None else root


def _in_chrome(el: Any, stop: Any) -> bool:
    """Whether `el` sits in a header, navigation, aside or footer inside `stop`."""
    for parent in el.iterancestors():
        if parent is stop:
            return False
        tag = parent.tag if isinstance(parent.tag, str) else ""
        if tag in _CHROME_TAGS or (parent.get("role") or "") in _CHROME_ROLES:
            return True
    return False


def _container(anchor: Any, url: str, page_url: str, stop: Any) -> Any:
    """The item around a link to `url`: the largest ancestor (up to 4 levels, inside `stop`)
    that links nowhere else."""
    best = None
    for level, parent in enumerate(anchor.iterancestors()):
        if parent is stop or level >= 4:
            break
        hrefs = {a.get("href") for a in parent.iter("a") if a is not anchor and a.get("href")}
        if any(_resolve(h, page_url) != url for h in hrefs):
            break
        best = parent
    return best


def _by_default(root: Any, page_url: str) -> list[Found]:
    scope = _main(root)
    found: dict[str, Found] = {}
    for anchor in scope.iter("a"):
        href = anchor.get("href")
        url = _resolve(href, page_url) if href else None
        if url is None or not looks_like_article(url, page_url) or _in_chrome(anchor, scope):
            continue
        container = _container(anchor, url, page_url, scope)
        headline = _headline(anchor, container)
        when = _date_of(_first(_TIME, container)) if container is not None else ""
        earlier = found.get(url)
        if earlier is None or (len(headline) > len(earlier[1]) and not earlier[1]):
            found[url] = (url, headline, when or (earlier[2] if earlier else ""))
    return [f for f in found.values() if len(f[1].split()) >= 2]
