"""feedhealth: a feed's stored state → one word for people (`monitor feeds`, the web view).

A judgement, not a query, so it is not storage's; and not inside `monitor.pipeline`, whose
package loads every stage (clustering's libraries cost `monitor feeds` two seconds). The layers
contract puts it beside the pipeline.
"""

from __future__ import annotations

from datetime import datetime

from monitor.model import FeedStatus
from monitor.storage.feeds import FeedState

# A feed with no new entry for this long (or fifty of its intervals, if longer) is "silent".
SILENT_AFTER_S = 14 * 86400.0


def health(state: FeedState, now: datetime) -> str:
    """One word (and a number) for `monitor feeds` and the web view: ok, new, failing ×n,
    retired, removed, or silent when no new entry came for far longer than the feed's rhythm
    suggests."""
    if state.status in (FeedStatus.RETIRED, FeedStatus.REMOVED):
        return str(state.status)
    if state.error_count:
        return f"failing x{state.error_count}"
    if state.last_polled_at is None:
        return "new"
    since = state.last_new_entry_at or state.last_success_at
    quiet = max(SILENT_AFTER_S, state.interval_s * 50)
    if since is not None and (now - since).total_seconds() > quiet:
        return f"silent {int((now - since).total_seconds() // 86400)}d"
    return "ok"
