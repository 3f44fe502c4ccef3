"""yamlfile: a YAML file → plain data, plus the line of every key, so errors can name file:line.

PyYAML's safe loader builds the data; a second walk over the same node tree records where each
key and list item sits. `${VAR}` and `${VAR:-default}` are expanded in string values only (never
textually, so an environment value cannot inject YAML), and each value taken from the
environment is noted, so that one in a URL can be kept out of logs. Validation errors from
pydantic are turned into `Problem`s located by the longest known prefix of their path.

Aliases are references while the file is read, but every later walk (lines, `${VAR}`,
validation) meets each of them in full: nine levels of nine aliases are 387 million values. So
the loader counts what the aliases would expand to and refuses a file where that passes
`MAX_ALIAS_VALUES` (or ten times the file's own values, for a large file), an alias inside the
collection it names, and nesting deeper than `MAX_DEPTH`, each as a problem at its line.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from monitor.errors import Problem

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass
class Document:
    """A loaded YAML file: its data and where each path was written."""

    file: str
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)
    # For data that `salvage` trimmed: a place in `data` as the file's place.
    origin: Callable[[Loc], Loc] | None = None
    # (place, variable, value) of each value taken from the environment by `${VAR}`.
    from_env: list[tuple[Loc, str, str]] = field(default_factory=list)

    def line(self, loc: Loc) -> int | None:
        """The line of the longest prefix of `loc` that the file spells out."""
        for end in range(len(loc), -1, -1):
            found = self.lines.get(tuple(loc[:end]))
            if found is not None:
                return found
        return None

    def problem(self, loc: Loc, message: str) -> Problem:
        if self.origin is not None:
            loc = self.origin(loc)
        return Problem(self.file, self.line(loc), dotted(loc), message)


def dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load(path: Path, *, env: Mapping[str, str] | None = None) -> tuple[Document, list[Problem]]:
    """Read and expand one file. Problems (syntax, unset variables) are returned, not raised."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return Document(name, None), [Problem(name, None, "", f"cannot read: {exc.strerror}")]
    except UnicodeDecodeError as exc:
        return Document(name, None), [Problem(name, None, "", f"not UTF-8 text ({exc.reason})")]
    return parse(text, name, env=os.environ if env is None else env)


MAX_ALIAS_VALUES = 1_000_000
MAX_DEPTH = 100


class _Refused(Exception):
    def __init__(self, message: str, mark: Any) -> None:
        super().__init__(message)
        self.message, self.mark = message, mark


def _events_loader() -> Any:
    """A safe loader whose events come from libyaml (four times as fast as PyYAML's own scanner:
    100,000 feeds are checked in seconds) and whose composer is PyYAML's Python one, which can
    be watched (the C composer cannot); PyYAML's own loader where it was built without libyaml."""
    try:
        from yaml._yaml import CParser
    except ImportError:  # pragma: no cover
        return yaml.SafeLoader

    class Loader(Composer, CParser, SafeConstructor, Resolver):
        def __init__(self, text: str) -> None:
            CParser.__init__(self, text)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)

    return Loader


