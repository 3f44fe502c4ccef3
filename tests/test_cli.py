"""The `monitor` command: exit codes, messages, and what each subcommand prints."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from monitor import __version__
from monitor.cli import main, parser
from monitor.storage import Store
from tests.conftest import FIXTURES, ROOT
from tests.e2e.proc import monitor_env, run_monitor
from tests.servers import Site

CONFIG = str(ROOT / "config" / "monitor.yaml")


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_version_and_module_entry_point() -> None:
    done = run_monitor("--version", cwd=ROOT)
    assert done.returncode == 0 and done.stdout.strip() == f"monitor {__version__}"


def test_check_accepts_the_shipped_config(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "-c", CONFIG)
    assert code == 0
    assert "ok (2 feeds, 2 channels, 1 watchlists, 2 rules)" in out


def test_check_lists_every_problem_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "watchlists").mkdir()
    (tmp_path / "watchlists" / "w.yaml").write_text(
        "version: 1\nname: w\nchannels: [log]\nrules:\n  - {name: r, query: 'offensive NEAR/0 x'}\n"
    )
    (tmp_path / "monitor.yaml").write_text(
        "version: 1\nfetch: {timout: 5s}\nchannels:\n  log: {kind: log}\n"
    )
    code, _, err = run(capsys, "check", "-c", str(tmp_path / "monitor.yaml"))
    assert code == 2
    lines = err.splitlines()
    assert f"{tmp_path / 'monitor.yaml'}:2: fetch.timout: unknown key" in lines[0]
    assert any(
        line.startswith(f"{tmp_path / 'watchlists' / 'w.yaml'}:5: rules[0].query:")
        for line in lines
    )
    assert lines[-1].startswith("hint: ")


def test_missing_config_names_the_path(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "check", "-c", "/nonexistent/monitor.yaml")
    assert code == 2 and "/nonexistent/monitor.yaml: no such file" in err


def test_config_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MONITOR_CONFIG", CONFIG)
    code, out, _ = run(capsys, "check")
    assert code == 0 and CONFIG in out


def test_schema_prints_both_documents(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "schema")
    assert code == 0 and set(json.loads(out)) == {"monitor.yaml", "watchlist"}


def test_test_explains_a_text_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "note.txt"
    text.write_text("Army widens offensive\n\nTroops widened the offensive toward Ramadi today.\n")
    code, out, _ = run(capsys, "test", "-c", CONFIG, str(text))
    assert code == 0
    assert "offensive" in out and "Ramadi" in out and "iraq-conflict" in out
    code, out, _ = run(capsys, "test", "-c", CONFIG, "--json", str(text))
    (found,) = json.loads(out)
    assert (found["watchlist"], found["rule"], found["severity"]) == (
        "iraq-conflict",
        "offensive",
        "high",
    )
    assert {h["field"] for h in found["hits"]} == {"text"}


def test_test_reads_stdin_and_says_when_nothing_matches(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"Football\n\nA quiet match.")))
    code, out, _ = run(capsys, "test", "-c", CONFIG, "-", "--json")
    assert code == 0 and json.loads(out) == []


def test_test_extracts_an_html_page_like_the_daemon(capsys: pytest.CaptureFixture[str]) -> None:
    page = FIXTURES / "pages" / "mosul-cancer-ward.html"
    code, out, _ = run(capsys, "test", "-c", CONFIG, "--json", str(page))
    # The sidebar says "Offensive stalls near Mosul"; the article itself matches nothing.
    assert code == 0 and json.loads(out) == []


def test_test_fetches_a_url(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    site.serve(FIXTURES / "site")
    code, out, _ = run(
        capsys, "test", "-c", CONFIG, "--json", site.url("/pages/telafar-dawn-convoys.html")
    )
    assert code == 0 and [m["rule"] for m in json.loads(out)] == ["offensive"]


def test_test_of_a_missing_file_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "test", "-c", CONFIG, "nope.txt")
    assert code == 1 and err.startswith("error: no such file: nope.txt")


def test_channels_lists_kinds_and_settings(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "channels")
    assert code == 0
    assert re.search(r"^webhook: ", out, re.M) and "secret: HMAC-SHA256 signing key" in out
    assert "(default None, secret)" in out


def test_places_shows_spellings(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "places", "Tal Afar", "--json")
    assert code == 0
    kept = {s["spelling"] for s in json.loads(out)["kept"]}
    assert {"Tal Afar", "Tall ‘Afar", "تلعفر"} <= kept


def test_feeds_and_alerts_on_an_empty_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONITOR_DATABASE_URL", f"sqlite:///{tmp_path}/m.db")
    Store.open(f"sqlite:///{tmp_path}/m.db").close()  # as the daemon's first run leaves it
    assert run(capsys, "feeds", "-c", CONFIG)[1].startswith("no feeds polled yet")
    code, out, _ = run(capsys, "stories", "-c", CONFIG)
    assert code == 0 and out.startswith("no stories")
    code, out, _ = run(capsys, "alerts", "-c", CONFIG)
    assert code == 0 and out.splitlines()[0] == "0 pending, 0 sent, 0 dead"
    code, _, err = run(capsys, "alerts", "-c", CONFIG, "retry")
    assert code == 1 and "hint: give alert IDs, or --dead" in err
    code, out, _ = run(capsys, "alerts", "-c", CONFIG, "retry", "--dead")
    assert code == 0 and out.strip() == "0 alert(s) queued again"
    code, _, err = run(capsys, "feeds", "-c", CONFIG, "--reset", "nope")
    assert code == 1 and "no feed named 'nope'" in err


def test_alerts_lists_a_follow_up_as_the_channels_show_it() -> None:
    from monitor.channels import render

    assert render.kicked("update", "Falluja: day two") == "New report: Falluja: day two"
    assert render.kicked("escalation", "Falluja") == "Escalated: Falluja"
    assert render.kicked("story", "Falluja") == "Falluja"


@pytest.mark.parametrize("command", ["feeds", "alerts", "stories"])
def test_looking_into_a_database_that_is_not_there_is_an_error(
    command: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A mistyped path must not print "no stories yet" and leave an empty database behind."""
    monkeypatch.setenv("MONITOR_DATABASE_URL", f"sqlite:///{tmp_path}/typo.db")
    code, _, err = run(capsys, command, "-c", CONFIG)
    assert code == 1 and f"no database at {tmp_path}/typo.db" in err
    assert "hint: the daemon creates it on its first run" in err
    assert not (tmp_path / "typo.db").exists()


