"""problems: what compiling watchlists reports: each problem located inside its watchlist file."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RuleProblem:
    """A problem in watchlist number `watchlist`, at `loc` inside that file (e.g. ("rules", 0,
    "query")); `message` carries the column and a caret line when it is about a query."""

    watchlist: int
    loc: tuple[str | int, ...]
    message: str


class RulesError(Exception):
    """Every problem found while compiling the watchlists, not only the first."""

    def __init__(self, problems: list[RuleProblem]) -> None:
        super().__init__("\n".join(p.message for p in problems))
        self.problems = problems
