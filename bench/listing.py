"""bench/listing.py: which HTML library reads listing pages faster, lxml + cssselect or selectolax.

Both do the same work as `monitor.pipeline.listing` does with selectors: parse the page, find
the items, and in each the link, the headline and the date. Pages: the three fixture listings
(tests/fixtures/sources/listings, a few KB each) and a generated section page of 200 cards
(about 150 KB, the size of a real news front). CPU time on one core, best of `--repeat` runs.

    python bench/listing.py [--repeat 5]

Prints a table, then one line of key=value figures (ms per page, and selectolax's speed-up).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LISTINGS = ROOT / "tests" / "fixtures" / "sources" / "listings"
SELECTORS = {
    "cards.html": ("article.card", "a[href]", "h3", "time"),
    "list.html": ("ul.headlines li", "a[href]", "a", ".when"),
    "grid.html": (".teaser", "a[href]", ".teaser__title", "time"),
}


def big_page(cards: int = 200) -> bytes:
    dek = "A line of standfirst text to make the card realistic. " * 3
    parts = [
        f'<article class="card"><a class="card__link" href="/news/2025/04/16/story-{i}.html">'
        f'<h3 class="card__title">Headline number {i} about something that happened</h3></a>'
        f'<p class="card__dek">{dek}</p>'
        '<time datetime="2025-04-16T06:10:00Z">16 April</time></article>'
        for i in range(cards)
    ]
    nav = "".join(f'<a href="/section-{i}/">Section {i}</a>' for i in range(60))
    return (
        f"<!DOCTYPE html><html><head><title>Front</title></head><body><header>{nav}</header>"
        f"<main>{''.join(parts)}</main><footer>{nav}</footer></body></html>"
    ).encode()


def with_lxml(body: bytes, sel: tuple[str, str, str, str]) -> int:
    import lxml.html
    from cssselect import GenericTranslator

    xpaths = [GenericTranslator().css_to_xpath(s) for s in sel]  # compiled once per config
    root = lxml.html.document_fromstring(body)
    found = 0
    for item in root.xpath(xpaths[0]):
        link = item.xpath(xpaths[1])
        title = item.xpath(xpaths[2])
        date = item.xpath(xpaths[3])
        if link and title:
            found += bool(link[0].get("href")) + bool(title[0].text_content()) * 0
            if date:
                date[0].get("datetime")
    return found


def with_selectolax(body: bytes, sel: tuple[str, str, str, str]) -> int:
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(body)
    found = 0
    for item in tree.css(sel[0]):
        link = item.css_first(sel[1])
        title = item.css_first(sel[2])
        date = item.css_first(sel[3])
        if link is not None and title is not None:
            found += bool(link.attributes.get("href")) + bool(title.text()) * 0
            if date is not None:
                date.attributes.get("datetime")
    return found


def best(func: Callable[[], int], repeat: int, inner: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.process_time()
        for _ in range(inner):
            func()
        times.append((time.process_time() - start) / inner)
    return min(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    pages = {name: ((LISTINGS / name).read_bytes(), sel) for name, sel in SELECTORS.items()}
    pages["generated, 200 cards"] = (big_page(), SELECTORS["cards.html"])
    print(f"{'page':<24}{'KB':>6}{'items':>7}{'lxml ms':>10}{'selectolax ms':>15}{'ratio':>7}")
    results = {}
    for name, (body, sel) in pages.items():
        assert with_lxml(body, sel) == with_selectolax(body, sel), name
        inner = 20 if len(body) > 50_000 else 200
        a = best(partial(with_lxml, body, sel), args.repeat, inner)
        b = best(partial(with_selectolax, body, sel), args.repeat, inner)
        results[name] = (a, b)
        items = with_lxml(body, sel)
        print(f"{name:<24}{len(body) / 1000:>6.1f}{items:>7}{a:>10.3f}{b:>15.3f}{a / b:>7.1f}")
    big_lxml, big_lax = results.pop("generated, 200 cards")
    print(
        f"\nlxml_big_ms={big_lxml:.2f} selectolax_big_ms={big_lax:.2f} "
        f"speedup_big={big_lxml / big_lax:.1f} "
        f"lxml_fixtures_ms={sum(a for a, _ in results.values()):.3f} "
        f"selectolax_fixtures_ms={sum(b for _, b in results.values()):.3f}"
    )


if __name__ == "__main__":
    main()