class _Loader(_events_loader()):  # type: ignore[misc]
    """The safe loader, counting as it composes: the values each alias stands for (a node's
    expanded size, worked out once per node), the file's own values, and the depth."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.own = 0
        self.aliased: list[tuple[int, Any]] = []  # running total of alias values, at each alias
        self._sizes: dict[int, int] = {}
        self._ancestors: list[Any] = []  # the collections around the node being composed

    def compose_node(self, parent: Any, index: Any) -> Any:
        mark = self.peek_event().start_mark
        if self.check_event(yaml.AliasEvent):
            node = super().compose_node(parent, index)
            assert node is not None  # an alias always names a node
            if node is parent or any(node is p for p in self._ancestors):
                raise _Refused("an alias inside the collection it names: an endless value", mark)
            total = (self.aliased[-1][0] if self.aliased else 0) + self._size(node)
            self.aliased.append((total, mark))
            return node
        if len(self._ancestors) >= MAX_DEPTH:
            raise _Refused(f"nested deeper than {MAX_DEPTH} levels", mark)
        self.own += 1
        self._ancestors.append(parent)
        try:
            return super().compose_node(parent, index)
        finally:
            self._ancestors.pop()

    def _size(self, node: yaml.Node) -> int:
        found = self._sizes.get(id(node))
        if found is None:
            if isinstance(node, yaml.SequenceNode):
                found = 1 + sum(self._size(child) for child in node.value)
            elif isinstance(node, yaml.MappingNode):
                found = 1 + sum(self._size(k) + self._size(v) for k, v in node.value)
            else:
                found = 1
            self._sizes[id(node)] = found
        return found

    def check_aliases(self) -> None:
        limit = max(MAX_ALIAS_VALUES, 10 * self.own)
        if self.aliased and self.aliased[-1][0] > limit:
            mark = next(mark for total, mark in self.aliased if total > limit)
            raise _Refused(
                f"aliases here expand the file past {limit:,} values (an alias bomb?); "
                "write the repeated values out instead",
                mark,
            )


def parse(text: str, name: str, *, env: Mapping[str, str]) -> tuple[Document, list[Problem]]:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        loader.check_aliases()
        data = loader.construct_document(node) if node is not None else None
    except _Refused as exc:
        return Document(name, None), [Problem(name, exc.mark.line + 1, "", exc.message)]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        what = " ".join(s for s in (exc.context, exc.problem) if s)
        return Document(name, None), [Problem(name, line, "", f"YAML syntax: {what}")]
    except yaml.YAMLError as exc:
        return Document(name, None), [Problem(name, None, "", f"YAML syntax: {exc}")]
    finally:
        loader.dispose()
    doc = Document(name, data)
    if node is not None:
        _record_lines(node, (), doc.lines)
    problems: list[Problem] = []
    doc.data = _expand(data, (), doc, env, problems)
    return doc, problems


def _record_lines(node: yaml.Node, loc: Loc, lines: dict[Loc, int]) -> None:
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                child = (*loc, key.value)
                lines[child] = key.start_mark.line + 1
                _record_lines(value, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_lines(item, (*loc, index), lines)


def _expand(value: Any, loc: Loc, doc: Document, env: Mapping[str, str], out: list[Problem]) -> Any:
    if isinstance(value, str) and "${" in value:

        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in env and env[name] != "":
                doc.from_env.append((loc, name, env[name]))
                return env[name]
            if default is not None:
                return default
            out.append(doc.problem(loc, f"environment variable {name} is not set"))
            return ""

        return _ENV.sub(sub, value)
    if isinstance(value, dict):
        return {k: _expand(v, (*loc, k), doc, env, out) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, (*loc, i), doc, env, out) for i, v in enumerate(value)]
    return value


def validate(
    model: type[M], doc: Document, *, base: Loc = (), context: dict[str, Any] | None = None
) -> tuple[M | None, list[Problem]]:
    """Validate `doc.data` (or the part at `base`) with `model`; errors become located problems."""
    data: Any = doc.data
    for part in base:
        data = data[part]
    try:
        return model.model_validate(data, context=context), []
    except ValidationError as exc:
        return None, problems_from(exc, doc, base)


_GONE = object()  # a list item that salvage() took out (kept in place so indices stay put)
SALVAGE_ROUNDS = 8


def salvage(model: type[M], doc: Document) -> tuple[M | None, Document]:
    """What is still valid in a file that failed validation: the same data with each invalid
    value taken out (a key whose value is wrong; the item or section around a key that is
    missing), validated again, so the checks that need a model (names of channels and feeds,
    rule queries) still run over the rest and one `monitor check` lists every problem. Returns
    that model, or None when nothing usable is left, and the trimmed document, whose problems
    name the file's places."""
    data = copy.deepcopy(doc.data)
    for _ in range(SALVAGE_ROUNDS):
        trimmed = _Trimmed(data)
        try:
            return model.model_validate(trimmed.data), trimmed.document(doc)
        except ValidationError as exc:
            locs = {trimmed.original(_clean_loc(err["loc"])): None for err in exc.errors()}
        removed: list[Loc] = []
        for loc in locs:  # a union's branches may each report one place: take it out once
            if any(loc[: len(gone)] == gone for gone in removed):
                continue
            gone = _take_out(data, loc)
            if gone is None:
                return None, doc
            removed.append(gone)
    return None, doc


def _take_out(data: Any, loc: Loc) -> Loc | None:
    """Remove the value at `loc` or, where the file has none (a missing key), the mapping or
    item that lacks it, and say which place went; None when that would be the whole file."""
    trail: list[tuple[Any, str | int]] = []
    node = data
    for part in loc:
        held = isinstance(node, dict) and part in node
        listed = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if not (held or listed):
            break
        trail.append((node, part))
        node = node[part]
    if not trail:
        return None
    parent, key = trail[-1]
    if isinstance(parent, list):
        parent[key] = _GONE  # type: ignore[index]
    else:
        del parent[key]
    return tuple(k for _, k in trail)


class _Trimmed:
    """The salvaged data without the items taken out, and the way back to the file's places."""

    def __init__(self, data: Any) -> None:
        self._with_gaps = data
        self.data = self._without(data)

    def _without(self, node: Any) -> Any:
        if isinstance(node, dict):
            return {k: self._without(v) for k, v in node.items()}
        if isinstance(node, list):
            return [self._without(v) for v in node if v is not _GONE]
        return node

    def original(self, loc: Loc) -> Loc:
        """A place in the trimmed data as the file's place."""
        out: list[str | int] = []
        node = self._with_gaps
        for part in loc:
            if isinstance(node, list) and isinstance(part, int):
                kept = [i for i, v in enumerate(node) if v is not _GONE]
                part = kept[part] if 0 <= part < len(kept) else part
                node = node[part] if 0 <= part < len(node) else None
            else:
                node = node.get(part) if isinstance(node, dict) else None
            out.append(part)
        return tuple(out)

    def document(self, doc: Document) -> Document:
        return Document(doc.file, self.data, doc.lines, origin=self.original)


def problems_from(exc: ValidationError, doc: Document, base: Loc = ()) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = (*base, *_clean_loc(err["loc"]))
        problems.append(doc.problem(loc, _message(err)))
    return problems


def _clean_loc(loc: tuple[Any, ...]) -> Loc:
    # pydantic inserts union member names ("function-after[...]", "str") into locations;
    # only the parts that exist in the user's YAML help them find the place.
    return tuple(p for p in loc if isinstance(p, int) or not _is_internal(str(p)))


def _is_internal(part: str) -> bool:
    return (
        "[" in part
        or part in {"str", "int", "float", "bool", "list", "dict", "literal"}
        or part in _model_names()  # a union's member: "groups.cities.PlacesGroup"
    )


def _model_names() -> set[str]:
    """The names of the config models (recomputed as models are imported: few, and cheap)."""
    seen: set[type] = set()
    todo: list[type] = [BaseModel]
    while todo:
        subclasses: list[type] = todo.pop().__subclasses__()
        for sub in subclasses:
            if sub not in seen:
                seen.add(sub)
                todo.append(sub)
    return {c.__name__ for c in seen if c.__module__.startswith("monitor.")}


def _message(err: Any) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; `monitor schema` lists every key)"
    if kind == "missing":
        return "required key is missing"
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
