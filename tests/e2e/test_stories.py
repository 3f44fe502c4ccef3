"""End to end: `monitor once` against a month of one district's conflict news (the conflict
stream, served as its outlets' RSS feeds), polled at once: the stories are those the same
reports make polled live, each with its alert at a real webhook receiver."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path

import pytest

from bench import conflict_stream
from monitor.model import Article
from monitor.pipeline import cluster
from monitor.pipeline.links import canonical_url
from monitor.pipeline.parse import FUTURE_SLACK
from monitor.pipeline.record import NewEntry
from monitor.storage import Store
from tests import recording
from tests.e2e.proc import run_monitor
from tests.servers import Receiver, Site, serve_stream
from tests.test_stories_store import feed


@pytest.mark.e2e
def test_once_on_a_districts_month_makes_the_live_stories_each_with_an_alert(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    corpus = conflict_stream.load()
    district = conflict_stream.Corpus(
        tuple(r for r in corpus.reports if r.city == "Tal Afar"), corpus.feeds, ()
    )
    urls = serve_stream(site, district)
    feeds = "\n".join(f'  - {{name: {n}, url: "{u}"}}' for n, u in sorted(urls.items()))
    (tmp_path / "watchlists").mkdir()
    (tmp_path / "watchlists" / "district.yaml").write_text(
        "version: 1\nname: district\nfeeds: all\nchannels: [hook]\n"
        'rules:\n  - name: district\n    query: "Afar OR Telafar OR Ayadiya OR Muhallabiya"\n'
        "    severity: high\n"
    )
    # The stream is dated September 2025: its dates are believed however old they are now.
    (tmp_path / "monitor.yaml").write_text(f"""version: 1
database: sqlite:///data/monitor.db
watchlists: watchlists/*.yaml
fetch: {{timeout: 10s, allow_private_networks: true}}
stories: {{max_age: 100000d}}
feeds:
{feeds}
channels:
  hook: {{kind: webhook, url: "{receiver.url("/hook")}"}}
log: {{format: json}}
""")
    done = run_monitor("once", "-c", "monitor.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    shown = run_monitor("stories", "-c", "monitor.yaml", "--json", "--limit", "100", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    stories = json.loads(shown.stdout)
    by_url = {r.url.split("/", 3)[3]: r for r in district.reports}
    once = {frozenset(by_url[a["url"].split("/", 3)[3]].id for a in s["articles"]) for s in stories}
    assert sum(len(s) for s in once) == len(district.reports)

    # the same reports, each recorded when its outlet put it out (in this process, which has
    # met them all already: a name is weighed by its spelling in the article, not by history)
    live = Store.open(f"sqlite:///{tmp_path}/live.db")
    try:
        fids = {name: feed(live, name) for name in urls}
        placed: dict[str, int] = {}
        for r in sorted(district.reports, key=lambda r: (district.released(r), r.id)):
            seen = district.released(r)
            published = r.published.astimezone(UTC)
            published = seen if published > seen + FUTURE_SLACK else published
            url = f"{site.base}/{r.url.split('/', 3)[3]}"
            art = Article(
                url=url,
                canonical_url=canonical_url(url),
                title=r.title,
                text=r.text,
                source=r.feed,
                published=published,
            )
            (got,) = recording.entries(
                live,
                feed_id=fids[r.feed],
                entries=[NewEntry(r.guid, art)],
                now=seen,
                story_window_s=cluster.WINDOW_S,
                max_age_s=1e12,
            )
            assert got.story_id is not None
            placed[r.id] = got.story_id
    finally:
        live.close()
    by_story: dict[int, set[str]] = {}
    for report, story_id in placed.items():
        by_story.setdefault(story_id, set()).add(report)
    assert once == {frozenset(v) for v in by_story.values()}

    # one alert per story, each at the receiver
    bodies = [json.loads(p.body) for p in receiver.posts]
    assert sorted(b["story"]["id"] for b in bodies) == sorted(s["id"] for s in stories)
    assert all("continues" in b["story"] for b in bodies)
