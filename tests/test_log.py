"""log: one JSON object per line in JSON mode, whoever logs (monitor, the libraries it uses, its
extraction workers), with secrets masked."""

from __future__ import annotations

import io
import json
import logging
import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

import pytest
import structlog

from monitor import log
from monitor.pipeline import extract


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    yield
    structlog.reset_defaults()
    log.setup("info", "console", stream=io.StringIO())  # leave no handler on a test's stream


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_library_records_are_json_lines_with_secrets_masked() -> None:
    stream = io.StringIO()
    log.setup("info", "json", secrets={"0f3c9e-secret"}, stream=stream)
    logging.getLogger("apscheduler.executors.default").warning(
        "Run time of job %s was missed", "poll 0f3c9e-secret"
    )
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("concurrent.futures").exception("worker failed")
    structlog.get_logger("monitor.daemon").info("monitor running", feeds=3)
    missed, failed, ours = lines(stream)
    assert missed["event"] == "Run time of job poll *** was missed"
    assert (missed["level"], missed["logger"]) == ("warning", "apscheduler.executors.default")
    assert "timestamp" in missed
    assert failed["level"] == "error" and "RuntimeError: boom" in str(failed["exception"])
    assert (ours["event"], ours["feeds"]) == ("monitor running", 3)


def test_a_tick_skipped_while_the_last_one_runs_is_not_a_warning() -> None:
    stream = io.StringIO()
    log.setup("info", "json", stream=stream)
    logging.getLogger("apscheduler.scheduler").warning(
        'Execution of job "Daemon._tick" skipped: maximum number of running instances reached (1)'
    )
    logging.getLogger("apscheduler.scheduler").warning("something else")
    assert [e["event"] for e in lines(stream)] == ["something else"]


def _warn_in_worker() -> int:
    logging.getLogger("trafilatura.core").critical("page 0f3c9e-secret unreadable")
    return 1


def test_extraction_workers_log_as_the_daemon_does(capfd: pytest.CaptureFixture[str]) -> None:
    log.setup("info", "json", secrets={"0f3c9e-secret"})
    # spawn, not the daemon's forkserver: a forkserver an earlier test started writes to the
    # stderr of that test, out of this one's reach.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        1, mp_context=context, initializer=extract.worker_init, initargs=(log.again(),)
    ) as pool:
        assert pool.submit(_warn_in_worker).result() == 1
    (line,) = [x for x in capfd.readouterr().err.splitlines() if x.strip()]
    event = json.loads(line)
    assert event["event"] == "page *** unreadable" and event["level"] == "critical"
