"""query: the syntax tree of a query: plain frozen nodes whose columns point into the query."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Term:
    """A word or phrase. `words` are folded but keep their case; `wildcard`: the last word is a
    prefix; `case`: written with `=`, so the case must match too; `joined`: the words again with
    the apostrophes inside words taken out, when that spells them otherwise ("Ba'ath": "Baath")."""

    text: str
    words: tuple[str, ...]
    wildcard: bool = False
    case: bool = False
    field: str | None = None
    start: int = 0
    end: int = 0
    joined: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Group:
    """`@name`: any member of the watchlist's group."""

    name: str
    field: str | None = None
    start: int = 0
    end: int = 0


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]
    start: int = 0
    end: int = 0
    implicit_at: int | None = None  # column of the first pair joined without an operator


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]
    start: int = 0
    end: int = 0


@dataclass(frozen=True, slots=True)
class Not:
    child: Node
    start: int = 0
    end: int = 0


@dataclass(frozen=True, slots=True)
class Near:
    """Both sides within `distance` words of each other (`ordered`: left before right)."""

    left: Node
    right: Node
    distance: int
    ordered: bool = False
    start: int = 0
    end: int = 0


Node = Term | Group | And | Or | Not | Near
