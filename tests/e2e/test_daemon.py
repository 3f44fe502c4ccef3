"""`monitor run` as systemd runs it: readiness, health, reloads, and a clean stop."""

from __future__ import annotations

import json
import re
import signal
import socket
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.e2e.proc import daemon, monitor_env, run_monitor, wait_for
from tests.e2e.test_once import write_config
from tests.servers import Answer, Receiver, Site


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


@pytest.mark.e2e
def test_run_notifies_serves_health_reloads_and_stops(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    site.serve(FIXTURES / "site")
    config = write_config(tmp_path, site, receiver)
    port = free_port()
    good = config.read_text().replace(
        "log: {format: json}",
        f'log: {{format: json}}\nhttp: {{listen: "127.0.0.1:{port}"}}\ndelivery: {{interval: 1s}}',
    )
    config.write_text(good)

    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    notify.settimeout(60)
    env = monitor_env(NOTIFY_SOCKET=str(tmp_path / "notify.sock"))

    def logged(event: str) -> bool:
        return any(f'"event": "{event}"' in line for line in list(lines))

    try:
        with daemon(config, cwd=tmp_path, env=env) as (proc, lines):
            assert notify.recv(100) == b"READY=1"
            wait_for("five alerts delivered", lambda: len(receiver.posts) == 5)
            base = f"http://127.0.0.1:{port}"
            wait_for("healthy", lambda: get(f"{base}/healthz")[0] == 200)
            assert get(f"{base}/readyz")[0] == 200
            sent = 'monitor_deliveries_total{channel="hook",result="sent"} 5.0'
            wait_for("the sends counted", lambda: sent in get(f"{base}/metrics")[1])
            exposed = get(f"{base}/metrics")[1]
            assert 'monitor_feed_polls_total{result="changed"} 4.0' in exposed
            # Every new article's story was looked up, and the time shows for an operator.
            found = re.search(r"^monitor_story_lookup_seconds_count (\S+)$", exposed, re.M)
            assert found and float(found.group(1)) >= 5
            # Every log line is one JSON object.
            assert not [line for line in list(lines) if line.strip() and not _json(line)]

            config.write_text(good.replace("fetch: {", "fetch: {timout: 3s, "))
            proc.send_signal(signal.SIGHUP)
            wait_for(
                "the bad config refused",
                lambda: logged("config reload refused; keeping the running config"),
            )
            assert proc.poll() is None

            config.write_text(good)
            proc.send_signal(signal.SIGHUP)
            wait_for("the config reloaded", lambda: logged("config reloaded"))

            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0
            assert notify.recv(100) == b"STOPPING=1"
            wait_for("the stop logged", lambda: logged("stopped"))
        assert len(receiver.posts) == 5, "nothing was sent twice"
    finally:
        notify.close()


def _json(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


@pytest.mark.e2e
def test_a_stop_during_a_poll_finishes_it_and_logs_only_json_and_no_error(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    site.serve(FIXTURES / "site")
    site.route("/feeds/broken.rss", Answer(200, b"<rss><channel></channel></rss>", delay=3))
    config = write_config(tmp_path, site, receiver)
    with daemon(config, cwd=tmp_path) as (proc, lines):
        wait_for("the slow feed asked for", lambda: bool(site.hits("/feeds/broken.rss")))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    events = [json.loads(line) for line in lines if line.strip()]  # each line is JSON
    assert [e["event"] for e in events if e["level"] in ("error", "critical")] == []
    assert events[-1]["event"] == "stopped"
    # The poll in hand was finished: the slow feed's answer was recorded, its lease given back.
    feeds = run_monitor("feeds", "-c", str(config), cwd=tmp_path)
    (row,) = [line for line in feeds.stdout.splitlines() if line.startswith("broken ")]
    assert " ok " in row and "(gone" not in row
