"""docs/rules.md is executable: its YAML examples compile and its example table holds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from monitor.model import Article
from monitor.rules import compile_watchlists
from monitor.watchlist import WatchlistSettings

DOC = Path(__file__).resolve().parents[1] / "docs" / "rules.md"
TEXT = DOC.read_text(encoding="utf-8")
YAML_BLOCKS = re.findall(r"```yaml\n(.*?)```", TEXT, re.DOTALL)
ROWS = re.findall(r"^\| `([^`]+)` \| ([^|]+) \| (yes|no) \|$", TEXT, re.MULTILINE)


def test_the_doc_has_examples() -> None:
    assert len(YAML_BLOCKS) >= 3 and len(ROWS) >= 10


@pytest.mark.parametrize("block", YAML_BLOCKS)
def test_yaml_examples_compile(block: str) -> None:
    watchlist = WatchlistSettings.model_validate(yaml.safe_load(block))
    assert compile_watchlists([watchlist]).rule_count == len(watchlist.rules)


@pytest.mark.parametrize(("query", "text", "expected"), ROWS)
def test_example_table(query: str, text: str, expected: str) -> None:
    first = yaml.safe_load(YAML_BLOCKS[0])
    first["rules"] = [{"name": "example", "query": query}]
    matcher = compile_watchlists([WatchlistSettings.model_validate(first)])
    found = matcher.match(Article(url="", canonical_url="", title="", text=text.strip()))
    assert bool(found) is (expected == "yes")
