"""places: a places group → the spellings to match for each place (gazetteer comes next)."""

from __future__ import annotations

from dataclasses import dataclass, field

from monitor.watchlist import PlacesGroup


@dataclass(frozen=True, slots=True)
class Spelling:
    place: str
    spelling: str


@dataclass(frozen=True, slots=True)
class GroupProblem:
    loc: tuple[str | int, ...]
    message: str


@dataclass
class Expansion:
    spellings: list[Spelling] = field(default_factory=list)
    problems: list[GroupProblem] = field(default_factory=list)


def expand_group(group: PlacesGroup) -> Expansion:
    excluded = {e.casefold() for e in group.exclude}
    names = [*group.places, *group.add]
    return Expansion([Spelling(n, n) for n in names if n.casefold() not in excluded])
