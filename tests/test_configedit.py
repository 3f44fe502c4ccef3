"""Adding sources to the settings file: every comment and line of it survives."""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest

from monitor import config as config_mod
from monitor import configedit
from monitor.errors import MonitorError
from tests.conftest import ROOT

NEW = {"name": "courier", "url": "https://courier.example.org/sitemap-news.xml", "kind": "sitemap"}


def shipped(tmp: Path) -> Path:
    """A copy of the shipped config directory (its file has every key, commented)."""
    shutil.copytree(ROOT / "config", tmp / "config")
    return tmp / "config" / "monitor.yaml"


def only_added(old: str, new: str) -> list[str]:
    """The lines `new` adds to `old`; fails if any line of `old` changed or went."""
    added = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(
        None, old.splitlines(), new.splitlines(), autojunk=False
    ).get_opcodes():
        assert tag in ("equal", "insert"), (tag, old.splitlines()[i1:i2])
        if tag == "insert":
            added += new.splitlines()[j1:j2]
    return added


def test_adding_to_the_shipped_file_adds_one_line_under_feeds(tmp_path: Path) -> None:
    path = shipped(tmp_path)
    before = path.read_text()
    configedit.add_sources(path, [{**NEW, "tags": ["Middle East", "wire"]}])
    after = path.read_text()
    assert only_added(before, after) == [
        "  - {name: courier, url: https://courier.example.org/sitemap-news.xml, kind: sitemap, "
        "tags: [Middle East, wire]}"
    ]
    config = config_mod.load(path, env={})
    added = config.feed("courier")
    assert added is not None and added.kind == "sitemap" and added.tags == ["Middle East", "wire"]


@pytest.mark.parametrize(
    "text",
    [
        # dashes at the key's column, four-space mappings
        "version: 1\nfetch:\n    interval: 5m   # keep\nfeeds:\n- name: a   # first\n"
        "  url: https://a.example/feed\n# trailing comment\nchannels:\n    log: {kind: log}\n",
        # no feeds yet
        "version: 1\n# the channels\nchannels:\n  log: {kind: log}   # only the log\n",
        # an empty list written inline
        "version: 1\nfeeds: []  # none yet\nchannels: {log: {kind: log}}\n",
    ],
)
def test_other_layouts_keep_their_lines(tmp_path: Path, text: str) -> None:
    (tmp_path / "watchlists").mkdir()
    (tmp_path / "watchlists" / "w.yaml").write_text(
        "version: 1\nname: w\nchannels: [log]\nrules: [{name: r, query: x}]\n"
    )
    path = tmp_path / "monitor.yaml"
    path.write_text(text)
    configedit.add_sources(path, [NEW])
    new = path.read_text()
    if "feeds: []" not in text:  # (a flow list becomes a one-item flow list: the line changes)
        assert len(only_added(text, new)) >= 1
    assert [f.name for f in config_mod.load(path, env={}).settings.feeds][-1] == "courier"
    assert all(c in new for c in ("# keep", "# first", "# trailing", "# the channels", "# only")
               if c in text)  # fmt: skip


def test_a_result_that_would_not_load_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = shipped(tmp_path)
    before = path.read_text()
    with pytest.raises(MonitorError, match="the file was not changed"):
        configedit.add_sources(path, [{"name": "bbc-middle-east", "url": "https://x.example/f"}])
    assert path.read_text() == before


def test_a_problem_the_file_already_had_is_no_reason_to_refuse(tmp_path: Path) -> None:
    path = shipped(tmp_path)
    path.write_text(path.read_text().replace("${WEBHOOK_SECRET:-change-me}", "${UNSET_SECRET}"))
    configedit.add_sources(path, [NEW])
    assert "courier" in path.read_text()


def test_names_from_titles() -> None:
    assert configedit.slug("Riverside Courier – World") == "riverside-courier-world"
    assert configedit.slug("Ledger (édition française)") == "ledger-edition-francaise"
    assert configedit.slug("…") == "source"
    assert configedit.unique_name("a", {"a", "a-2"}) == "a-3"
