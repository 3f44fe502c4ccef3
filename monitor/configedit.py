"""configedit: add sources to the settings file in place, keeping every comment and the layout.

ruamel.yaml edits the file as a round trip (comments, key order, flow or block style, quotes,
indentation as found), so `monitor feeds add` and `monitor feeds import` append to `feeds:`
and touch nothing else. The new text is checked before it replaces the file: every line of the
old file must still be there, in order (only insertions), and the result must load as a valid
configuration with the very loader the daemon uses; otherwise the file is left as it was.
"""

from __future__ import annotations

import difflib
import io
import itertools
import os
import re
import tempfile
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml as yaml_1_1
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from monitor import config as config_mod
from monitor.errors import ConfigError, MonitorError

NAME_MAX = 40


def slug(text: str, fallback: str = "source") -> str:
    """A feed name from a title or host: lower-case ASCII words joined by '-'."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    words = re.findall(r"[a-z0-9]+", plain)
    name = "-".join(words)[:NAME_MAX].strip("-")
    return name or fallback


def unique_name(wanted: str, taken: Collection[str]) -> str:
    name, n = wanted, 2
    while name in taken:
        name = f"{wanted[: NAME_MAX - 4]}-{n}"
        n += 1
    return name


def _yaml(text: str) -> YAML:
    yaml = YAML()  # round trip
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long line the file had on one line
    mapping, offset = _indents(text)
    yaml.indent(mapping=mapping, sequence=offset + 2, offset=offset)
    # `null` stays `null` (ruamel would write nothing after the colon).
    yaml.representer.add_representer(
        type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    return yaml


_KEY_OPENS = re.compile(r"^(\s*)[^\s#-][^#]*:\s*(#.*)?$")
_INDENTED = re.compile(r"^(\s*)(-\s)?\S")


def _indents(text: str) -> tuple[int, int]:
    """How the file indents a block mapping under its key, and a list's dash under its key,
    from the first of each it has (ruamel's own guess takes nested mappings for the rule):
    2 and 2 by default, as in the shipped file."""
    mapping = offset = None
    lines = [
        line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]
    for above, line in itertools.pairwise(lines):
        opener = _KEY_OPENS.match(above)
        child = _INDENTED.match(line)
        if opener is None or child is None:
            continue
        step = len(child.group(1)) - len(opener.group(1))
        if child.group(2) and offset is None and step >= 0:
            offset = step
        elif not child.group(2) and mapping is None and step > 0:
            mapping = step
    return mapping or 2, 2 if offset is None else offset


def _scalar(value: Any) -> Any:
    """A string as written plain when the daemon's YAML reader (PyYAML, YAML 1.1) reads it back
    the same inside a flow mapping, else double-quoted: ruamel (YAML 1.2) writes `rss?a=b`
    plain, which PyYAML refuses."""
    if not isinstance(value, str):
        return value
    try:
        same = yaml_1_1.safe_load(f"{{k: {value}}}") == {"k": value}
    except yaml_1_1.YAMLError:
        same = False
    return value if same else DoubleQuotedScalarString(value)


def _flow(entry: Mapping[str, Any]) -> CommentedMap:
    """A source as one line (`- {name: …, url: …}`), like the shipped file's entries; its
    lists (tags) too."""
    out = CommentedMap()
    for key, value in entry.items():
        if isinstance(value, list):
            seq = CommentedSeq([_scalar(v) for v in value])
            seq.fa.set_flow_style()
            out[key] = seq
        else:
            out[key] = _scalar(value)
    out.fa.set_flow_style()
    return out


def add_sources(path: Path, entries: Sequence[Mapping[str, Any]]) -> str:
    """Append `entries` to `feeds:` in the settings file at `path` and return the new text.
    Raises MonitorError (file untouched) when that would change an existing line or make the
    configuration invalid."""
    original = path.read_text(encoding="utf-8")
    text = edited(original, entries)
    _check_only_added(original, text, path)
    before = _problems(path)
    _replace(path, text, original, before)
    return text


def _problems(path: Path) -> set[tuple[str, str]]:
    """The configuration's problems as (place, message), line numbers aside (they move)."""
    try:
        config_mod.load(path)
    except ConfigError as exc:
        return {(p.path, p.message) for p in exc.problems}
    return set()


def edited(original: str, entries: Sequence[Mapping[str, Any]]) -> str:
    """The settings text with `entries` appended to its `feeds:` list (made if missing)."""
    yaml = _yaml(original)
    data = yaml.load(original)
    if data is None:
        data = CommentedMap()
    if not isinstance(data, CommentedMap):
        raise MonitorError("the settings file is not a mapping of settings at the top level")
    feeds = data.get("feeds")
    if feeds is None:
        feeds = CommentedSeq()
        data["feeds"] = feeds
    if not isinstance(feeds, CommentedSeq):
        raise MonitorError("`feeds:` in the settings file is not a list")
    if not feeds and feeds.fa.flow_style():  # `feeds: []` becomes a block list
        feeds.fa.set_block_style()
    for entry in entries:
        feeds.append(_flow(entry))
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def _check_only_added(original: str, text: str, path: Path) -> None:
    old, new = original.splitlines(), text.splitlines()
    changed = [
        line
        for tag, i1, i2, _, _ in difflib.SequenceMatcher(
            None, old, new, autojunk=False
        ).get_opcodes()
        if tag in ("replace", "delete")
        for line in old[i1:i2]
        if not re.match(r"feeds:\s*\[\s*\]", line)  # an empty list written inline grows
    ]
    if changed:
        raise MonitorError(
            f"{path}: adding the source would rewrite existing lines "
            f"(first: {changed[0].strip()[:80]!r}); the file was not changed",
            hint="add the source by hand under `feeds:`; `monitor check` validates it",
        )


def _replace(path: Path, text: str, original: str, before: set[tuple[str, str]]) -> None:
    """Write `text` over `path` atomically (same mode), then load it as the daemon would; put
    the original back if that finds a problem the file did not have `before` (an unset
    variable the file already used is no reason to refuse)."""
    mode = path.stat().st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    new = sorted(_problems(path) - before)
    if new:
        path.write_text(original, encoding="utf-8")
        place, message = new[0]
        raise MonitorError(
            f"{path}: the result would not load ({place}: {message}); the file was not changed",
            hint="`monitor check` shows what is wrong with the file as it is",
        )
