"""lexer: a query string → tokens (words, phrases, @groups, operators, parentheses), each with its
columns, or a `QueryError` pointing at the first character that cannot start a token.
"""

from __future__ import annotations

import enum
import re
from typing import NamedTuple

FIELDS = ("title", "summary", "text", "source", "url", "lang")
MAX_DISTANCE = 1000


class QueryError(Exception):
    """A problem in a query, at columns [start, end) (0-based) of `query`."""

    def __init__(self, message: str, query: str, start: int, end: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.query = query
        self.start = start
        self.end = max(end if end is not None else start + 1, start + 1)

    def render(self) -> str:
        """The message, the column (1-based), the query, and carets under the culprit."""
        query = self.query.replace("\n", " ").replace("\t", " ")
        carets = "^" * min(self.end - self.start, max(1, len(query) - self.start))
        return f"{self.message} at column {self.start + 1}\n  {query}\n  {' ' * self.start}{carets}"


class Kind(enum.Enum):
    WORD = "word"
    PHRASE = "phrase"
    GROUP = "@group"
    FIELD = "field:"
    CASE = "="
    AND = "AND"
    OR = "OR"
    NOT = "NOT"
    NEAR = "NEAR/n"
    LPAREN = "("
    RPAREN = ")"
    END = "end of query"


class Token(NamedTuple):
    """One token. A named tuple, not a frozen dataclass: it is built four times as fast, and
    compiling 10,000 rules makes some 100,000 of them."""

    kind: Kind
    text: str  # the word, the phrase's inside, the group or field name, or the operator as written
    start: int
    end: int
    distance: int = 0  # NEAR/n: n
    ordered: bool = False  # ONEAR


_OPEN_QUOTES = {'"': '"', "“": "”", "„": "“", "«": "»"}
_STOP = set(' \t\r\n()"“”„«»')
_UNTIL_STOP = re.compile('[^ \t\r\n()"“”„«»]*')  # a word's characters: none of _STOP
_NEAR = re.compile(r"(O?NEAR)(?:/(\S*))?$", re.IGNORECASE)
_FIELD = re.compile(r"([A-Za-z]+):(?=\S)")
_GROUP = re.compile(r"@([A-Za-z0-9_-]*)")
_OPERATORS = {"AND": Kind.AND, "OR": Kind.OR, "NOT": Kind.NOT}


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            tokens.append(Token(Kind.LPAREN if ch == "(" else Kind.RPAREN, ch, i, i + 1))
            i += 1
        elif ch in _OPEN_QUOTES:
            close = query.find(_OPEN_QUOTES[ch], i + 1)
            if ch == '"' and close < 0:
                close = query.find("”", i + 1)
            if close < 0:
                raise QueryError("this quote is never closed", query, i)
            tokens.append(Token(Kind.PHRASE, query[i + 1 : close], i, close + 1))
            i = close + 1
        elif ch in "”»":
            raise QueryError("closing quote without an opening one", query, i)
        elif ch == "=":
            if i + 1 >= n or query[i + 1].isspace() or query[i + 1] in "()":
                raise QueryError("= must be followed by a word or phrase, as in =IS", query, i)
            tokens.append(Token(Kind.CASE, "=", i, i + 1))
            i += 1
        elif ch == "@":
            m = _GROUP.match(query, i)
            assert m is not None
            end = m.end()
            if not m.group(1) or (end < n and query[end] not in _STOP):
                bad = end
                while bad < n and query[bad] not in _STOP:
                    bad += 1
                raise QueryError(
                    "a group name uses letters, digits, _ and -, as in @cities", query, i, bad
                )
            tokens.append(Token(Kind.GROUP, m.group(1), i, end))
            i = end
        else:
            field = _FIELD.match(query, i)
            if field is not None and not query[i].isdigit():
                name = field.group(1)
                if name.lower() not in FIELDS:
                    raise QueryError(
                        f"unknown field {name}: (fields: {', '.join(f + ':' for f in FIELDS)})",
                        query,
                        i,
                        field.end(),
                    )
                tokens.append(Token(Kind.FIELD, name.lower(), i, field.end()))
                i = field.end()
                continue
            end = _UNTIL_STOP.match(query, i).end()  # type: ignore[union-attr]  # * always matches
            tokens.append(_word_or_operator(query, i, end))
            i = end
    tokens.append(Token(Kind.END, "", n, n))
    return tokens


def _word_or_operator(query: str, start: int, end: int) -> Token:
    word = query[start:end]
    if word in _OPERATORS:
        return Token(_OPERATORS[word], word, start, end)
    near = _NEAR.match(word)
    if near is not None:
        op, arg = near.group(1), near.group(2)
        if op != op.upper():
            raise QueryError(f"write {op.upper()} in capitals", query, start, end)
        if arg is None:
            raise QueryError(f"{op} needs a distance in words, as in {op}/10", query, start, end)
        if not arg.isdigit() or not 1 <= int(arg) <= MAX_DISTANCE:
            raise QueryError(
                f"{op}/n needs a whole number of words from 1 to {MAX_DISTANCE}", query, start, end
            )
        return Token(Kind.NEAR, word, start, end, int(arg), op == "ONEAR")
    if word.upper() in _OPERATORS:
        raise QueryError(
            f"operators are written in capitals: {word.upper()}"
            f' (to search the word, write "{word}")',
            query,
            start,
            end,
        )
    star = word.find("*")
    if star >= 0 and star != len(word) - 1:
        raise QueryError("a wildcard * may only end a word, as in grave*", query, start + star)
    return Token(Kind.WORD, word, start, end)
