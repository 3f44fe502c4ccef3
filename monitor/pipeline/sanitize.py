"""sanitize: untrusted HTML → safe HTML, and HTML → readable text. No I/O.

A helper of two stages. parse sanitises feed HTML on the paths that do not go through feedparser
(the fast XML reader, JSON Feed) and turns HTML titles into one line of text; extract reads
entries' and pages' text as paragraphs, without promo lines. The allowlists are feedparser's own,
so every path keeps the same elements and attributes; CSS (`style`) is dropped rather than
filtered. lxml's HTML parser does the tokenising, so this costs tens of microseconds per fragment
where feedparser's sgmllib sanitizer costs milliseconds.
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.html
from feedparser.sanitizer import _HTMLSanitizer as HTMLSanitizer
from feedparser.urls import ACCEPTABLE_URI_SCHEMES
from lxml import etree

_ALLOWED_TAGS = frozenset(HTMLSanitizer.acceptable_elements)
_ALLOWED_ATTRS = frozenset(HTMLSanitizer.acceptable_attributes) - {"style"}
# Elements whose content is code, not text: removed with everything inside.
_DROP_WITH_CONTENT = frozenset(HTMLSanitizer.unacceptable_elements_with_end_tag)
_URL_ATTRS = frozenset(
    {"href", "src", "cite", "action", "background", "longdesc", "poster", "lowsrc", "dynsrc"}
)
_SCHEMES = frozenset(ACCEPTABLE_URI_SCHEMES)
_SPACE = re.compile(r"\s+")
# Block elements: their text is a paragraph of its own.
_BLOCK = frozenset(
    {
        "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "figcaption",
        "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
        "nav", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
    }
)  # fmt: skip
# Elements whose content is no text a reader sees.
_SKIP = _DROP_WITH_CONTENT | {"noscript", "template", "iframe", "object"}
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u200b]+")
_BLANKS = re.compile(r"\n\s*\n+")
_TAG = re.compile(r"<[^>]*>")
_TEXT_BETWEEN_TAGS = re.compile(r">[^<\s]")
# Promotional lines that outlets put inside the article body ("READ MORE: …", "WATCH: …"):
# they name other stories, so a watched word in them must not count for this one. The
# unambiguous ones in any case, words that can start a real sentence only in capitals.
_PROMO = re.compile(
    r"^(?:(?i:read more|read also|also read|see also|related|more on this(?: story)?|recommended"
    r"|sign up|subscribe|watch|listen|video|photos|in pictures|podcast)"
    r"|OPINION|ANALYSIS|INSIDE STORY|EXPLAINER|LIVE)\s*[:|\u2013\u2014-]\s*\S"
)
_PLAIN_TAG = re.compile(r"</?(?:p|br|b|i|em|strong|u|ul|ol|li|blockquote|h[1-6])\s*/?>", re.I)


def harmless_url(value: str, base: str | None) -> str | None:
    """`value` resolved against `base`, or None when its scheme could run code (javascript:…)."""
    value = value.strip()
    if value.startswith(("https://", "http://")) and "/." not in value:
        return value  # already absolute: nothing to resolve, nothing to check
    try:
        url = urljoin(base, value) if base else value
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    if scheme and scheme not in _SCHEMES:
        return None
    return url


def sanitize_html(markup: str, base: str | None = None) -> str:
    """Keep allowed elements and attributes, drop scripts with their content, resolve links.

    Markup whose only tags are plain formatting without attributes (`<p>`, `<br>`, `<em>`…) has
    nothing to remove and is returned as it is: the common case for news summaries, kept cheap.
    """
    if "<" not in _PLAIN_TAG.sub("", markup):
        return markup.strip()
    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
    except (etree.ParserError, ValueError):
        return html.escape(html_line(markup), quote=False)
    for el in list(root.iter()):
        if el is root:
            continue
        tag = el.tag if isinstance(el.tag, str) else ""
        tag = tag.lower()
        if not tag or tag in _DROP_WITH_CONTENT:
            el.drop_tree()  # comments, processing instructions, scripts: the tail text stays
            continue
        if tag not in _ALLOWED_TAGS:
            el.drop_tag()
            continue
        for name in list(el.attrib):
            if name.lower() not in _ALLOWED_ATTRS:
                del el.attrib[name]
            elif name.lower() in _URL_ATTRS:
                url = harmless_url(el.attrib[name], base)
                if url is None:
                    del el.attrib[name]
                else:
                    el.attrib[name] = url
    out: str = lxml.html.tostring(root, encoding="unicode")
    return out[len("<div>") : -len("</div>")].strip()


def html_to_text(markup: str, *, drop_promo: bool = True) -> str:
    """Readable text of an HTML fragment: blocks become paragraphs (a blank line between them,
    a line break for `<br>`), entities are decoded, scripts and styles dropped, and so are promo
    lines ("READ MORE: …") unless `drop_promo` is false.

    Written by hand because feed summaries are fragments, not documents, and trafilatura would
    discard short ones as boilerplate. Iterative, so hostile nesting cannot exhaust the stack.
    """
    if "<" not in markup:
        return tidy_text(html.unescape(markup), drop_promo=drop_promo)
    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
    except (etree.ParserError, ValueError):
        return tidy_text(html.unescape(_TAG.sub(" ", markup)), drop_promo=drop_promo)
    parts: list[str] = []
    skipping = 0
    for event, el in etree.iterwalk(root, events=("start", "end", "comment", "pi")):
        tag = el.tag if isinstance(el.tag, str) else ""
        if event == "start":
            if tag in _SKIP:
                skipping += 1
            elif not skipping:
                if tag in _BLOCK or tag == "br":
                    parts.append("\n")
                if el.text:
                    parts.append(el.text)
            continue
        if tag in _SKIP:
            skipping -= 1
        elif not skipping and tag in _BLOCK:
            parts.append("\n")
        if not skipping and el.tail and el is not root:  # also after a comment
            parts.append(el.tail)
    text = tidy_text("".join(parts), drop_promo=drop_promo)
    if not text and _TEXT_BETWEEN_TAGS.search(markup):
        # libxml2 gives up on absurd nesting; stripping tags still recovers the words.
        text = tidy_text(html.unescape(_TAG.sub(" ", markup)), drop_promo=drop_promo)
    return text


def html_line(markup: str) -> str:
    """An HTML fragment's text on one line, every word kept: `html_to_text` without promo
    dropping, white space collapsed. For titles, and for the text an entry's key hashes."""
    return collapse(html_to_text(markup, drop_promo=False))


def tidy_text(text: str, *, drop_promo: bool = True) -> str:
    """Text with runs of spaces made one, lines trimmed, promo lines dropped (unless
    `drop_promo` is false), and at most one blank line between paragraphs."""
    lines = [_SPACES.sub(" ", line).strip() for line in text.replace("\r\n", "\n").split("\n")]
    if drop_promo:
        lines = [line for line in lines if not (len(line) < 200 and _PROMO.match(line))]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def xhtml_inner(el: Any) -> str:
    """The content of an XML element holding XHTML (Atom `type="xhtml"`) as HTML source, with
    namespaces dropped, ready for `sanitize_html`."""
    parts = [html.escape(el.text or "", quote=False)]
    for child in el:
        if isinstance(child.tag, str):
            name = etree.QName(child).localname
            attrs = "".join(
                f' {etree.QName(k).localname}="{html.escape(v)}"' for k, v in child.attrib.items()
            )
            parts.append(f"<{name}{attrs}>{xhtml_inner(child)}</{name}>")
        parts.append(html.escape(child.tail or "", quote=False))
    return "".join(parts)


def collapse(text: str) -> str:
    """Runs of white space become one space; ends trimmed."""
    return _SPACE.sub(" ", text).strip()
