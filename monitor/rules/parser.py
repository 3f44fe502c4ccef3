"""parser: a query string → a syntax tree (`query.Node`), or a `QueryError` naming the column.

Precedence, tightest first: field scopes and `=`; NEAR/n and ONEAR/n; NOT; AND (written or implied
by words side by side); OR. Words side by side next to an OR are refused as ambiguous, because
`Falluja OR Fallujah offensive` reads either way; parentheses settle it.

A query nests at most `MAX_DEPTH` levels (each parenthesis, NOT and NEAR/n of a chain is one):
the parser and every stage after it walk the tree recursively, and 500 parentheses would end
in a RecursionError instead of a located problem.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Iterator

from monitor.rules import normalize
from monitor.rules.lexer import Kind, QueryError, Token, tokenize
from monitor.rules.query import And, Group, Near, Node, Not, Or, Term

MIN_PREFIX = 3
MAX_DEPTH = 50
_STARTS = {Kind.WORD, Kind.PHRASE, Kind.GROUP, Kind.FIELD, Kind.CASE, Kind.LPAREN, Kind.NOT}
_SCOPABLE = {Kind.WORD, Kind.PHRASE, Kind.GROUP, Kind.CASE, Kind.LPAREN}
_QUOTES = {'"': '"', "“": "”", "„": "“", "«": "»"}


def parse(query: str) -> Node:
    """Parse one query."""
    return _Parser(query).parse()


def parse_member(text: str) -> Term:
    """Parse one member of a group: a literal word or phrase (no operators), optionally `=` for
    case-sensitive and ending in `*` for a prefix. Words of an unquoted member form a phrase."""
    body = text.strip()
    offset = len(text) - len(text.lstrip())
    case = body.startswith("=")
    if case:
        body, offset = body[1:], offset + 1
    if body[:1] in _QUOTES and body.endswith(_QUOTES[body[0]]) and len(body) > 1:
        body, offset = body[1:-1], offset + 1
    return _term(text, body, offset, case, None, (text.strip(), 0, len(text)))


def _term(
    query: str, body: str, offset: int, case: bool, field: str | None, node: tuple[str, int, int]
) -> Term:
    """A Term for `body`, which sits at column `offset` of `query`; `node` is (label, start, end)
    of the whole term as written (with its quotes and `=`)."""
    wildcard = body.endswith("*")
    star = body.find("*")
    if 0 <= star < len(body) - 1:
        raise QueryError("a wildcard * may only end the last word", query, offset + star)
    core = body[:-1] if wildcard else body
    words = _words(core)
    end = offset + len(body)
    label, node_start, node_end = node
    if not words:
        raise QueryError("nothing to search for here (no letters or digits)", query, offset, end)
    if wildcard and (not core[-1:].isalnum() or len(words[-1]) < MIN_PREFIX):
        raise QueryError(
            f"a wildcard needs at least {MIN_PREFIX} letters before *, as in grave*",
            query,
            offset,
            end,
        )
    joined = _words(normalize.without_inner_apostrophes(core))
    return Term(
        label, words, wildcard, case, field, node_start, node_end, () if joined == words else joined
    )


@functools.lru_cache(maxsize=65536)  # rules repeat their words and phrases; folding is pure
def _words(text: str) -> tuple[str, ...]:
    return tuple(normalize.words(text))


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = tokenize(query)
        self.i = 0
        self.field: str | None = None
        self.depth = 0  # nesting of the node being parsed

    def deeper(self, token: Token, levels: int = 1) -> None:
        if self.depth + levels > MAX_DEPTH:
            raise self.error(
                f"the query nests deeper than {MAX_DEPTH} levels here (each parenthesis, NOT and"
                " NEAR/n of a chain is one); write it as several rules",
                token,
            )

    @contextlib.contextmanager
    def nested(self, token: Token) -> Iterator[None]:
        """Parse what `token` opens one level deeper."""
        self.deeper(token)
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1

    def peek(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def error(self, message: str, token: Token) -> QueryError:
        return QueryError(message, self.query, token.start, token.end)

    def parse(self) -> Node:
        if self.peek().kind is Kind.END:
            raise QueryError("the query is empty", self.query, 0)
        node = self.or_()
        token = self.peek()
        if token.kind is Kind.RPAREN:
            raise self.error("this ) closes nothing", token)
        if token.kind is not Kind.END:  # pragma: no cover - every other token starts an operand
            raise self.error(f"unexpected {token.text}", token)
        return node

    def or_(self) -> Node:
        children = [self.and_()]
        while self.peek().kind is Kind.OR:
            self.advance()
            children.append(self.and_())
        if len(children) == 1:
            return children[0]
        for child in children:
            if isinstance(child, And) and child.implicit_at is not None:
                raise QueryError(
                    "words side by side mean AND; next to OR that is ambiguous: add parentheses,"
                    " as in (a OR b) c, or write AND",
                    self.query,
                    child.implicit_at,
                )
        return Or(tuple(children), children[0].start, children[-1].end)

    def and_(self) -> Node:
        children = [self.not_()]
        implicit: int | None = None
        while True:
            token = self.peek()
            if token.kind is Kind.AND:
                self.advance()
            elif token.kind in _STARTS:
                implicit = token.start if implicit is None else implicit
            else:
                break
            children.append(self.not_())
        if len(children) == 1:
            return children[0]
        return And(tuple(children), children[0].start, children[-1].end, implicit)

    def not_(self) -> Node:
        token = self.peek()
        if token.kind is Kind.NOT:
            self.advance()
            with self.nested(token):
                child = self.not_()
            return Not(child, token.start, child.end)
        return self.near()

    def near(self) -> Node:
        left = self.primary()
        chain = 0
        while self.peek().kind is Kind.NEAR:
            op = self.advance()
            chain += 1
            self.deeper(op, chain)
            right = self.primary()
            for side in (left, right):
                bad = _not_proximity_operand(side)
                if bad is not None:
                    raise QueryError(
                        f"{op.text} needs a word, phrase, @group or (… OR …) on each side,"
                        f" not {bad}",
                        self.query,
                        side.start,
                        side.end,
                    )
            left = Near(left, right, op.distance, op.ordered, left.start, right.end)
        return left

    def primary(self) -> Node:
        token = self.advance()
        if token.kind is Kind.FIELD:
            if self.field is not None:
                raise self.error(f"{token.text}: inside {self.field}: (scopes do not nest)", token)
            self.field = token.text
            try:
                if self.peek().kind not in _SCOPABLE:
                    raise self.error(
                        f"{token.text}: must be followed by a word, phrase, @group or (", token
                    )
                node = self.primary()
            finally:
                self.field = None
            return node
        if token.kind is Kind.CASE:
            term = self.advance()
            if term.kind not in (Kind.WORD, Kind.PHRASE):
                raise self.error("= must be followed by a word or phrase, as in =IS", token)
            return self.term(term, case=True, start=token.start)
        if token.kind in (Kind.WORD, Kind.PHRASE):
            return self.term(token, case=False, start=token.start)
        if token.kind is Kind.GROUP:
            return Group(token.text, self.field, token.start, token.end)
        if token.kind is Kind.LPAREN:
            if self.peek().kind is Kind.RPAREN:
                raise QueryError("empty parentheses", self.query, token.start, self.peek().end)
            with self.nested(token):
                node = self.or_()
            if self.peek().kind is not Kind.RPAREN:
                raise self.error("this ( is never closed", token)
            end = self.advance().end
            if isinstance(node, And):  # parentheses settle what the words side by side mean
                return dataclasses.replace(node, start=token.start, end=end, implicit_at=None)
            return dataclasses.replace(node, start=token.start, end=end)
        if token.kind is Kind.END:
            raise self.error("the query ends where a word, phrase or @group was expected", token)
        if token.kind is Kind.RPAREN:
            raise self.error("expected a word, phrase or @group before this )", token)
        raise self.error(f"{token.text} needs a word, phrase or @group before it", token)

    def term(self, token: Token, case: bool, start: int) -> Term:
        node = (self.query[start : token.end], start, token.end)
        if token.kind is Kind.PHRASE:
            if not token.text.strip():
                raise self.error("empty phrase", token)
            return _term(self.query, token.text, token.start + 1, case, self.field, node)
        return _term(self.query, token.text, token.start, case, self.field, node)


def _not_proximity_operand(node: Node) -> str | None:
    """What makes `node` unfit beside NEAR/ONEAR (None if it fits)."""
    if isinstance(node, And):
        return "an AND"
    if isinstance(node, Not):
        return "a NOT"
    if isinstance(node, Or):
        for child in node.children:
            bad = _not_proximity_operand(child)
            if bad is not None:
                return bad
    return None
