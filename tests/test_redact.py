"""redact: secrets out of texts, each shown as what may be shown in its place."""

from __future__ import annotations

from monitor.redact import Secrets, of_url, password_of, plain


def test_a_web_url_shows_its_origin_and_none_of_its_pieces() -> None:
    secrets = Secrets(of_url("https://hooks.slack.com/services/T0AB12CD/B0CD34EF/xyzXYZ123456"))
    assert secrets("POST https://hooks.slack.com/services/T0AB12CD/B0CD34EF/xyzXYZ123456: 404") == (
        "POST https://hooks.slack.com/***: 404"
    )
    # Pieces quoted alone (a far end echoing its path, a library quoting one segment).
    assert secrets("no hook at /services/T0AB12CD/B0CD34EF/xyzXYZ123456") == "no hook at ***"
    assert secrets("bad token xyzXYZ123456 for B0CD34EF") == "bad token *** for ***"
    assert secrets("see https://hooks.slack.com/help") == "see https://hooks.slack.com/help"


def test_query_values_passwords_and_encoded_forms_are_secrets() -> None:
    secrets = Secrets(of_url("http://user:p4ss%40word@e.org:8080/hook?token=abc%20def12&x=1"))
    assert secrets("to http://user:p4ss%40word@e.org:8080/hook?token=abc%20def12&x=1") == (
        "to http://e.org:8080/***"
    )
    assert secrets("token abc def12, password p4ss@word") == "token ***, password ***"
    assert Secrets(password_of("postgresql://u:s3cr3t-pw@db/x"))("auth s3cr3t-pw") == "auth ***"


def test_a_url_that_is_not_the_web_keeps_its_host_secret_too() -> None:
    """An Apprise URL holds its key where a host would be."""
    secrets = Secrets(of_url("tgram://123456:ABCdefGHI/987654321"))
    assert secrets("sent to tgram://123456:ABCdefGHI/987654321") == "sent to tgram://***"
    assert secrets("bot 123456:ABCdefGHI refused") == "bot *** refused"


def test_short_values_and_chosen_replacements() -> None:
    secrets = Secrets([("${FEED_KEY}-value", "${FEED_KEY}"), *plain("abc")])
    assert secrets("key=${FEED_KEY}-value, abc") == "key=${FEED_KEY}, abc"  # 3 letters: a word
    assert not Secrets() and Secrets()("text") == "text"


def test_adding_secrets_keeps_the_first_ones_and_leaves_the_original_as_it_was() -> None:
    """The web view's credentials join the config's secrets for the log and the pages."""
    config = Secrets(of_url("https://hooks.slack.com/services/T0AB12CD/B0CD34EF/xyzXYZ123456"))
    both = config.adding(plain("web-t0ken-value"))
    text = "token web-t0ken-value, hook /services/T0AB12CD/B0CD34EF/xyzXYZ123456"
    assert both(text) == "token ***, hook ***"
    assert config(text) == "token web-t0ken-value, hook ***"
