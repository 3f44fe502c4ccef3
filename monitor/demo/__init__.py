"""demo: the whole pipeline offline. Serves the bundled sample feeds and pages on 127.0.0.1,
runs one cycle into a temporary SQLite database, and prints the alerts it sent."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from pathlib import Path

from monitor import config as config_mod
from monitor import log
from monitor.channels import render
from monitor.daemon import once
from monitor.demo.server import serve
from monitor.model import AlertStatus
from monitor.storage import Store
from monitor.storage import alerts as alert_store

HERE = Path(__file__).parent


def prepare(workdir: Path, base: str) -> Path:
    """Copy the demo config into `workdir`, pointing it at the server and the work folder."""
    shutil.copytree(HERE / "config", workdir, dirs_exist_ok=True)
    for path in workdir.rglob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        path.write_text(
            text.replace("{{BASE}}", base).replace("{{DATA}}", str(workdir)), encoding="utf-8"
        )
    return workdir / "monitor.yaml"


def demo_env(env: dict[str, str] | os._Environ[str]) -> dict[str, str]:
    """The environment without the deployment's database: the demo writes only into its own
    folder, even where `MONITOR_DATABASE_URL` points at a production database (a container or
    a service's environment file sets it)."""
    return {k: v for k, v in env.items() if not k.startswith("MONITOR_DATABASE_URL")}


def run_demo(keep: str | None = None) -> int:
    started = time.monotonic()
    workdir = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="monitor-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        with serve(HERE / "site") as (base, _):
            path = prepare(workdir, base)
            config = config_mod.load(path, env=demo_env(os.environ))
            log.setup("error", "console")
            print(f"Serving the sample news site at {base}")
            print(
                f"Polling {len(config.settings.feeds)} feeds against "
                f"{sum(len(w.rules) for w in config.watchlists)} rules …\n"
            )
            polled, delivered = asyncio.run(once(config))
        store = Store.open(config.database_url)
        sent = alert_store.listing(store, status=AlertStatus.SENT, limit=1000)
        for row in reversed(sent):
            message = alert_store.message(store, row)
            print(render.subject(message, 300))
            print(f"    {message.source} · rules: {', '.join(message.rules)} · via {row.channel}")
            print(f"    {message.url}")
            if message.snippet:
                print(f"    “{message.snippet}”")
            others = [s for s in message.sources if s[1] != message.url]
            if others:
                print(f"    also reported by: {', '.join(sorted({s for s, _ in others}))}")
            print()
        store.close()
        print(
            f"{len(polled.feeds)} feeds, {polled.new_entries} articles read, "
            f"{len(sent)} alerts sent, in {time.monotonic() - started:.1f}s."
        )
        if keep:
            # Where the environment names another database, the commands would read that one.
            unset = "env -u MONITOR_DATABASE_URL " if "MONITOR_DATABASE_URL" in os.environ else ""
            print(
                f"The demo's config and database are in {workdir}; try:\n"
                f"  {unset}monitor feeds -c {path}\n  {unset}monitor alerts -c {path}\n"
                f"  {unset}monitor stories -c {path}"
            )
        return 0 if delivered.dead == 0 else 1
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


__all__ = ["prepare", "run_demo"]