def test_a_sqlite_uri_is_looked_into_as_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    Store.open(f"sqlite:///{tmp_path}/m.db").close()
    monkeypatch.setenv("MONITOR_DATABASE_URL", f"sqlite:///file:{tmp_path}/m.db?uri=true")
    code, out, _ = run(capsys, "stories", "-c", CONFIG)
    assert code == 0 and out.startswith("no stories")


def test_bad_usage_exits_2() -> None:
    done = run_monitor("frobnicate", cwd=ROOT)
    assert done.returncode == 2 and "invalid choice" in done.stderr


@pytest.mark.e2e
def test_demo_runs_offline_and_prints_alerts(tmp_path: Path) -> None:
    # Where a deployment's environment names its database, the demo still keeps to its own.
    production = tmp_path / "production.db"
    done = run_monitor("demo", cwd=ROOT, env={"MONITOR_DATABASE_URL": f"sqlite:///{production}"})
    assert done.returncode == 0, done.stderr
    assert not production.exists()
    assert "Serving the sample news site at http://127.0.0.1:" in done.stdout
    # 8 matching articles, 3 stories (monitor/demo/site/MANIFEST.md): one alert per story, each
    # listing the other outlets that reported it.
    assert "3 feeds, 17 articles read, 3 alerts sent" in done.stdout
    alerts = done.stdout.split("\n\n")[1:-1]
    assert len(alerts) == 3

    def sources(alert: str) -> set[str]:
        lines = alert.splitlines()
        also = next((x for x in lines if "also reported by: " in x), "").split(": ", 1)[-1]
        return {lines[1].split(" · ")[0].strip(), *filter(None, also.split(", "))}

    by_story = sorted((sorted(sources(a)), a.splitlines()[0].split("]")[0]) for a in alerts)
    assert by_story == [
        (["local-1252", "region", "wire"], "[HIGH"),  # the Tal Afar offensive
        (["local-1252", "region", "wire"], "[HIGH"),  # the advance on Falluja
        (["region", "wire"], "[CRITICAL"),  # the mass grave near Mosul
    ]
    assert sum("Falluja" in a or "Saqlawiya" in a for a in alerts) == 1
    assert "Mosel" not in done.stdout and "graveyard" not in done.stdout.lower()
    assert "market" not in done.stdout.lower()  # Mosul's market reopening is another story


