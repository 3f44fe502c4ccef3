"""The web view in a real browser: `monitor once` fills the store from the test feed server,
`monitor run` serves the view, and a headless Chromium (Debian's, driven by Selenium) reads
the stories, opens one, checks the highlighted evidence, mutes it, marks an alert, and runs a
backtest from the form, on a phone-sized screen. A screenshot of each page is saved in the
test's temporary folder."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser import chromium, missing
from tests.conftest import FIXTURES
from tests.e2e.proc import daemon, run_monitor, wait_for
from tests.e2e.test_daemon import free_port, get
from tests.e2e.test_once import write_config
from tests.servers import Answer, Receiver, Site

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(missing() is not None, reason=f"no browser to drive: {missing()}"),
]

HOSTILE_FEED = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Hostile wire</title><link>https://hostile.example/</link>
<item><guid>hostile-1</guid><link>https://hostile.example/a/1</link>
<title>&lt;script&gt;document.title='owned'&lt;/script&gt; Artillery offensive nears Mosul</title>
<description>Invented item for the tests. Commanders said the offensive on the eastern
districts of Mosul would resume at first light, after a pause for the wounded to be moved,
and residents were told to stay away from the river bridges while engineers cleared them.
The same paragraph goes on so that the feed counts as carrying its full text: long enough
that no page is fetched, and nothing else in it matters to the watchlist at all, which looks
only for the offensive near the city. More filler about the weather and the roads follows,
with lorries queuing at the checkpoints and shops opening late in the morning, and a market
crowded by noon, and the traffic police waving cars through the main square in the heat,
and a football match postponed until the weekend because the stadium was used as a depot,
and schools told to keep the children inside until the afternoon bell rang for the day.
</description></item></channel></rss>"""


