"""yamlfile: a YAML file → plain data, plus the line of every key, so errors can name file:line.

PyYAML's safe loader builds the data; a second walk over the same node tree records where each
key and list item sits. `${VAR}` and `${VAR:-default}` are expanded in string values only (never
textually, so an environment value cannot inject YAML). Validation errors from pydantic are turned
into `Problem`s located by the longest known prefix of their path.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

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

    def line(self, loc: Loc) -> int | None:
        """The line of the longest prefix of `loc` that the file spells out."""
        for end in range(len(loc), -1, -1):
            found = self.lines.get(tuple(loc[:end]))
            if found is not None:
                return found
        return None

    def problem(self, loc: Loc, message: str) -> Problem:
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


def parse(text: str, name: str, *, env: Mapping[str, str]) -> tuple[Document, list[Problem]]:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
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
    return "[" in part or part in {"str", "int", "float", "bool", "list", "dict", "literal"}


def _message(err: Any) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; `monitor schema` lists every key)"
    if kind == "missing":
        return "required key is missing"
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
