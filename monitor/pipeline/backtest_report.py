"""backtest_report: a `Backtest` → what `monitor backtest` prints (text for a terminal, or JSON
for scripts). Feed text is flattened to one line per field and control characters are removed,
so a headline cannot move the cursor or forge a line of the report."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from monitor.channels import render
from monitor.pipeline.backtest import Backtest, Gone, RuleResult, StoryHit, WatchlistResult
from monitor.terminal import printable
from monitor.units import format_duration

SHOWN = 20  # stories listed per rule in text (JSON has all)
_BOLD, _OFF = "\x1b[1;33m", "\x1b[0m"


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


def _hit_json(h: StoryHit) -> dict[str, Any]:
    return {
        "story": h.story_id,
        "title": h.title,
        "severity": str(h.severity),
        "rules": sorted(h.rules),
        "first_report": {
            "article": h.first.article_id,
            "title": h.first.title,
            "url": h.first.url,
            "source": h.first.source,
            "stored_at": _iso(h.first.fetched_at),
        },
        "outlets": sorted(h.outlets),
        "snippet": h.snippet,
        "highlights": list(h.highlights),
        "alerted": h.alerted,
        "marked_irrelevant": h.irrelevant,
        "muted": h.muted,
    }


def _days(counts: Mapping[date, int]) -> dict[str, int]:
    return {d.isoformat(): n for d, n in counts.items()}


def to_json(result: Backtest) -> dict[str, Any]:
    return {
        "since": _iso(result.since),
        "until": _iso(result.until),
        "articles": result.articles,
        "seconds": round(result.seconds, 3),
        "archive": {
            "oldest": _iso(result.reach.oldest),
            "articles": result.reach.articles,
            "pruned": result.reach.pruned,
        },
        "notes": result.notes,
        "watchlists": [
            {
                "name": w.name,
                "stories": [_hit_json(h) for h in w.stories],
                "per_day": _days(w.per_day),
                "real_per_day": _days(w.real_per_day),
                "new": w.new,
                "gone": [_gone_json(g) for g in w.gone],
                "notes": w.notes,
                "rules": [
                    {
                        "name": r.name,
                        "severity": str(r.severity),
                        "query": r.query,
                        "in_watchlist": r.in_watchlist,
                        "stories": [_hit_json(h) for h in r.stories],
                        "per_day": _days(_per_day(r.stories)),
                        "new": r.new,
                        "gone": r.gone,
                        "alerted": r.alerted,
                        "marked_irrelevant": r.irrelevant,
                    }
                    for r in w.rules
                ],
            }
            for w in result.watchlists
        ],
    }


def _gone_json(g: Gone) -> dict[str, Any]:
    return {
        "story": g.story_id,
        "title": g.title,
        "alerted_at": _iso(g.alerted_at),
        "rules": list(g.rules),
        "marked_irrelevant": g.irrelevant,
    }


def _per_day(hits: Iterable[StoryHit]) -> dict[date, int]:
    out: dict[date, int] = {}
    for h in hits:
        out[h.day] = out.get(h.day, 0) + 1
    return dict(sorted(out.items()))


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M UTC")


def _line(text: str, limit: int = 200) -> str:
    """Feed text for a terminal: one line, and no control or bidirectional override it would
    obey (`terminal.printable`)."""
    return printable(render.one_line(text, limit))


def snippet_text(h: StoryHit, *, colour: bool) -> str:
    """The snippet with its hits marked: bold on a terminal, [brackets] elsewhere."""
    out = []
    for piece, hit in render.segments(_line(h.snippet, 400), h.highlights):
        if hit:
            out.append(f"{_BOLD}{piece}{_OFF}" if colour else f"[{piece}]")
        else:
            out.append(piece)
    return "".join(out)


def to_text(result: Backtest, *, colour: bool = False, keep: float | None = None) -> str:
    span = format_duration((result.until - result.since).total_seconds())
    lines = [
        f"backtest: {result.articles:,} articles stored from {_stamp(result.since)} to "
        f"{_stamp(result.until)} ({span}), replayed in {result.seconds:.1f} s",
        _reach_line(result, keep),
    ]
    lines += [f"note: {n}" for n in result.notes]
    for w in result.watchlists:
        lines += ["", *_watchlist(w, colour)]
    return "\n".join(lines) + "\n"


def _reach_line(result: Backtest, keep: float | None) -> str:
    reach = result.reach
    kept = "archive.keep: everything" if keep is None else f"archive.keep: {format_duration(keep)}"
    if reach.oldest is None:
        return f"archive: empty ({kept})"
    pruned = f"; {reach.pruned:,} older articles pruned to their keys" if reach.pruned else ""
    return f"archive: {reach.articles:,} articles back to {_stamp(reach.oldest)} ({kept}{pruned})"


def _stories(n: int) -> str:
    return "1 story" if n == 1 else f"{n} stories"


def _watchlist(w: WatchlistResult, colour: bool) -> list[str]:
    alerted = sum(w.real_per_day.values())
    lines = [
        f"== watchlist {w.name}: {_stories(len(w.stories))}"
        f" would alert; {alerted} alerted in this range",
        f"   difference: +{len(w.new)} new (would alert, never did), "
        f"-{len(w.gone)} no longer (alerted, would not now)",
    ]
    lines += [f"   note: {n}" for n in w.notes]
    days = sorted(set(w.per_day) | set(w.real_per_day))
    if days:
        lines.append("   alerts per day (would / did):")
        for d in days:
            would, did = w.per_day.get(d, 0), w.real_per_day.get(d, 0)
            lines.append(f"     {d.isoformat()}  {would:>4} / {did:<4} {'#' * min(would, 60)}")
    for r in w.rules:
        lines += _rule(r, colour)
    if w.gone:
        lines.append("   no longer alerting:")
        for g in w.gone:
            mark = "; marked irrelevant" if g.irrelevant else ""
            lines.append(
                f"     - #{g.story_id} {_line(g.title, 100)} (alerted {_stamp(g.alerted_at)}"
                f" by {', '.join(g.rules) or '?'}{mark})"
            )
    return lines


def _rule(r: RuleResult, colour: bool) -> list[str]:
    where = "" if r.in_watchlist else " (no longer in the watchlist)"
    noise = f"; {r.irrelevant} of {r.alerted} alerted marked irrelevant" if r.alerted else ""
    stories = _stories(len(r.stories))
    lines = [
        "",
        f"   rule {r.name} ({r.severity}){where}: {stories}; "
        f"+{len(r.new)} new, -{len(r.gone)} no longer{noise}",
    ]
    if r.query:
        lines.append(f"     query: {_line(r.query, 300)}")
    new = set(r.new)
    for h in r.stories[:SHOWN]:
        fresh = h.story_id in new
        flags = [
            ("new to this rule" if h.alerted else "new: never alerted") if fresh else "",
            "alerted" if h.alerted and not fresh else "",
            "marked irrelevant" if h.irrelevant else "",
            "muted" if h.muted else "",
        ]
        shown = ", ".join(f for f in flags if f)
        lines += [
            f"     {'+' if h.story_id in new else ' '} #{h.story_id} {_line(h.title, 100)}"
            + (f"  [{shown}]" if shown else ""),
            f"         first report {_stamp(h.first.fetched_at)} {_line(h.first.source, 40)}: "
            f"{_line(h.first.url, 160)}",
            f"         outlets: {_line(', '.join(sorted(h.outlets)), 200)}",
            f"         {snippet_text(h, colour=colour)}",
        ]
    if len(r.stories) > SHOWN:
        lines.append(f"     … and {len(r.stories) - SHOWN} more (--json lists them all)")
    if r.gone:
        lines.append(f"     no longer caught: {', '.join(f'#{s}' for s in r.gone)}")
    return lines