def test_read_open_check_mute_mark_and_backtest_in_a_browser(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    site.serve(FIXTURES / "site")
    site.route("/feeds/broken.rss", Answer(500, b"upstream exploded"))
    site.route("/feeds/hostile.rss", Answer(200, HOSTILE_FEED, {"Content-Type": "text/xml"}))
    config = write_config(tmp_path, site, receiver)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    text = config.read_text().replace(
        "feeds:\n", f'feeds:\n  - {{name: hostile, url: "{site.url("/feeds/hostile.rss")}"}}\n'
    )
    config.write_text(
        text + f'http: {{listen: "127.0.0.1:{port}", public_url: "{base}"}}\n'
        "delivery: {interval: 1s}\n"
    )
    filled = run_monitor("once", "-c", str(config), cwd=tmp_path)
    assert filled.returncode == 0, filled.stderr
    bodies = [json.loads(p.body) for p in receiver.posts]
    assert len(bodies) == 6
    ramadi = next(b for b in bodies if "Ramadi" in b["title"])
    assert ramadi["story"]["url"] == f"{base}/stories/{ramadi['story']['id']}"

    shots = tmp_path / "screenshots"
    shots.mkdir()
    # In its own process group, killed whole if the test fails (`proc.daemon`).
    with daemon(config, cwd=tmp_path) as (proc, lines):
        wait_for("the web view", lambda: get(f"{base}/stories")[0] == 200)
        with chromium(tmp_path / "profile") as browser:
            browse(browser, base, ramadi, shots)
        proc.terminate()
        assert proc.wait(timeout=60) == 0, "".join(lines[-20:])
    assert len(receiver.posts) == 6, "muting and marking sent nothing"
    assert sorted(p.name for p in shots.iterdir()) == [
        "1-stories.png",
        "2-story.png",
        "3-muted.png",
        "4-rules.png",
        "5-feeds.png",
        "6-outbox.png",
        "7-backtest.png",
    ]


def browse(browser: object, base: str, ramadi: dict[str, object], shots: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement
    from selenium.webdriver.support.wait import WebDriverWait

    assert isinstance(browser, WebDriver)
    find, find_all = browser.find_element, browser.find_elements

    def click(element: WebElement) -> None:
        """Click, and wait for the next page to replace this one and finish loading. The old
        page is marked, not watched (`next_page_loaded`)."""
        browser.execute_script("window.monitorLeaving = true")
        element.click()
        WebDriverWait(browser, 60).until(next_page_loaded, "the next page never finished loading")

    # The story list: every alerted story, its reports, how they joined; feed text is text.
    browser.get(f"{base}/stories")
    browser.save_screenshot(str(shots / "1-stories.png"))
    titles = [e.text for e in find_all(By.CSS_SELECTOR, "article.card h2")]
    assert "Army launches offensive on IS holdouts north of Ramadi" in titles
    hostile = next(t for t in titles if "Artillery offensive" in t)
    assert hostile.startswith("<script>document.title='owned'</script>")
    assert browser.title == "Stories · monitor"  # the script in the title never ran
    assert not find_all(By.TAG_NAME, "script")
    # Nothing is wider than the phone's screen.
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 390

    # One story: the evidence, highlighted where it was found, and its delivery history.
    click(find(By.LINK_TEXT, "Army launches offensive on IS holdouts north of Ramadi"))
    assert browser.current_url == ramadi["story"]["url"]  # type: ignore[index]
    marked = {e.text for e in find_all(By.CSS_SELECTOR, "blockquote mark")}
    assert {"offensive", "Ramadi"} <= marked
    hits = find(By.CSS_SELECTOR, ".match").text
    assert "iraq-conflict / offensive matched" in hits
    alerts = find_all(By.CSS_SELECTOR, "section.alert")
    assert len(alerts) == 2  # the hook and the log channel
    assert all(
        "delivered in" in a.find_element(By.CSS_SELECTOR, "ol.attempts").text for a in alerts
    )
    browser.save_screenshot(str(shots / "2-story.png"))

    # Mute it, and mark its webhook alert irrelevant.
    click(find(By.CSS_SELECTOR, "form.mute button"))
    assert "muted" in find(By.CSS_SELECTOR, "form.mute").text
    assert find(By.CSS_SELECTOR, "form.mute button").text == "Unmute"
    hook = next(a for a in find_all(By.CSS_SELECTOR, "section.alert") if "→ hook" in a.text)
    click(hook.find_element(By.XPATH, ".//button[text()='Mark irrelevant']"))
    hook = next(a for a in find_all(By.CSS_SELECTOR, "section.alert") if "→ hook" in a.text)
    assert "marked irrelevant" in hook.text
    browser.save_screenshot(str(shots / "3-muted.png"))

    browser.get(f"{base}/rules")
    row = next(r for r in find_all(By.CSS_SELECTOR, "tbody tr") if "offensive" in r.text)
    assert row.find_elements(By.CSS_SELECTOR, "td.num")[1].text == "1"
    browser.save_screenshot(str(shots / "4-rules.png"))
    browser.get(f"{base}/feeds")
    broken = find(By.ID, "feed-broken").text
    assert "failing" in broken and "HTTP 500" in broken
    assert find(By.CSS_SELECTOR, "#feed-broken .kind").text == "feed"
    browser.save_screenshot(str(shots / "5-feeds.png"))
    browser.get(f"{base}/outbox")
    assert "sent (12)" in find(By.CSS_SELECTOR, "p.tabs").text
    browser.save_screenshot(str(shots / "6-outbox.png"))

    # A backtest from the form: a rule widened to any city near "artillery", pasted in.
    browser.get(f"{base}/backtest")
    find(By.ID, "yaml").send_keys(
        "version: 1\nname: trial\nchannels: [hook]\n"
        "rules: [{name: guns, query: 'artillery NEAR/20 (Mosul OR Ramadi)'}]\n"
    )
    find(By.ID, "since").clear()
    find(By.ID, "since").send_keys("1d")
    click(find(By.CSS_SELECTOR, "#backtest-form button[type=submit]"))
    result = find(By.ID, "result").text
    assert "trial: 1 story would alert" in result
    assert "+1 new" in result
    assert "Artillery offensive nears Mosul" in result
    browser.save_screenshot(str(shots / "7-backtest.png"))


# What chromedriver says of a page being torn down under a question about it (retried), and of
# a browser that is gone (raised at once: "session deleted because of page crash" may also say
# "cannot determine loading status", so a message with both is of a browser that is gone).
# A renderer slow to answer on a busy machine ("timed out receiving message from renderer")
# passes too: the page is still there, and the wait's own minute bounds it.
PASSING_DRIVER_ERRORS = (
    "inspector",
    "cannot determine loading status",
    "execution context",
    "receiving message from renderer",
)
GONE_DRIVER_ERRORS = ("session deleted", "not reachable", "crashed", "disconnected")


def next_page_loaded(browser: Any) -> bool:
    """Whether the page that replaced the one marked `window.monitorLeaving` has finished
    loading; False while the old one is being torn down, when chromedriver may answer "stale",
    a script error or an "inspector" error rather than the page's state: only those are
    retried. A lost browser (no session, not reachable, its tab crashed) raises at once, with
    its own message, rather than as a wait that times out a minute later."""
    from selenium.common.exceptions import (
        InvalidSessionIdException,
        JavascriptException,
        StaleElementReferenceException,
        WebDriverException,
    )

    try:
        return bool(
            browser.execute_script(
                "return !window.monitorLeaving && document.readyState === 'complete'"
            )
        )
    except WebDriverException as error:
        message = (error.msg or "").lower()
        passing = isinstance(error, (StaleElementReferenceException, JavascriptException)) or any(
            m in message for m in PASSING_DRIVER_ERRORS
        )
        gone = isinstance(error, InvalidSessionIdException) or any(
            m in message for m in GONE_DRIVER_ERRORS
        )
        if passing and not gone:
            return False
        raise


def test_a_browser_that_is_gone_fails_the_wait_at_once_with_its_own_error(tmp_path: Path) -> None:
    """The browser closed under chromedriver (as when it crashes): waiting for the next page
    raises the driver's error within seconds, not a timeout after the wait's minute."""
    from selenium.common.exceptions import TimeoutException, WebDriverException
    from selenium.webdriver.support.wait import WebDriverWait

    with chromium(tmp_path / "profile") as browser:
        browser.get("data:text/html,<p>leaving</p>")
        browser.execute_script("window.monitorLeaving = true")
        with contextlib.suppress(WebDriverException):  # it may not answer as it closes
            browser.execute_cdp_cmd("Browser.close", {})
        started = time.monotonic()
        with pytest.raises(WebDriverException) as raised:
            WebDriverWait(browser, 60).until(next_page_loaded)
    assert not isinstance(raised.value, TimeoutException), raised.value
    assert time.monotonic() - started < 20
