"""rules: watch-rule queries → one compiled matcher that checks an article against every rule.

Interface used by the rest of monitor (the implementation lives in the submodules):

- `compile_watchlists(watchlists)` → `Matcher`, or raises `RulesError` listing every problem,
  each located by (watchlist index, path inside that watchlist file, message).
- `Matcher.match(article, watchlists=None)` → the `RuleMatch`es of the article, optionally only
  for the named watchlists.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from monitor.model import Article, RuleMatch
from monitor.watchlist import WatchlistSettings


@dataclass(frozen=True, slots=True)
class RuleProblem:
    watchlist: int
    loc: tuple[str | int, ...]
    message: str


class RulesError(Exception):
    def __init__(self, problems: list[RuleProblem]) -> None:
        super().__init__("\n".join(p.message for p in problems))
        self.problems = problems


class Matcher:
    def match(self, article: Article, watchlists: Collection[str] | None = None) -> list[RuleMatch]:
        raise NotImplementedError


def compile_watchlists(watchlists: Sequence[WatchlistSettings]) -> Matcher:
    raise NotImplementedError
