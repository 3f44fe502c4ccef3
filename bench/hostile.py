"""bench/hostile.py: what two attacks of issue #19 cost now, against a simple baseline.

  check     `monitor check` over a settings file of N feeds (default 100,000); baseline:
            libyaml loading the same file in a process of its own, the least any check must
            do. Before the fix, 20,000 feeds took 13.4 s and 150,000 more than
            120 s (a quadratic duplicate-name check).
  big feed  `monitor once` over one feed of N items (default 100,000; ~16 MB), which reads its
            newest `fetch.max_entries` (1,000); baseline: `monitor once` over a feed of just
            those 1,000 items. Before the fix, 100,000 items took 134 s and 1.6 GB. Also the
            same feed with a DOCTYPE, which sends it to feedparser (20 s of parsing before).

Each is one process started from this small one: its wall time, its CPU time (user + system)
and its peak resident memory.

    python bench/hostile.py [--feeds 100000] [--items 100000]

Prints a table, then one line of key=value figures. Data are generated (no real feed).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def settings_file(folder: Path, feeds: int) -> Path:
    (folder / "watchlists").mkdir(exist_ok=True)
    (folder / "watchlists" / "w.yaml").write_text(
        "version: 1\nname: w\nchannels: [log]\nrules:\n  - {name: r, query: offensive}\n"
    )
    lines = [
        f'  - {{name: feed-{i}, url: "https://news{i % 97}.example.org/feeds/{i}.xml"}}'
        for i in range(feeds)
    ]
    path = folder / "monitor.yaml"
    path.write_text("version: 1\nchannels: {log: {kind: log}}\nfeeds:\n" + "\n".join(lines) + "\n")
    return path


def measure(argv: list[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak MB of one process, started from this small one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["PYTHONPATH"] = str(ROOT)
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    assert proc.stderr is not None
    assert os.waitstatus_to_exitcode(status) == 0, proc.stderr.read().decode()
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def time_check(path: Path) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """`monitor check` of the file, and the baseline: libyaml loading it, nothing else."""
    check = measure([sys.executable, "-m", "monitor", "check", "-c", str(path)])
    load = f"import yaml; yaml.load(open({str(path)!r}).read(), Loader=yaml.CSafeLoader)"
    return check, measure([sys.executable, "-c", load])


def feed_body(items: int, doctype: bool = False) -> bytes:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    parts = [
        f"<item><title>T{i}</title><link>https://e.org/{i}</link>"
        f"<pubDate>{start + timedelta(minutes=i):%a, %d %b %Y %H:%M:%S +0000}</pubDate>"
        f"<description>Summary {i}</description></item>"
        for i in range(items)
    ]
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        + ("<!DOCTYPE rss>" if doctype else "")  # which sends it to feedparser
        + '<rss version="2.0"><channel><title>t</title>'
        + "".join(parts)
        + "</channel></rss>"
    ).encode()


class _Feed(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def time_once(
    folder: Path, items: int, doctype: bool = False
) -> tuple[tuple[float, float, float], int]:
    """`monitor once` over one feed of `items` items: wall, CPU, peak MB; and the feed's size."""
    _Feed.body = feed_body(items, doctype)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Feed)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    run = folder / f"once-{items}{'-doctype' if doctype else ''}"
    run.mkdir()
    (run / "watchlists").mkdir()
    (run / "watchlists" / "w.yaml").write_text(
        "version: 1\nname: w\nchannels: [log]\nrules:\n  - {name: r, query: offensive}\n"
    )
    (run / "monitor.yaml").write_text(
        f"version: 1\ndatabase: sqlite:///{run}/m.db\n"
        "fetch: {timeout: 300s, max_bytes: 20MB, fetch_pages: false}\n"
        f'feeds:\n  - {{name: big, url: "http://127.0.0.1:{server.server_port}/feed.xml"}}\n'
        "channels: {log: {kind: log}}\nlog: {level: warning}\n"
    )
    try:
        return measure(
            [sys.executable, "-m", "monitor", "once", "-c", str(run / "monitor.yaml")]
        ), len(_Feed.body)
    finally:
        server.shutdown()


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--feeds", type=int, default=100_000)
    args.add_argument("--items", type=int, default=100_000)
    options = args.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        check, baseline = time_check(settings_file(folder, options.feeds))
        big, big_bytes = time_once(folder, options.items)
        slow, _ = time_once(folder, options.items, doctype=True)
        small, _ = time_once(folder, min(1000, options.items))
    rows = [
        (f"check, {options.feeds:,} feeds", check),
        ("  baseline: libyaml load only", baseline),
        (f"once, {options.items:,} items ({big_bytes / 1e6:.1f} MB)", big),
        ("  the same with a DOCTYPE (feedparser)", slow),
        ("  baseline: once, 1,000 items", small),
    ]
    print(f"{'what':<36}{'wall s':>9}{'CPU s':>9}{'peak MB':>9}")
    for name, (wall, cpu, peak) in rows:
        print(f"{name:<36}{wall:>9.2f}{cpu:>9.2f}{peak:>9.0f}")
    print(
        f"feeds={options.feeds} check_s={check[0]:.2f} check_cpu_s={check[1]:.2f} "
        f"yaml_load_s={baseline[0]:.2f} check_ratio={check[1] / baseline[1]:.1f} "
        f"items={options.items} big_feed_s={big[0]:.2f} big_feed_cpu_s={big[1]:.2f} "
        f"big_feed_peak_mb={big[2]:.0f} feedparser_feed_cpu_s={slow[1]:.2f} "
        f"feedparser_feed_peak_mb={slow[2]:.0f} small_feed_s={small[0]:.2f} "
        f"small_feed_peak_mb={small[2]:.0f}"
    )


if __name__ == "__main__":
    main()
