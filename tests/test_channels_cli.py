"""`monitor test-channel`, `monitor channels` and the digest lines of `monitor alerts`."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import structlog

from monitor.cli import main
from monitor.storage import Store
from monitor.storage import digests as digest_store
from tests.mail import smtp_server
from tests.servers import Answer, Receiver


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()


def config(tmp: Path, channels: str) -> str:
    (tmp / "watchlists").mkdir(exist_ok=True)
    (tmp / "watchlists" / "w.yaml").write_text(
        "version: 1\nname: w\nchannels: [out]\nrules:\n  - {name: r, query: offensive}\n"
    )
    (tmp / "monitor.yaml").write_text(
        f"version: 1\ndatabase: sqlite:///{tmp}/m.db\nlog: {{format: json}}\nchannels:\n{channels}"
    )
    return str(tmp / "monitor.yaml")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_test_channel_reports_what_the_far_end_answered(
    tmp_path: Path, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    receiver.route("/hook", Answer(202, b'{"queued": true}'))
    path = config(
        tmp_path, f'  out: {{kind: webhook, url: "{receiver.url("/hook")}", digest: 1h}}\n'
    )
    code, out, _ = run(capsys, "test-channel", "-c", path, "out")
    assert code == 0
    assert "out (webhook, digest 1h): sending a sample high alert now" in out
    assert re.search(
        r'delivered in \d+ ms; the far end answered: HTTP 202: \{"queued": true\}', out
    )
    body = json.loads(receiver.posts[0].body)
    assert body["schema"] == "monitor.alert/1" and body["idempotency_key"].startswith("test-")

    code, out, _ = run(capsys, "test-channel", "-c", path, "out", "--digest")
    assert code == 0 and json.loads(receiver.posts[1].body)["schema"] == "monitor.digest/1"


def test_test_channel_failures_exit_1_with_the_answer_and_a_hint(
    tmp_path: Path, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    receiver.route("/hook", Answer(404, b"no such hook"))
    path = config(tmp_path, f'  out: {{kind: slack, url: "{receiver.url("/hook")}"}}\n')
    code, _, err = run(capsys, "test-channel", "-c", path, "out")
    assert code == 1
    assert "not delivered" in err and "out: HTTP 404: no such hook" in err
    assert "hint: the far end refused it for good" in err
    code, _, err = run(capsys, "test-channel", "-c", path, "nope")
    assert (
        code == 1
        and "no channel named 'nope'" in err
        and "hint: channels in the config: out" in err
    )


def test_test_channel_over_smtp(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with smtp_server(tmp_path, security="starttls", auth=("desk", "pw-123456")) as server:
        path = config(
            tmp_path,
            f"  out:\n    kind: email\n    host: 127.0.0.1\n    port: {server.port}\n"
            f"    username: desk\n    password: pw-123456\n    ca_file: {server.ca_file}\n"
            '    from: "monitor <alerts@monitor.test>"\n    to: [desk@example.org]\n',
        )
        code, out, _ = run(capsys, "test-channel", "-c", path, "out", "--severity", "critical")
        assert code == 0 and "the far end answered: SMTP 250 2.0.0 Ok: queued as M0001" in out
        (mail,) = server.mailbox.messages
    assert mail["Subject"].strip().startswith("[CRITICAL] Test alert from monitor")


def test_channels_lists_every_kind_with_its_keys(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "channels")
    assert code == 0
    for kind in ("log", "webhook", "email", "slack", "apprise"):
        assert re.search(rf"^{kind}: ", out, re.M)
    assert "  from: sender" in out and "  password: for SMTP AUTH (default None, secret)" in out
    assert "  digest: combine alerts into one message" in out
    assert "  min_severity: alerts below this are not sent here (default 'low')" in out


def test_alerts_shows_waiting_digests_and_notices(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config(tmp_path, "  out: {kind: log}\n")
    store = Store.open(f"sqlite:///{tmp_path}/m.db")
    digest_store.notice(
        store, "out", "channel hook failing for 15 min", "…", "high", datetime.now(UTC)
    )
    store.close()
    code, out, _ = run(capsys, "alerts", "-c", path)
    assert code == 0 and out.splitlines()[0] == "0 pending, 0 sent, 0 dead"
    assert re.search(
        r"^digest 1 \(out, notice\): notice: channel hook failing for 15 min, due ", out, re.M
    )
