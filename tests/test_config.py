"""Config loading: what a user writes, what they are told when it is wrong."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from monitor import config as config_mod
from monitor.channels.webhook import WebhookSettings
from monitor.errors import ConfigError
from tests.conftest import ROOT

WATCHLIST = """\
version: 1
name: iraq-conflict
feeds: all
channels: [hook, log]
groups:
  cities: [Falluja, Fallujah, Tal Afar, Telafar, Mosul, Ramadi]
rules:
  - {name: offensive, query: "offensive NEAR/15 @cities", severity: high}
  - {name: mass-grave, query: '"mass grave" OR "mass graves"', severity: critical}
"""

SETTINGS = """\
version: 1
database: sqlite:///data/monitor.db
watchlists: watchlists/*.yaml
fetch: {interval: 10m, timeout: 20s, max_bytes: 5MB, per_host: 2, allow_private_networks: false}
feeds:
  - {name: bbc, url: https://feeds.example.org/bbc.xml}
  - {name: aj, url: https://feeds.example.org/aj.xml, interval: 5m}
channels:
  hook: {kind: webhook, url: https://example.org/hook, secret: "${HOOK_SECRET}"}
  log: {kind: log}
"""


def write(tmp: Path, settings: str = SETTINGS, watchlist: str = WATCHLIST) -> Path:
    (tmp / "watchlists").mkdir(exist_ok=True)
    (tmp / "watchlists" / "iraq.yaml").write_text(watchlist)
    (tmp / "monitor.yaml").write_text(settings)
    return tmp / "monitor.yaml"


def problems(path: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        config_mod.load(path, env=env or {"HOOK_SECRET": "s3cret-value"})
    return [str(p) for p in info.value.problems]


def test_the_documented_example_loads(tmp_path: Path) -> None:
    config = config_mod.load(write(tmp_path), env={"HOOK_SECRET": "s3cret-value"})
    fetch = config.settings.fetch
    assert (fetch.interval, fetch.timeout, fetch.max_bytes, fetch.per_host) == (
        600,
        20,
        5_000_000,
        2,
    )
    assert [config.feed_interval(f) for f in config.settings.feeds] == [600, 300]
    hook = config.channels["hook"]
    assert isinstance(hook, WebhookSettings)
    assert hook.secret is not None and hook.secret.get_secret_value() == "s3cret-value"
    assert "s3cret" not in repr(hook)
    assert [w.name for w in config.watchlists] == ["iraq-conflict"]
    # Relative SQLite paths are relative to the config file, like the watchlists.
    assert config.database_url == f"sqlite:///{tmp_path}/data/monitor.db"


def test_shipped_config_directory_is_valid() -> None:
    config = config_mod.load(ROOT / "config" / "monitor.yaml", env={})
    assert {w.name for w in config.watchlists} == {"iraq-conflict"}
    assert set(config.channels) == {"desk-hook", "log"}


def test_environment_overrides_and_defaults(tmp_path: Path) -> None:
    settings = SETTINGS.replace('"${HOOK_SECRET}"', '"${HOOK_SECRET:-fallback-secret}"')
    path = write(tmp_path, settings)
    config = config_mod.load(
        path, env={"MONITOR_DATABASE_URL": "sqlite:////srv/m.db", "MONITOR_LOG_LEVEL": "debug"}
    )
    assert config.database_url == "sqlite:////srv/m.db"
    assert config.settings.log.level == "debug"
    hook = config.channels["hook"]
    assert isinstance(hook, WebhookSettings) and hook.secret is not None
    assert hook.secret.get_secret_value() == "fallback-secret"


def test_database_url_from_a_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "db-url"
    secret.write_text("postgresql+psycopg://monitor:pw@db/monitor\n")
    config = config_mod.load(
        write(tmp_path), env={"HOOK_SECRET": "x" * 8, "MONITOR_DATABASE_URL_FILE": str(secret)}
    )
    assert config.database_url == "postgresql+psycopg://monitor:pw@db/monitor"


def test_unset_variable_names_file_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path)
    assert problems(path, env={"UNRELATED": "1"}) == [
        f"{path}:9: channels.hook.secret: environment variable HOOK_SECRET is not set"
    ]


def test_typo_in_settings_names_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, SETTINGS.replace("per_host: 2", "per_hots: 2"))
    found = problems(path)
    assert len(found) == 1
    assert found[0].startswith(f"{path}:4: fetch.per_hots: unknown key")


def test_typo_in_watchlist_names_that_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, watchlist=WATCHLIST.replace("severity: critical", "severity: critcal"))
    found = problems(path)
    assert len(found) == 1
    assert found[0].startswith(f"{tmp_path / 'watchlists' / 'iraq.yaml'}:9: rules[1].severity:")
    assert "'critical'" in found[0]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    settings = SETTINGS.replace("interval: 10m", "interval: ten minutes").replace(
        "kind: log", "kind: pager"
    )
    watchlist = WATCHLIST.replace("channels: [hook, log]", "channels: [hook, log, desk]").replace(
        "feeds: all", "feeds: [bbc, reuters]"
    )
    found = problems(write(tmp_path, settings, watchlist))
    text = "\n".join(found)
    assert "fetch.interval: 'ten minutes' is not a duration" in text
    assert "channels.log.kind: unknown channel kind 'pager'; known: log, webhook" in text
    # The watchlist still gets checked, and its references to missing things are named.
    assert "iraq.yaml:3: feeds[1]: no feed named 'reuters'" in text
    assert "iraq.yaml:4: channels[2]: no channel 'desk'" in text


def test_a_watchlist_with_a_bad_value_is_still_checked_for_the_rest(tmp_path: Path) -> None:
    watchlist = """\
version: 1
name: iraq-conflict
channels: [log, desk]
feeds: [bbc, reuters]
groups:
  cities: [Mosul]
rules:
  - {query: orphan, severity: high}
  - {name: offensive, query: "offensive NEAR/15 @citiez", severity: urgent}
  - {name: grave, query: '"mass grave" OR (', sevrity: critical}
"""
    found = problems(write(tmp_path, watchlist=watchlist))
    at = f"{tmp_path / 'watchlists' / 'iraq.yaml'}:"
    assert [" ".join(p.split(" ")[:2]) for p in found] == [
        f"{at}8: rules[0].name:",
        f"{at}9: rules[1].severity:",
        f"{at}10: rules[2].sevrity:",
        # Found only by checking what remains valid once those values are set aside.
        f"{at}3: channels[1]:",
        f"{at}4: feeds[1]:",
        f"{at}9: rules[1].query:",
        f"{at}10: rules[2].query:",
    ]
    assert "@citiez" in found[5] and "no channel 'desk'" in found[3]


def test_salvage_sets_aside_only_what_is_wrong(tmp_path: Path) -> None:
    # A value both branches of a union reject is reported twice and set aside once; a group set
    # aside is still a known name, so the query naming it is not an "unknown group".
    watchlist = """\
version: 1
name: iraq-conflict
channels: [log, desk]
stem: frenchh
groups:
  towns: oops
  cities: [Mosul]
rules:
  - {name: offensive, query: "offensive NEAR/15 (@cities OR @towns)"}
  - {name: grave, query: '"mass grave" OR @citys'}
"""
    found = "\n".join(problems(write(tmp_path, watchlist=watchlist)))
    assert ":4: stem:" in found and ":6: groups.towns:" in found
    assert ".PlacesGroup" not in found  # a union member's name is no place in the file
    assert ":3: channels[1]: no channel 'desk'" in found
    assert ":10: rules[1].query: unknown group @citys (groups: @cities, @towns)" in found
    assert "rules[0]" not in found


def test_bad_query_is_a_config_error_in_the_watchlist(tmp_path: Path) -> None:
    watchlist = WATCHLIST.replace("offensive NEAR/15 @cities", "offensive NEAR/15 @towns")
    found = problems(write(tmp_path, watchlist=watchlist))
    assert len(found) == 1
    assert found[0].startswith(f"{tmp_path / 'watchlists' / 'iraq.yaml'}:8: rules[0].query:")
    assert "towns" in found[0]


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, SETTINGS.replace("feeds:\n", "feeds:\n  - {name: x, url: [\n", 1))
    (found,) = problems(path)
    assert found.startswith(f"{path}:") and "YAML syntax" in found


def test_missing_files(tmp_path: Path) -> None:
    assert problems(tmp_path / "nope.yaml") == [f"{tmp_path / 'nope.yaml'}: no such file"]
    path = write(tmp_path, SETTINGS.replace("watchlists/*.yaml", "lists/iraq.yaml"))
    assert problems(path) == [f"{path}:3: watchlists: no such file: {tmp_path}/lists/iraq.yaml"]
    path = write(tmp_path, SETTINGS.replace("watchlists/*.yaml", "watchlist/*.yaml"))
    assert problems(path) == [
        f"{path}:3: watchlists: no watchlist file matches {tmp_path}/watchlist/*.yaml"
    ]
    # Beside a pattern that finds watchlists, one that finds none (an empty extra folder) is fine.
    path = write(
        tmp_path, SETTINGS.replace("watchlists/*.yaml", "[watchlists/*.yaml, extra/*.yaml]")
    )
    assert [w.name for w in config_mod.load(path, env={"HOOK_SECRET": "s"}).watchlists] == [
        "iraq-conflict"
    ]


def test_duplicate_names_are_refused(tmp_path: Path) -> None:
    settings = SETTINGS.replace("name: aj,", "name: bbc,")
    watchlist = WATCHLIST.replace("name: mass-grave", "name: offensive")
    text = "\n".join(problems(write(tmp_path, settings, watchlist)))
    assert "feed names must be unique: bbc" in text
    assert "two rules are named 'offensive'" in text


def test_feed_url_must_be_http(tmp_path: Path) -> None:
    (found,) = problems(
        write(tmp_path, SETTINGS.replace("https://feeds.example.org/bbc.xml", "file:///etc/passwd"))
    )
    assert ":6: feeds[0].url:" in found


def test_json_schema_covers_both_files_and_every_channel_kind() -> None:
    schemas = config_mod.json_schema()
    settings, watchlist = schemas["monitor.yaml"], schemas["watchlist"]
    assert {"database", "watchlists", "fetch", "feeds", "channels"} <= set(settings["properties"])
    kinds = {
        v["properties"]["kind"]["const"]
        for v in settings["properties"]["channels"]["additionalProperties"]["oneOf"]
    }
    assert {"webhook", "log"} <= kinds
    assert {"name", "feeds", "channels", "groups", "rules"} <= set(watchlist["properties"])
    json.dumps(schemas)  # serialisable as is


def test_json_schema_is_valid_and_accepts_the_shipped_files() -> None:
    schemas = config_mod.json_schema()
    for schema in schemas.values():
        Draft202012Validator.check_schema(schema)
    settings = Draft202012Validator(schemas["monitor.yaml"])
    shipped = yaml.safe_load((ROOT / "config" / "monitor.yaml").read_text())
    assert "${" in shipped["channels"]["desk-hook"]["url"]  # a value from the environment
    assert not list(settings.iter_errors(shipped))
    watchlist = Draft202012Validator(schemas["watchlist"])
    for path in (ROOT / "config" / "watchlists").glob("*.yaml"):
        assert not list(watchlist.iter_errors(yaml.safe_load(path.read_text()))), path
    # What an editor should flag, it flags.
    shipped["fetch"]["per_host"] = "lots"
    shipped["channels"]["log"]["min_severity"] = "urgent"
    flagged = {tuple(e.path) for e in settings.iter_errors(shipped)}
    assert flagged == {("fetch", "per_host"), ("channels", "log")}
    # A list cannot come from one variable: "${CHANNELS}" would load as a single string.
    listed = {
        "version": 1,
        "name": "w",
        "channels": "${CHANNELS}",
        "rules": [{"name": "r", "query": "q"}],
    }
    assert {tuple(e.path) for e in watchlist.iter_errors(listed)} == {("channels",)}


def test_committed_schema_files_are_current() -> None:
    schemas = config_mod.json_schema()
    for name, key in (
        ("monitor.schema.json", "monitor.yaml"),
        ("watchlist.schema.json", "watchlist"),
    ):
        committed = json.loads((ROOT / "config" / "schema" / name).read_text())
        assert committed == schemas[key], "regenerate with: monitor schema --write config/schema"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("10m", 600), ("1h30m", 5400), ("2d", 172800), ("500ms", 0.5)],
)
def test_durations(tmp_path: Path, text: str, seconds: float) -> None:
    path = write(tmp_path, SETTINGS.replace("interval: 10m", f"interval: {text}"))
    assert config_mod.load(path, env={"HOOK_SECRET": "x" * 8}).settings.fetch.interval == seconds


def test_sizes(tmp_path: Path) -> None:
    for text, size in (("512KB", 512_000), ("1MiB", 1_048_576), ("2000", 2000)):
        path = write(tmp_path, SETTINGS.replace("max_bytes: 5MB", f"max_bytes: {text}"))
        assert config_mod.load(path, env={"HOOK_SECRET": "x" * 8}).settings.fetch.max_bytes == size


def test_env_value_cannot_inject_yaml(tmp_path: Path) -> None:
    injected = "x\nchannels: {}"
    config = config_mod.load(write(tmp_path), env={"HOOK_SECRET": injected})
    hook = config.channels["hook"]
    assert isinstance(hook, WebhookSettings) and hook.secret is not None
    assert hook.secret.get_secret_value() == injected
    assert set(config.channels) == {"hook", "log"}


def test_readme_yaml_examples_load(tmp_path: Path) -> None:
    """Every ```yaml block in the README is valid for the file its first line names: the
    settings file, a watchlist, or a fragment under `channels:`."""
    readme = (ROOT / "README.md").read_text()
    blocks = [b.split("```", 1)[0] for b in readme.split("```yaml\n")[1:]]
    settings = [b for b in blocks if b.startswith("# config/monitor.yaml")]
    watchlists = [b for b in blocks if b.startswith("# config/watchlists/")]
    fragments = [b for b in blocks if b.startswith("# in monitor.yaml, under channels:")]
    sources = [b for b in blocks if b.startswith("# in monitor.yaml, under feeds:")]
    assert len(settings) == 1 and watchlists and fragments and sources
    assert len(settings) + len(watchlists) + len(fragments) + len(sources) == len(blocks), (
        "unlabelled YAML"
    )
    (tmp_path / "watchlists").mkdir()
    for i, block in enumerate(watchlists):
        (tmp_path / "watchlists" / f"{i}.yaml").write_text(block)
    env = {"WEBHOOK_SECRET": "x" * 12}
    (tmp_path / "monitor.yaml").write_text(settings[0])
    config = config_mod.load(tmp_path / "monitor.yaml", env=env)
    assert len(config.watchlists) == len(watchlists)
    for block in fragments:
        channels = textwrap.indent(block, "  ")
        (tmp_path / "monitor.yaml").write_text(
            settings[0].split("channels:")[0] + "channels:\n" + channels + "  log: {kind: log}\n"
        )
        (tmp_path / "watchlists" / "0.yaml").write_text(watchlists[0].replace("desk-hook, ", ""))
        assert config_mod.load(tmp_path / "monitor.yaml", env=env).channels
    for block in sources:
        (tmp_path / "monitor.yaml").write_text(
            settings[0].replace("feeds:\n", "feeds:\n" + textwrap.indent(block, "  "), 1)
        )
        added = config_mod.load(tmp_path / "monitor.yaml", env=env).settings.feeds[0]
        assert added.name in block
