"""`monitor backtest`, `monitor mute` and `monitor alerts mark`: what they print and how they
fail."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import structlog

from monitor.cli import main
from monitor.storage import Store
from monitor.storage.tables import alert, article, story
from tests.stored import channels, report, watchlist

WATCH = watchlist(
    "desk", [{"name": "offensive", "query": "offensive NEAR/10 Mosul", "severity": "high"}]
)


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """Settings over a store holding two reports of one alerted story and one other story."""
    store = Store.open(f"sqlite:///{tmp_path}/m.db")
    routes = channels(desk="low")
    recent = datetime.now(UTC) - timedelta(days=1)
    report(store, "offensive", watchlists=[WATCH], routes=routes, now=recent)
    report(store, "kirkuk", hours=1, watchlists=[WATCH], routes=routes, now=recent)
    store.close()
    (tmp_path / "watchlists").mkdir()
    (tmp_path / "watchlists" / "desk.yaml").write_text(
        "version: 1\nname: desk\nchannels: [desk]\n"
        'rules: [{name: offensive, query: "offensive NEAR/10 Mosul", severity: high}]\n'
    )
    (tmp_path / "monitor.yaml").write_text(
        "version: 1\ndatabase: sqlite:///m.db\nwatchlists: watchlists/*.yaml\n"
        "channels: {desk: {kind: log}}\n"
    )
    return tmp_path / "monitor.yaml"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_backtest_prints_the_stories_and_the_difference(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "backtest", "-c", str(config))
    assert code == 0, err
    assert "backtest: 2 articles stored from" in out and "(7d)" in out
    assert "== watchlist desk: 1 story would alert; 1 alerted in this range" in out
    assert "[offensive] on villages north of [Mosul]" in out

    wider = tmp_path / "wider.yaml"  # not in the settings
    wider.write_text(
        "version: 1\nname: desk\nchannels: [desk]\n"
        'rules: [{name: offensive, query: "offensive NEAR/10 (Mosul OR Kirkuk)"}]\n'
    )
    code, out, _ = run(capsys, "backtest", "-c", str(config), "--watchlist", str(wider), "--json")
    assert code == 0
    data = json.loads(out)
    (desk,) = data["watchlists"]
    assert len(desk["stories"]) == 2 and len(desk["new"]) == 1 and desk["gone"] == []
    assert data["archive"]["articles"] == 2 and data["archive"]["pruned"] == 0

    code, out, _ = run(capsys, "backtest", "-c", str(config), "--watchlist", "desk", "--json")
    assert code == 0 and len(json.loads(out)["watchlists"][0]["stories"]) == 1


def test_backtest_on_a_terminal_says_how_far_it_got_on_stderr_only(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, quiet, _ = run(capsys, "backtest", "-c", str(config), "--json")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, out, err = run(capsys, "backtest", "-c", str(config), "--json")
    assert code == 0 and json.loads(out)["articles"] == json.loads(quiet)["articles"] == 2
    assert "\rreplaying: 2 articles read" in err and err.endswith("\r\x1b[K")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--since", "3x"], "'3x' is not a duration"),
        (["--from", "2026-03-02", "--to", "2026-03-01"], "the range is empty"),
        (["--from", "last week"], "is not a date"),
    ],
)
def test_backtest_refuses_a_bad_range_with_exit_2(
    config: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = run(capsys, "backtest", "-c", str(config), *argv)
    assert code == 2 and message in err and "hint:" in err


def test_backtest_of_a_broken_watchlist_file_names_the_line(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "version: 1\nname: x\nchannels: [c]\nrules:\n  - {name: a, query: 'a NEAR/ b'}\n"
    )
    code, _, err = run(capsys, "backtest", "-c", str(config), "--watchlist", str(broken))
    assert code == 2 and f"{broken}:5: rules[0].query: NEAR/n needs a whole number" in err


def test_backtest_of_an_unknown_watchlist_says_which_it_knows(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "backtest", "-c", str(config), "--watchlist", "deks")
    assert code == 2 and "--watchlist deks: no such file, and no watchlist of that name" in err
    assert "in the settings (desk)" in err


def test_backtest_does_not_migrate_an_old_database(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path}/m.db")
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE alembic_version SET version_num = '0007_feed_entries_dropped'")
        )
    engine.dispose()
    code, _, err = run(capsys, "backtest", "-c", str(config))
    assert code == 1 and "schema is older than this monitor" in err


def test_mute_and_mark_from_the_command_line(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "mute", "-c", str(config), "1")
    assert code == 0 and out.startswith("#1 Army opens offensive")
    assert "muted, no more alerts from it; 1 waiting alert(s) set aside" in out
    code, out, _ = run(capsys, "alerts", "-c", str(config), "--status", "muted")
    assert code == 0 and "muted" in out.splitlines()[2]
    code, out, _ = run(capsys, "stories", "-c", str(config))
    heads = {line.split()[0]: line for line in out.splitlines() if line.startswith("#")}
    assert ", muted " in heads["#1"] and len(heads) > 1
    assert not any("muted" in line for n, line in heads.items() if n != "#1")
    code, out, _ = run(capsys, "stories", "-c", str(config), "--json")
    muted_at = {s["id"]: s["muted_at"] for s in json.loads(out)}
    assert muted_at[1] is not None and {v for k, v in muted_at.items() if k != 1} == {None}
    code, out, _ = run(capsys, "mute", "-c", str(config), "1", "--undo")
    assert code == 0 and "unmuted" in out
    code, out, _ = run(capsys, "stories", "-c", str(config))
    assert "muted" not in out
    code, _, err = run(capsys, "mute", "-c", str(config), "99")
    assert code == 1 and "no story #99" in err
    code, out, _ = run(capsys, "mute", "-c", str(config), "#1", "--undo")  # as `stories` prints it
    assert code == 0 and out.startswith("#1 ") and "unmuted" in out
    with pytest.raises(SystemExit) as bad:  # past the databases' integers: no bug report
        run(capsys, "mute", "-c", str(config), "99999999999999999999")
    assert bad.value.code == 2 and "is not a story number" in capsys.readouterr().err

    code, out, _ = run(capsys, "alerts", "-c", str(config), "mark", "1", "--irrelevant")
    assert code == 0 and out.strip() == "1 alert(s) marked irrelevant"
    store = Store.open(f"sqlite:///{tmp_path}/m.db")
    with store.read() as conn:
        assert conn.scalar(sa.select(alert.c.irrelevant_at)) is not None
        assert conn.scalar(sa.select(story.c.muted_at).where(story.c.id == 1)) is None
    store.close()
    code, out, _ = run(capsys, "backtest", "-c", str(config))
    assert "1 of 1 alerted marked irrelevant" in out
    code, out, _ = run(capsys, "alerts", "-c", str(config))
    lines = out.splitlines()
    assert lines[0] == "0 pending, 0 sent, 0 dead, 1 muted"  # the mute above set it aside
    (marked,) = [line for line in lines if line.startswith("1 ")]
    assert marked.split()[1:3] == ["muted", "(irrelevant)"]
    code, _, err = run(capsys, "alerts", "-c", str(config), "mark", "1")
    assert code == 2 and "--irrelevant or --relevant" in err
    code, _, err = run(capsys, "alerts", "-c", str(config), "mark", "x1", "--irrelevant")
    assert code == 2 and "'x1' is not an alert ID" in err
    code, _, err = run(
        capsys, "alerts", "-c", str(config), "mark", "99999999999999999999", "--irrelevant"
    )
    assert code == 2 and "is not an alert ID" in err
    code, _, err = run(capsys, "alerts", "-c", str(config), "mark", "7", "--irrelevant")
    assert code == 1 and "only 0 of 1 alert(s) found" in err


def test_feed_text_cannot_steer_the_terminal(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A title carrying a terminal escape (retitle the window) and a right-to-left override is
    printed with both made visible, by the backtest (text and JSON) and by `monitor mute`."""
    hostile = "\x1b]0;owned\x07Army opens \u202eevisneffo on villages north of Mosul"
    engine = sa.create_engine(f"sqlite:///{tmp_path}/m.db")
    with engine.begin() as conn:
        conn.execute(story.update().where(story.c.id == 1).values(title=hostile))
        conn.execute(article.update().where(article.c.id == 1).values(title=hostile))
    engine.dispose()
    code, out, _ = run(capsys, "backtest", "-c", str(config))
    assert code == 0 and "owned" in out
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    code, out, _ = run(capsys, "backtest", "-c", str(config), "--json")
    assert code == 0 and "\u202e" not in out and "\\u202e" in out
    assert json.loads(out)["watchlists"][0]["stories"][0]["title"] == hostile
    code, out, _ = run(capsys, "mute", "-c", str(config), "1")
    assert code == 0 and "owned" in out and "\u202e" not in out and "\x1b" not in out
