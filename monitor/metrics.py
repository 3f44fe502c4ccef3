"""metrics: Prometheus counters for what an operator watches (polls by result, new entries,
alerts queued and delivered, story lookup time), served at /metrics when `http.listen` is set."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

polls = Counter("monitor_feed_polls", "Feed polls by result", ["result"], registry=REGISTRY)
entries = Counter("monitor_entries_new", "New feed entries ingested", registry=REGISTRY)
alerts_queued = Counter("monitor_alerts_queued", "Alerts written to the outbox", registry=REGISTRY)
deliveries = Counter(
    "monitor_deliveries",
    "Delivery attempts by channel and result",
    ["channel", "result"],
    registry=REGISTRY,
)
poll_seconds = Histogram(
    "monitor_poll_cycle_seconds",
    "Duration of a poll cycle",
    registry=REGISTRY,
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300),
)
# Finding an article's story reads a bounded number of index rows and profiles, however many
# stories the window holds: this shows whether that stays true on a real store.
story_lookup_seconds = Histogram(
    "monitor_story_lookup_seconds",
    "Time to find an article's story (same-text, copy and candidate lookups, scoring)",
    registry=REGISTRY,
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1),
)
outbox = Gauge(
    "monitor_outbox_alerts", "Alerts in the outbox by status", ["status"], registry=REGISTRY
)
last_cycle = Gauge(
    "monitor_last_cycle_timestamp_seconds",
    "When each loop last completed",
    ["loop"],
    registry=REGISTRY,
)
