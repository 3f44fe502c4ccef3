"""watchlist: the shape of a watchlist file (what to watch, where, and who hears of it).

Queries are checked and compiled by `monitor.rules`; this module only says which keys exist.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from monitor.model import Severity, Updates

NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
# In a watchlist's `feeds`: every source carrying that tag (a feed name never has a colon).
TAG_PREFIX = "tag:"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlacesGroup(_Strict):
    """A group of places, each expanded to its known spellings."""

    places: list[str] = Field(min_length=1, description="place names to expand")
    add: list[str] = Field(default_factory=list, description="spellings to add")
    exclude: list[str] = Field(default_factory=list, description="spellings to drop")


Group = list[str] | PlacesGroup


class RuleSettings(_Strict):
    name: str = Field(pattern=NAME, description="shown in alerts; unique in the watchlist")
    query: str = Field(min_length=1, description="the query; see the README's rule language")
    severity: Severity = Severity.MEDIUM
    min_hits: int = Field(default=1, ge=1, description="the query must hit at least this often")
    exclude: str | None = Field(default=None, description="a query whose match vetoes the rule")


# Snowball's languages (`stem: french`); `stem: true` is English.
StemLanguage = Literal[
    "arabic", "armenian", "basque", "catalan", "czech", "danish", "dutch", "english",
    "esperanto", "estonian", "finnish", "french", "german", "greek", "hindi", "hungarian",
    "indonesian", "irish", "italian", "lithuanian", "nepali", "norwegian", "persian", "polish",
    "portuguese", "romanian", "russian", "serbian", "spanish", "swedish", "tamil", "turkish",
    "yiddish",
]  # fmt: skip


class WatchlistSettings(_Strict):
    version: Literal[1] = Field(description="file format version; always 1 for now")
    name: str = Field(pattern=NAME, description="unique across all watchlists")
    feeds: Literal["all"] | list[str] = Field(
        default="all",
        description='"all", or the feeds to watch: names, and tag:NAME for every feed with '
        "that tag",
    )
    channels: list[str] = Field(min_length=1, description="names of channels in monitor.yaml")
    stem: bool | StemLanguage = Field(
        default=False,
        description="match other forms of words (plural, singular, …): true for English stems, "
        "or the language whose stems to use (french, spanish, arabic, …)",
    )
    updates: Updates = Field(
        default="none",
        description="later articles of a story already alerted: none (silence), digest (held "
        "for the next digest) or every (an alert each)",
    )
    escalate: bool = Field(
        default=True,
        description="alert again when a later article of the story matches a higher severity",
    )
    groups: dict[str, Group] = Field(default_factory=dict, description="named lists for @name")
    rules: list[RuleSettings] = Field(min_length=1)

    @property
    def stem_language(self) -> str | None:
        """The Snowball language of this watchlist's stems, or None when it does not stem."""
        if self.stem is True:
            return "english"
        return self.stem or None

    @field_validator("feeds")
    @classmethod
    def _feed_selectors(cls, feeds: Literal["all"] | list[str]) -> Literal["all"] | list[str]:
        for item in feeds if isinstance(feeds, list) else ():
            tag = item[len(TAG_PREFIX) :] if item.startswith(TAG_PREFIX) else None
            if tag is not None and not tag.strip():
                raise ValueError(f"{item!r}: say which tag, as in tag:middle-east")
            if tag is None and not re.fullmatch(NAME, item):
                raise ValueError(f"{item!r} is neither a feed name nor tag:NAME")
        return feeds

    @field_validator("groups")
    @classmethod
    def _group_names(cls, groups: dict[str, Group]) -> dict[str, Group]:
        for name, members in groups.items():
            if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
                raise ValueError(f"group name {name!r} may only use letters, digits, _ and -")
            if isinstance(members, list) and not [m for m in members if str(m).strip()]:
                raise ValueError(f"group {name!r} is empty")
        return groups

    @field_validator("rules")
    @classmethod
    def _unique_rules(cls, rules: list[RuleSettings]) -> list[RuleSettings]:
        seen: set[str] = set()
        for rule in rules:
            if rule.name in seen:
                raise ValueError(f"two rules are named {rule.name!r}")
            seen.add(rule.name)
        return rules

    def watches(self, feed: str) -> bool:
        return self.feeds == "all" or feed in self.feeds