def test_readme_documents_every_command() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name in commands:
        assert f"monitor {name}" in readme, f"`monitor {name}` is not in the README"


def test_feeds_shows_who_polls_a_feed_and_a_worker_that_is_gone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    from datetime import UTC, datetime, timedelta

    from monitor.storage import feeds as feed_store
    from monitor.storage import leases

    url = f"sqlite:///{tmp_path}/m.db"
    monkeypatch.setenv("MONITOR_DATABASE_URL", url)
    store = Store.open(url)
    now = datetime.now(UTC)
    feed_store.sync(store, [feed_store.FeedSpec(n, f"https://e.org/{n}", 600) for n in "abcd"], now)
    host = leases.host()
    dead = 2**22 + 12345  # above any pid this machine hands out
    # a: polled now by this process; b: by a process of this host that was killed; c: by a
    # worker elsewhere that stopped renewing 40 s ago; d: free.
    feed_store.claim(store, f"{host}:{os.getpid()}", now, limit=1, lease_s=20)
    feed_store.claim(store, f"{host}:{dead}", now, limit=1, lease_s=20)
    feed_store.claim(
        store, "far-box:7", now - timedelta(seconds=60), limit=1, lease_s=20, due_only=False
    )
    store.close()
    code, out, _ = run(capsys, "feeds", "-c", CONFIG)
    assert code == 0
    header, *lines = out.splitlines()
    assert "WORKER" in header
    rows = {line.split()[0]: line for line in lines}
    assert f"{host}:{os.getpid()}" in rows["a"] and "gone" not in rows["a"]
    assert f"{host}:{dead} (gone; free in 1" in rows["b"]
    assert "far-box:7 (gone; lease ended 40s ago)" in rows["c"]
    assert rows["d"][header.index("WORKER") :].split()[0] == "-"


def test_stories_shows_the_story_a_story_continues(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rewrite two days after the wire (past a span of one day) opens a story continuing it:
    `monitor stories` says so under it, and `--json` gives the earlier story."""
    from datetime import timedelta

    from tests.test_stories_store import feed, item, put

    url = f"sqlite:///{tmp_path}/m.db"
    monkeypatch.setenv("MONITOR_DATABASE_URL", url)
    store = Store.open(url)
    try:
        fid = feed(store)
        day = timedelta(days=1).total_seconds()
        first = put(store, fid, "1", item("basra-floods-wire"), span_s=day)
        later = put(store, fid, "2", item("basra-floods-rewrite"), at=timedelta(days=2), span_s=day)
    finally:
        store.close()
    assert later.story_id != first.story_id
    code, out, _ = run(capsys, "stories", "-c", CONFIG)
    assert code == 0
    assert f"    continues #{first.story_id}: Floods kill 14 in Basra" in out
    code, out, _ = run(capsys, "stories", "-c", CONFIG, "--json")
    shown = {s["id"]: s["continues"] for s in json.loads(out)}
    assert shown[first.story_id] is None
    assert shown[later.story_id]["id"] == first.story_id


def test_a_reader_that_stops_early_is_no_error(tmp_path: Path) -> None:
    """`monitor channels | head -1`: the pipe closes before monitor writes; it exits 0 and
    says nothing (it printed "this is a bug in monitor")."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "channels"],
        cwd=tmp_path,
        env=monitor_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # before the interpreter has even started
    _, err = proc.communicate(timeout=60)
    assert (proc.returncode, err) == (0, b"")
