"""sanitize: untrusted HTML from a feed → safe HTML, and HTML → plain text.

Used by the parse paths that do not go through feedparser (the fast XML reader, JSON Feed). The
allowlists are feedparser's own, so every path keeps the same elements and attributes; CSS
(`style`) is dropped rather than filtered. lxml's HTML parser does the tokenising, so this costs
tens of microseconds per fragment where feedparser's sgmllib sanitizer costs milliseconds.
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
_PLAIN_TAG = re.compile(r"</?(?:p|br|b|i|em|strong|u|ul|ol|li|blockquote|h[1-6])\s*/?>", re.I)


def safe_url(value: str, base: str | None) -> str | None:
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
        return html.escape(html_to_text(markup), quote=False)
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
                url = safe_url(el.attrib[name], base)
                if url is None:
                    del el.attrib[name]
                else:
                    el.attrib[name] = url
    out: str = lxml.html.tostring(root, encoding="unicode")
    return out[len("<div>") : -len("</div>")].strip()


def html_to_text(markup: str) -> str:
    """The visible text of an HTML fragment: tags and scripts removed, entities decoded, white
    space collapsed to single spaces."""
    if "<" not in markup:
        return collapse(html.unescape(markup))
    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
    except (etree.ParserError, ValueError):
        return collapse(html.unescape(re.sub(r"<[^>]*>", " ", markup)))
    for el in list(root.iter()):
        if el is not root and (not isinstance(el.tag, str) or el.tag.lower() in _DROP_WITH_CONTENT):
            el.drop_tree()
    # Block elements separate words: "<p>a</p><p>b</p>" reads "a b", not "ab".
    for el in root.iter("p", "div", "br", "li", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5"):
        el.tail = " " + (el.tail or "")
    return collapse(root.text_content())


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
