"""rules: watch-rule queries → one compiled matcher that checks an article against every rule.

Interface used by the rest of monitor (the implementation lives in the submodules):

- `compile_watchlists(watchlists)` → `Matcher`, or raises `RulesError` listing every problem,
  each located by (watchlist index, path inside that watchlist file, message).
- `Matcher.match(article, watchlists=None)` → the `RuleMatch`es of the article, optionally only
  for the named watchlists.
"""

from __future__ import annotations

from collections.abc import Sequence

from monitor.rules.compile import compile_program
from monitor.rules.matcher import Matcher
from monitor.rules.problems import RuleProblem, RulesError
from monitor.watchlist import WatchlistSettings


def compile_watchlists(watchlists: Sequence[WatchlistSettings]) -> Matcher:
    """Compile every rule of every watchlist into one matcher; raise `RulesError` with every
    problem (bad query, unknown or empty group, unknown place) found in any of them."""
    program, problems = compile_program(watchlists)
    if problems:
        raise RulesError(problems)
    return Matcher(program)


__all__ = ["Matcher", "RuleProblem", "RulesError", "compile_watchlists"]
